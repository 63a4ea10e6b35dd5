#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HeraldJSON

/// Renders an entity's API shape straight from its compact stored form (`Entity+Storage.swift`) without building
/// an `Entity`: the bytes `Entity.render(into:)` writes for the decoded entity, byte for byte.
///
/// Delivery renders every queued snapshot; decoding one into an `Entity` (a `String` per id, value and URI part, an
/// array per attribute) was about a third of a SNAPSHOT message's cost, and rendering it escaped every string again.
/// Here one pass over the stored bytes finds each string's escaped content and copies it into the output: the stored
/// form is written by the same `JSONWriter`, so a string's escaped form there is its escaped form in the output.
///
/// It takes only the exact form this version writes: the members in `encodeStored`'s order, strings without escape
/// sequences or control characters, integers as `readInt64` reads them without its general path, values as
/// `[id, text or {sub-attributes}, 0 or 1, [sources]]` and sub-values one level deep. For anything else it writes
/// nothing and returns nil, and the caller decodes the entity (which also reports what is wrong).
///
/// Not thread-safe: one per renderer (it reuses its buffers, and copies of it share its output memory).
public struct StoredEntityRenderer {
    /// Byte offsets of a string's content (without the quotes) or of an integer's digits in the stored bytes.
    @usableFromInline
    struct Span: Sendable {
        var start: Int
        var end: Int
    }

    /// A top-level value, kept for the crosswalks' `attributes` lists and for a derived delta.
    struct ValueRef: Sendable {
        var name: Span
        var id: Span
        var sources: Range<Int>  // into `sourceSpans`
        var subs: Range<Int>  // into `subRefs`
        var ov: Bool
        /// The text of a simple value; nil for a nested one (its sub-attributes are `groups`).
        var text: Span?
        var groups: Range<Int>  // into `groupRefs`
    }

    /// A sub-attribute of a nested value: its name and its entries (into `subRefs`).
    struct GroupRef: Sendable {
        var name: Span
        var entries: Range<Int>
    }

    /// A crosswalk, kept for a derived delta.
    struct CrosswalkRef: Sendable {
        var id: Span
        var type: Span
        var value: Span
        var table: Span?
    }

    /// A sub-value of a nested value.
    struct SubRef: Sendable {
        var name: Span
        var id: Span
        var text: Span
        var ov: Bool
    }

    /// The renderer's own output memory: the entity's members are written here with plain copies (an
    /// `Array.append(contentsOf:)` per piece, ~25 pieces per value, cost more than the copying) and handed to the
    /// `JSONWriter` in one append.
    final class OutputBuffer {
        var base: UnsafeMutablePointer<UInt8>
        var capacity: Int

        init() {
            capacity = 16 << 10
            base = .allocate(capacity: capacity)
        }

        deinit { base.deallocate() }
    }

    /// Appends into an `OutputBuffer`'s memory, or into the spare capacity of the writer's bytes (`borrowed`), held
    /// in locals while a render runs.
    struct Out {
        var base: UnsafeMutablePointer<UInt8>
        var capacity: Int
        var count = 0
        /// Whether the next top-level member needs a comma (the selection path's header).
        var needsComma = false
        /// Whether `base` is memory this `Out` does not own (the writer's): growing then copies into memory it owns
        /// and leaves `base` alone.
        var borrowed = false

        @inline(__always)
        mutating func append(_ b: UnsafeBufferPointer<UInt8>) {
            let n = b.count
            guard n > 0 else { return }
            if _slowPath(count &+ n > capacity) { grow(n) }
            let to = UnsafeMutableRawPointer(base + count)
            let from = UnsafeRawPointer(b.baseAddress!)
            // Most pieces are a few bytes (ids, names, fixed tokens): two overlapping 8-byte moves, or bytes, instead
            // of a call to memmove each (the calls were ~10% of rendering).
            if n <= 16 {
                if n >= 8 {
                    to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
                    (to + (n - 8)).storeBytes(of: (from + (n - 8)).loadUnaligned(as: UInt64.self), as: UInt64.self)
                } else {
                    for k in 0..<n { to.storeBytes(of: from.load(fromByteOffset: k, as: UInt8.self), toByteOffset: k, as: UInt8.self) }
                }
            } else {
                to.copyMemory(from: from, byteCount: n)
            }
            count &+= n
        }

        @inline(__always)
        mutating func append(_ text: StaticString) {
            append(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }

        mutating func grow(_ n: Int) {
            var c = capacity * 2
            while count + n > c { c *= 2 }
            let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            fresh.update(from: base, count: count)
            if borrowed { borrowed = false } else { base.deallocate() }
            base = fresh
            capacity = c
        }

        /// `"name":` as a member of the entity object, with the comma before it when one is due.
        mutating func member(_ name: StaticString) {
            if needsComma { append(",") }
            append("\"")
            append(name)
            append("\":")
            needsComma = true
        }
    }

    private let output = OutputBuffer()
    /// How many output bytes per stored byte to make room for in the writer: the last render's ratio plus 2 (8 at
    /// first). The writer's bytes become the message body with their capacity, so the room follows the entities
    /// rendered rather than staying at the largest ratio ever seen.
    private(set) var expansion = 8
    private var values: [ValueRef] = []
    private var sourceSpans: [Span] = []
    private var subRefs: [SubRef] = []
    /// The sub-attributes of the nested values.
    private var groupRefs: [GroupRef] = []
    private var crosswalkRefs: [CrosswalkRef] = []
    /// The bytes the last `render` or `check` read to the end (their address and length) and what it learned: the
    /// spans above describe them.
    private var lastRead: (base: UnsafeRawPointer?, count: Int, rendered: Rendered)?
    /// The crosswalks' source names for a derived delta, found once per pass when first asked (`sourceNames`):
    /// `.some(nil)` when a crosswalk type is not ASCII.
    private var names: [Span]??

    public init() {}

    /// What the render learned on the way.
    public struct Rendered: Sendable {
        /// Whether any top-level value is operational: the `ovChanged` of a creation or a removal
        /// (`EventDelta.ovChanged`).
        public var anyOperationalValue: Bool
        /// Where the entity type URI is in the stored bytes (its escaped content, which has no escapes): the
        /// DELTAS payload's `object.type`.
        public var typeRange: Range<Int>
    }

    /// Which parts to write: `EntityRenderOptions` without sub-attribute selections (`attributes.X.Y`), which
    /// this renderer does not take.
    public struct Selection: Sendable {
        /// Top-level fields to keep; nil keeps all.
        var fields: Set<String>?
        /// Attributes to keep (UTF-8 names); nil keeps all.
        var attributeNames: [[UInt8]]?
        var ovOnly: Bool
        /// Everything (`Entity.render(into:)`): the header is written without per-field checks.
        var isAll: Bool

        /// Nil for options that select sub-attributes.
        public init?(_ options: EntityRenderOptions) {
            guard options.subAttributes.isEmpty else { return nil }
            fields = options.fields
            attributeNames = options.attributes.map { $0.map { Array($0.utf8) } }
            ovOnly = options.ovOnly
            isAll = options == .all
        }

        public static let all = Selection(.all)!

        func wants(_ field: String) -> Bool { fields?.contains(field) ?? true }
    }

    /// Appends the API shape of the stored entity `stored` to `writer`, as `Entity(storedBytes:).render(into:)`
    /// (or, with a selection, `render(into:options:)`) would; nil (and nothing written) when the bytes are not in
    /// the exact form described above.
    public mutating func render(stored: [UInt8], selection: Selection = .all, into writer: inout JSONWriter) -> Rendered? {
        stored.withUnsafeBufferPointer { render(stored: $0, selection: selection, into: &writer) }
    }

    /// Reads the stored entity as `render` does, writing nothing: whether it is in the form this renderer takes
    /// (then it decodes too) and what `Rendered` says about it.
    public mutating func check(stored: [UInt8]) -> Rendered? {
        stored.withUnsafeBufferPointer { check(stored: $0) }
    }

    /// As `check(stored:)`, from borrowed bytes.
    public mutating func check(stored: UnsafeBufferPointer<UInt8>) -> Rendered? {
        var none = JSONWriter(capacity: 0)
        return render(stored: stored, selection: .all, into: &none, emit: false)
    }

    /// As `render(stored:selection:into:)`, from borrowed bytes.
    public mutating func render(
        stored: UnsafeBufferPointer<UInt8>, selection: Selection = .all, into writer: inout JSONWriter
    ) -> Rendered? {
        render(stored: stored, selection: selection, into: &writer, emit: true)
    }

    private mutating func render(
        stored: UnsafeBufferPointer<UInt8>, selection: Selection, into writer: inout JSONWriter, emit: Bool
    ) -> Rendered? {
        values.removeAll(keepingCapacity: true)
        sourceSpans.removeAll(keepingCapacity: true)
        subRefs.removeAll(keepingCapacity: true)
        groupRefs.removeAll(keepingCapacity: true)
        crosswalkRefs.removeAll(keepingCapacity: true)
        lastRead = nil
        names = nil
        guard emit else {
            var c = Cursor(p: stored)
            var o = Out(base: output.base, capacity: output.capacity)
            let rendered = c.render(into: &o, selection, &self)
            output.base = o.base
            output.capacity = o.capacity
            if let rendered { lastRead = (UnsafeRawPointer(stored.baseAddress), stored.count, rendered) }
            return rendered
        }
        // The members go straight into the spare capacity of the writer's bytes, between the braces
        // (`beginObject`/`endObject` keep its comma state right). A render that outgrows the room made goes on in
        // memory of its own, copied in at the end (and the next render makes more room). Nothing stays written
        // when the render gives up.
        let start = writer.mark
        writer.beginObject()
        let membersStart = writer.bytes.count
        var rendered: Rendered?
        var spilled: Out?
        let room = max(4096, stored.count &* expansion)
        writer.bytes.append(addingCapacity: room) { span in
            span.withUnsafeMutableBufferPointer { buffer, initialized in
                var o = Out(base: buffer.baseAddress!, capacity: buffer.count)
                o.borrowed = true
                var c = Cursor(p: stored)
                rendered = c.render(into: &o, selection, &self)
                if !o.borrowed {
                    spilled = o
                } else if rendered != nil {
                    initialized = o.count
                }
            }
        }
        if let s = spilled {
            if rendered != nil { writer.fragment(UnsafeBufferPointer(start: s.base, count: s.count)) }
            // The memory it grew into becomes the renderer's own (for `check` and derived deltas).
            output.base.deallocate()
            output.base = s.base
            output.capacity = s.capacity
        }
        guard let rendered else {
            writer.rewind(to: start)
            return nil
        }
        expansion = min(64, (writer.bytes.count - membersStart) / max(1, stored.count) + 2)
        lastRead = (UnsafeRawPointer(stored.baseAddress), stored.count, rendered)
        writer.endObject()
        return rendered
    }

    /// The pass over the stored bytes. Each step returns nil (give up) on anything unexpected.
    struct Cursor {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0

        init(p: UnsafeBufferPointer<UInt8>) { self.p = p }

        @inline(__always)
        mutating func take(_ c: UInt8) -> Bool {
            guard i < p.count, p[i] == c else { return false }
            i += 1
            return true
        }

        @inline(__always)
        func peek(_ c: UInt8) -> Bool { i < p.count && p[i] == c }

        /// A string without escapes or control characters: its content's span.
        @inline(__always)
        mutating func string() -> Span? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var j = i
            // Runs of plain ASCII eight bytes at a time; a short string usually ends inside the first word.
            j = JSONPlainRun.end(p.baseAddress!, from: j, to: p.count)
            var ascii = true
            while j < p.count {
                let c = p[j]
                if c == UInt8(ascii: "\"") {
                    // The decoder refuses invalid UTF-8, so this must too.
                    guard ascii || Cursor.validUTF8(UnsafeBufferPointer(rebasing: p[i..<j])) else { return nil }
                    let span = Span(start: i, end: j)
                    i = j + 1
                    return span
                }
                if c == UInt8(ascii: "\\") || c < 0x20 { return nil }
                if c >= 0x80 { ascii = false }
                j += 1
            }
            return nil
        }

        /// Whether `b` is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
        static func validUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
            var i = 0
            let n = b.count
            @inline(__always) func continuation(_ k: Int) -> Bool { k < n && b[k] & 0xC0 == 0x80 }
            while i < n {
                let c = b[i]
                if c < 0x80 {
                    i += 1
                } else if c < 0xC2 {
                    return false
                } else if c < 0xE0 {
                    guard continuation(i + 1) else { return false }
                    i += 2
                } else if c < 0xF0 {
                    guard i + 1 < n else { return false }
                    let c1 = b[i + 1]
                    let low: UInt8 = c == 0xE0 ? 0xA0 : 0x80
                    let high: UInt8 = c == 0xED ? 0x9F : 0xBF
                    guard c1 >= low, c1 <= high, continuation(i + 2) else { return false }
                    i += 3
                } else if c < 0xF5 {
                    guard i + 1 < n else { return false }
                    let c1 = b[i + 1]
                    let low: UInt8 = c == 0xF0 ? 0x90 : 0x80
                    let high: UInt8 = c == 0xF4 ? 0x8F : 0xBF
                    guard c1 >= low, c1 <= high, continuation(i + 2), continuation(i + 3) else { return false }
                    i += 4
                } else {
                    return false
                }
            }
            return true
        }

        /// An integer in the form `readInt64` reads on its fast path: 1 to 18 digits, no leading zero.
        @inline(__always)
        mutating func integer() -> Span? {
            let start = i
            while i < p.count, p[i] &- UInt8(ascii: "0") <= 9 { i += 1 }
            let n = i - start
            guard n >= 1, n <= 18, n == 1 || p[start] != UInt8(ascii: "0") else { return nil }
            if i < p.count, p[i] == UInt8(ascii: ".") || p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") { return nil }
            return Span(start: start, end: i)
        }

        /// `0` or `1` (a value's `ov`).
        @inline(__always)
        mutating func flag() -> Bool? {
            guard i + 1 < p.count else { return nil }
            let d = p[i]
            let next = p[i + 1]
            guard d == UInt8(ascii: "0") || d == UInt8(ascii: "1"), next == UInt8(ascii: ",") || next == UInt8(ascii: "]")
            else { return nil }
            i += 1
            return d == UInt8(ascii: "1")
        }

        /// `"name":` for one of the stored form's fixed member names.
        @inline(__always)
        mutating func key(_ name: StaticString) -> Bool {
            let n = name.utf8CodeUnitCount
            guard i + n + 3 <= p.count, p[i] == UInt8(ascii: "\""), p[i + n + 1] == UInt8(ascii: "\""),
                p[i + n + 2] == UInt8(ascii: ":"), memcmp(p.baseAddress! + i + 1, name.utf8Start, n) == 0
            else { return false }
            i += n + 3
            return true
        }

        /// `"name":"…"` as a member of the entity object.
        func stringMember(_ name: StaticString, _ value: Span, into w: inout Out) {
            w.member(name)
            w.append("\"")
            w.append(bytes(value))
            w.append("\"")
        }

        /// Whether the attribute `name` is among those selected.
        func selected(_ name: Span, _ selection: Selection) -> Bool {
            guard let names = selection.attributeNames else { return true }
            let n = name.end - name.start
            for candidate in names where candidate.count == n {
                if n == 0 || candidate.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p.baseAddress! + name.start, n) }) == 0 {
                    return true
                }
            }
            return false
        }

        func bytes(_ s: Span) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: p[s.start..<s.end])
        }

        func same(_ a: Span, _ b: Span) -> Bool {
            let n = a.end - a.start
            return n == b.end - b.start && (n == 0 || memcmp(p.baseAddress! + a.start, p.baseAddress! + b.start, n) == 0)
        }

        mutating func render(into w: inout Out, _ selection: Selection, _ state: inout StoredEntityRenderer) -> Rendered? {
            // {"v":1,"id":…,"t":…,("s":…,"e":…,)"cb":…,"ct":…,"ub":…,"ut":…,"a":{…},"c":[…]}
            guard take(UInt8(ascii: "{")), key("v"), take(UInt8(ascii: "1")), take(UInt8(ascii: ",")),
                key("id"), let id = string(), take(UInt8(ascii: ",")), key("t"), let type = string(),
                take(UInt8(ascii: ","))
            else { return nil }
            var endpoints: (Span, Span)?
            if key("s") {
                guard let s = string(), take(UInt8(ascii: ",")), key("e"), let e = string(), take(UInt8(ascii: ","))
                else { return nil }
                endpoints = (s, e)
            }
            guard key("cb"), let createdBy = string(), take(UInt8(ascii: ",")), key("ct"), let createdTime = integer(),
                take(UInt8(ascii: ",")), key("ub"), let updatedBy = string(), take(UInt8(ascii: ",")), key("ut"),
                let updatedTime = integer(), take(UInt8(ascii: ",")), key("a"), take(UInt8(ascii: "{"))
            else { return nil }

            // The members only: the caller's JSONWriter writes the braces.
            let uriPrefix: StaticString = endpoints == nil ? "entities/" : "relations/"
            if selection.isAll {
                w.append(#""uri":""#)
                w.append(uriPrefix)
                w.append(bytes(id))
                w.append(#"","type":""#)
                w.append(bytes(type))
                w.append(#"""#)
                if let (s, e) = endpoints {
                    w.append(#","startObject":{"objectURI":"entities/"#)
                    w.append(bytes(s))
                    w.append(#""},"endObject":{"objectURI":"entities/"#)
                    w.append(bytes(e))
                    w.append(#""}"#)
                }
                w.append(#","createdBy":""#)
                w.append(bytes(createdBy))
                w.append(#"","createdTime":"#)
                w.append(bytes(createdTime))
                w.append(#","updatedBy":""#)
                w.append(bytes(updatedBy))
                w.append(#"","updatedTime":"#)
                w.append(bytes(updatedTime))
                w.append(#","attributes":{"#)
            } else {
                // As `Entity.render(into:options:)`: the fields asked for, the endpoints always.
                if selection.wants("uri") {
                    w.member("uri")
                    w.append("\"")
                    w.append(uriPrefix)
                    w.append(bytes(id))
                    w.append("\"")
                }
                if selection.wants("type") { stringMember("type", type, into: &w) }
                if let (s, e) = endpoints {
                    w.member("startObject")
                    w.append(#"{"objectURI":"entities/"#)
                    w.append(bytes(s))
                    w.append(#""}"#)
                    w.member("endObject")
                    w.append(#"{"objectURI":"entities/"#)
                    w.append(bytes(e))
                    w.append(#""}"#)
                }
                if selection.wants("createdBy") { stringMember("createdBy", createdBy, into: &w) }
                if selection.wants("createdTime") {
                    w.member("createdTime")
                    w.append(bytes(createdTime))
                }
                if selection.wants("updatedBy") { stringMember("updatedBy", updatedBy, into: &w) }
                if selection.wants("updatedTime") {
                    w.member("updatedTime")
                    w.append(bytes(updatedTime))
                }
            }
            // Without "attributes" they are still read (the crosswalks list their values) and then dropped.
            let beforeAttributes = (count: w.count, needsComma: w.needsComma)
            if !selection.isAll {
                w.member("attributes")
                w.append("{")
            }

            // Attributes: "Name":[[id, text or {…}, ov, [sources]], …], …
            var anyOV = false
            var firstAttribute = true
            if !take(UInt8(ascii: "}")) {
                repeat {
                    guard let name = string(), take(UInt8(ascii: ":")), take(UInt8(ascii: "[")) else { return nil }
                    let attributeMark = w.count
                    if !firstAttribute { w.append(",") }
                    w.append("\"")
                    w.append(bytes(name))
                    w.append("\":[")
                    var written = 0
                    if !take(UInt8(ascii: "]")) {
                        repeat {
                            let valueMark = w.count
                            if written > 0 { w.append(",") }
                            guard let ov = value(name: name, type: type, id: id, uriPrefix: uriPrefix, into: &w, &state)
                            else { return nil }
                            if ov { anyOV = true }
                            if selection.ovOnly && !ov { w.count = valueMark } else { written += 1 }
                        } while take(UInt8(ascii: ","))
                        guard take(UInt8(ascii: "]")) else { return nil }
                    }
                    w.append("]")
                    if selection.ovOnly && written == 0 || !selected(name, selection) {
                        w.count = attributeMark
                    } else {
                        firstAttribute = false
                    }
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            if selection.wants("attributes") {
                w.append("}")
            } else {
                (w.count, w.needsComma) = beforeAttributes
            }

            // Crosswalks: [[id, type, value, sourceTable or null, createDate, updateDate], …]
            guard take(UInt8(ascii: ",")), key("c"), take(UInt8(ascii: "[")) else { return nil }
            let beforeCrosswalks = w.count
            if selection.isAll {
                w.append(#","crosswalks":["#)
            } else {
                w.member("crosswalks")
                w.append("[")
            }
            var firstCrosswalk = true
            if !take(UInt8(ascii: "]")) {
                repeat {
                    guard take(UInt8(ascii: "[")), let cid = string(), take(UInt8(ascii: ",")), let ctype = string(),
                        take(UInt8(ascii: ",")), let cvalue = string(), take(UInt8(ascii: ","))
                    else { return nil }
                    var table: Span?
                    if peek(UInt8(ascii: "n")) {
                        guard i + 4 <= p.count, memcmp(p.baseAddress! + i, "null", 4) == 0 else { return nil }
                        i += 4
                    } else {
                        guard let t = string() else { return nil }
                        table = t
                    }
                    guard take(UInt8(ascii: ",")), let created = integer(), take(UInt8(ascii: ",")),
                        let updated = integer(), take(UInt8(ascii: "]"))
                    else { return nil }
                    state.crosswalkRefs.append(CrosswalkRef(id: cid, type: ctype, value: cvalue, table: table))
                    if !firstCrosswalk { w.append(",") }
                    firstCrosswalk = false
                    w.append(#"{"uri":""#)
                    w.append(uriPrefix)
                    w.append(bytes(id))
                    w.append("/crosswalks/")
                    w.append(bytes(cid))
                    w.append(#"","type":""#)
                    w.append(bytes(ctype))
                    w.append(#"","value":""#)
                    w.append(bytes(cvalue))
                    w.append("\"")
                    if let table {
                        w.append(#","sourceTable":""#)
                        w.append(bytes(table))
                        w.append("\"")
                    }
                    w.append(#","createDate":"#)
                    w.append(bytes(created))
                    w.append(#","updateDate":"#)
                    w.append(bytes(updated))
                    w.append(#","attributes":["#)
                    var firstURI = true
                    for v in state.values where state.sourceSpans[v.sources].contains(where: { same($0, cid) }) {
                        if !firstURI { w.append(",") }
                        firstURI = false
                        valueURI(uriPrefix, id, v.name, v.id, into: &w)
                        w.append("\"")
                        for s in state.subRefs[v.subs] {
                            w.append(",")
                            valueURI(uriPrefix, id, v.name, v.id, into: &w)
                            w.append("/")
                            w.append(bytes(s.name))
                            w.append("/")
                            w.append(bytes(s.id))
                            w.append("\"")
                        }
                    }
                    w.append("]}")
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "]")) else { return nil }
            }
            guard take(UInt8(ascii: "}")), i == p.count else { return nil }
            if selection.wants("crosswalks") {
                w.append("]")
            } else {
                w.count = beforeCrosswalks
            }
            return Rendered(anyOperationalValue: anyOV, typeRange: type.start..<type.end)
        }

        /// `"{uriPrefix}{id}/attributes/{name}/{valueId}` (an open string).
        @inline(__always)
        func valueURI(_ uriPrefix: StaticString, _ id: Span, _ name: Span, _ valueId: Span, into w: inout Out) {
            w.append("\"")
            w.append(uriPrefix)
            w.append(bytes(id))
            w.append("/attributes/")
            w.append(bytes(name))
            w.append("/")
            w.append(bytes(valueId))
        }

        /// One top-level value `[id, text or {…}, ov, [sources]]` as `{"type","ov","value","uri"}`; its `ov`.
        mutating func value(
            name: Span, type: Span, id: Span, uriPrefix: StaticString, into w: inout Out,
            _ state: inout StoredEntityRenderer
        ) -> Bool? {
            guard take(UInt8(ascii: "[")), let vid = string(), take(UInt8(ascii: ",")) else { return nil }
            let subsStart = state.subRefs.count
            w.append(#"{"type":""#)
            w.append(bytes(type))
            w.append("/attributes/")
            w.append(bytes(name))
            w.append(#"","ov":"#)
            // The flag comes after the content in the stored form and before it in the output: the content's spans
            // are read first.
            if peek(UInt8(ascii: "\"")) {
                guard let text = string(), take(UInt8(ascii: ",")), let ov = flag() else { return nil }
                w.append(ov ? "true" : "false")
                w.append(#","value":""#)
                w.append(bytes(text))
                w.append(#"","uri":"#)
                return finishValue(
                    ov: ov, text: text, name: name, vid: vid, id: id, uriPrefix: uriPrefix, subsStart: subsStart,
                    groupsStart: state.groupRefs.count, into: &w, &state)
            }
            // Nested: {"Sub":[[sid,"text",ov],…],…}, one level deep.
            guard take(UInt8(ascii: "{")) else { return nil }
            let groupsStart = state.groupRefs.count
            if !take(UInt8(ascii: "}")) {
                repeat {
                    guard let subName = string(), take(UInt8(ascii: ":")), take(UInt8(ascii: "[")) else { return nil }
                    let groupStart = state.subRefs.count
                    if !take(UInt8(ascii: "]")) {
                        repeat {
                            guard take(UInt8(ascii: "[")), let sid = string(), take(UInt8(ascii: ",")), let text = string(),
                                take(UInt8(ascii: ",")), let ov = flag()
                            else { return nil }
                            if take(UInt8(ascii: ",")) {
                                // Sources on a sub-value: read past them (nothing renders them).
                                guard take(UInt8(ascii: "[")) else { return nil }
                                if !take(UInt8(ascii: "]")) {
                                    repeat { guard string() != nil else { return nil } } while take(UInt8(ascii: ","))
                                    guard take(UInt8(ascii: "]")) else { return nil }
                                }
                            }
                            guard take(UInt8(ascii: "]")) else { return nil }
                            state.subRefs.append(SubRef(name: subName, id: sid, text: text, ov: ov))
                        } while take(UInt8(ascii: ","))
                        guard take(UInt8(ascii: "]")) else { return nil }
                    }
                    state.groupRefs.append(GroupRef(name: subName, entries: groupStart..<state.subRefs.count))
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            guard take(UInt8(ascii: ",")), let ov = flag() else { return nil }
            w.append(ov ? "true" : "false")
            w.append(#","value":{"#)
            for g in groupsStart..<state.groupRefs.count {
                if g > groupsStart { w.append(",") }
                let group = state.groupRefs[g]
                w.append("\"")
                w.append(bytes(group.name))
                w.append("\":[")
                for k in group.entries {
                    let sub = state.subRefs[k]
                    if k > group.entries.lowerBound { w.append(",") }
                    w.append(#"{"type":""#)
                    w.append(bytes(type))
                    w.append("/attributes/")
                    w.append(bytes(name))
                    w.append("/attributes/")
                    w.append(bytes(sub.name))
                    w.append(#"","ov":"#)
                    w.append(sub.ov ? "true" : "false")
                    w.append(#","value":""#)
                    w.append(bytes(sub.text))
                    w.append(#"","uri":"#)
                    valueURI(uriPrefix, id, name, vid, into: &w)
                    w.append("/")
                    w.append(bytes(sub.name))
                    w.append("/")
                    w.append(bytes(sub.id))
                    w.append(#""}"#)
                }
                w.append("]")
            }
            w.append(#"},"uri":"#)
            return finishValue(
                ov: ov, text: nil, name: name, vid: vid, id: id, uriPrefix: uriPrefix, subsStart: subsStart,
                groupsStart: groupsStart, into: &w, &state)
        }

        /// After the flag and the content: the sources, `"uri"` and the closing; records the value for the crosswalks.
        @inline(__always)
        mutating func finishValue(
            ov: Bool, text: Span?, name: Span, vid: Span, id: Span, uriPrefix: StaticString, subsStart: Int,
            groupsStart: Int, into w: inout Out, _ state: inout StoredEntityRenderer
        ) -> Bool? {
            let sourcesStart = state.sourceSpans.count
            if take(UInt8(ascii: ",")) {
                guard take(UInt8(ascii: "[")) else { return nil }
                if !take(UInt8(ascii: "]")) {
                    repeat {
                        guard let s = string() else { return nil }
                        state.sourceSpans.append(s)
                    } while take(UInt8(ascii: ","))
                    guard take(UInt8(ascii: "]")) else { return nil }
                }
            }
            guard take(UInt8(ascii: "]")) else { return nil }
            valueURI(uriPrefix, id, name, vid, into: &w)
            w.append(#""}"#)
            state.values.append(
                ValueRef(
                    name: name, id: vid, sources: sourcesStart..<state.sourceSpans.count, subs: subsStart..<state.subRefs.count,
                    ov: ov, text: text, groups: groupsStart..<state.groupRefs.count))
            return ov
        }
    }
}

extension StoredEntityRenderer {
    /// Writes the delta of a creation (`added`) or a removal of the stored entity the last `render` or `check` read:
    /// what `Delta.renderDerived(from:added:into:entityType:)` writes for the decoded entity (every value
    /// `ATTRIBUTE_ADDED`/`_REMOVED` with its sources' names, then every crosswalk), from the spans that pass kept.
    ///
    /// False, and nothing written, when that pass was not of these bytes (or did not take them), or when a crosswalk
    /// type is not ASCII: a source's name is the part after the type's last `/` as a `Character` search finds it, which
    /// a byte search matches only for ASCII.
    public mutating func renderDerivedDelta(stored: [UInt8], added: Bool, into writer: inout JSONWriter) -> Bool {
        stored.withUnsafeBufferPointer { renderDerivedDelta(stored: $0, added: added, into: &writer) }
    }

    /// Whether `renderDerivedDelta` will write the delta of these bytes (it is called before anything is written).
    public mutating func rendersDerivedDelta(stored: [UInt8]) -> Bool {
        stored.withUnsafeBufferPointer { p in
            guard let last = lastRead, last.base == UnsafeRawPointer(p.baseAddress), last.count == p.count else { return false }
            return sourceNames(p) != nil
        }
    }

    /// Each crosswalk's source name (its type after the last '/'); nil when a type is not ASCII. Found once per pass.
    private mutating func sourceNames(_ p: UnsafeBufferPointer<UInt8>) -> [Span]? {
        if let known = names { return known }
        var found: [Span]? = []
        found?.reserveCapacity(crosswalkRefs.count)
        scan: for c in crosswalkRefs {
            var slash = c.type.start - 1
            for k in c.type.start..<c.type.end {
                let b = p[k]
                if b >= 0x80 {
                    found = nil
                    break scan
                }
                if b == UInt8(ascii: "/") { slash = k }
            }
            found?.append(Span(start: slash + 1, end: c.type.end))
        }
        names = .some(found)
        return found
    }

    /// As `renderDerivedDelta(stored:added:into:)`, from borrowed bytes.
    public mutating func renderDerivedDelta(stored p: UnsafeBufferPointer<UInt8>, added: Bool, into writer: inout JSONWriter)
        -> Bool
    {
        guard let last = lastRead, last.base == UnsafeRawPointer(p.baseAddress), last.count == p.count,
            let names = sourceNames(p)
        else { return false }
        func bytes(_ s: Span) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: p[s.start..<s.end]) }
        func same(_ a: Span, _ b: Span) -> Bool {
            let n = a.end - a.start
            return n == b.end - b.start && (n == 0 || memcmp(p.baseAddress! + a.start, p.baseAddress! + b.start, n) == 0)
        }
        // The first crosswalk with this id, as `Delta.renderDerived` looks it up.
        func crosswalk(_ id: Span) -> Int? { crosswalkRefs.firstIndex { same($0.id, id) } }
        let type = bytes(Span(start: last.rendered.typeRange.lowerBound, end: last.rendered.typeRange.upperBound))

        var o = Out(base: output.base, capacity: output.capacity)
        o.append(last.rendered.anyOperationalValue ? #""ovChanged":true,"delta":["# : #""ovChanged":false,"delta":["#)
        var firstItem = true
        for v in values {
            if !firstItem { o.append(",") }
            firstItem = false
            o.append(added ? #"{"type":"ATTRIBUTE_ADDED","attributeType":""# : #"{"type":"ATTRIBUTE_REMOVED","attributeType":""#)
            o.append(type)
            o.append("/attributes/")
            o.append(bytes(v.name))
            o.append(added ? #"","newValue":{"id":""# : #"","oldValue":{"id":""#)
            o.append(bytes(v.id))
            o.append(#"","value":"#)
            if let text = v.text {
                o.append("\"")
                o.append(bytes(text))
                o.append("\"")
            } else {
                // `Delta.renderContent` of a nested value: {"Sub":[{"id","value","ov"},…],…}
                o.append("{")
                for g in v.groups {
                    if g > v.groups.lowerBound { o.append(",") }
                    let group = groupRefs[g]
                    o.append("\"")
                    o.append(bytes(group.name))
                    o.append("\":[")
                    for k in group.entries {
                        if k > group.entries.lowerBound { o.append(",") }
                        let sub = subRefs[k]
                        o.append(#"{"id":""#)
                        o.append(bytes(sub.id))
                        o.append(#"","value":""#)
                        o.append(bytes(sub.text))
                        o.append(sub.ov ? #"","ov":true}"# : #"","ov":false}"#)
                    }
                    o.append("]")
                }
                o.append("}")
            }
            o.append(v.ov ? #","ov":true,"sources":["# : #","ov":false,"sources":["#)
            // Each source's name once, in source order; ids without a crosswalk are left out.
            var written = false
            for i in v.sources {
                guard let c = crosswalk(sourceSpans[i]) else { continue }
                var seen = false
                for j in v.sources.lowerBound..<i {
                    if let e = crosswalk(sourceSpans[j]), same(names[e], names[c]) {
                        seen = true
                        break
                    }
                }
                if seen { continue }
                if written { o.append(",") }
                written = true
                o.append("\"")
                o.append(bytes(names[c]))
                o.append("\"")
            }
            o.append("]}}")
        }
        for c in crosswalkRefs {
            if !firstItem { o.append(",") }
            firstItem = false
            o.append(added ? #"{"type":"CROSSWALK_ADDED","crosswalk":{"type":""# : #"{"type":"CROSSWALK_REMOVED","crosswalk":{"type":""#)
            o.append(bytes(c.type))
            o.append(#"","value":""#)
            o.append(bytes(c.value))
            if let table = c.table, table.end > table.start {
                o.append(#"","sourceTable":""#)
                o.append(bytes(table))
            }
            o.append("\"}}")
        }
        o.append("]")
        output.base = o.base
        output.capacity = o.capacity
        writer.beginObject()
        writer.fragment(UnsafeBufferPointer(start: o.base, count: o.count))
        writer.endObject()
        return true
    }
}
