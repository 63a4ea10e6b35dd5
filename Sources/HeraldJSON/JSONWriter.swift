/// A byte-level JSON writer into a reusable buffer.
///
/// This is Herald's per-event rendering path: it appends UTF-8 directly to
/// `bytes`, inserts commas itself, and never goes through Foundation. Reuse one
/// writer per worker and call `reset()` between documents to keep the buffer's
/// capacity.
///
/// Usage: `w.beginObject(); w.key("uri"); w.string(uri); w.endObject()`.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8]
    @usableFromInline var needsComma = false

    public init(capacity: Int = 2048) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Starts a new top-level value; with `keepingContent`, what was written stays (for NDJSON lines).
    @inlinable
    public mutating func reset(keepingContent: Bool) {
        if !keepingContent { bytes.removeAll(keepingCapacity: true) }
        needsComma = false
    }

    /// Where the writer is: its length and comma state, to go back to with `rewind(to:)`.
    public struct Mark: Sendable {
        let count: Int
        let needsComma: Bool
    }

    /// The writer's position now.
    public var mark: Mark { Mark(count: bytes.count, needsComma: needsComma) }

    /// Drops what was written since `mark` (a value that turned out not to be writable this way).
    public mutating func rewind(to mark: Mark) {
        precondition(mark.count <= bytes.count, "rewind past the end of the writer")
        bytes.removeSubrange(mark.count...)
        needsComma = mark.needsComma
    }

    /// Empties the buffer and keeps its capacity.
    @inlinable
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    @inlinable
    mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    @inlinable
    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    @inlinable
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    @inlinable
    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    @inlinable
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object key; the next call writes its value.
    @inlinable
    public mutating func key(_ key: String) {
        separator()
        appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes an object key known at compile time to need no escaping.
    @inlinable
    public mutating func key(_ key: StaticString) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    @inlinable
    public mutating func string(_ value: String) {
        separator()
        appendQuoted(value)
        needsComma = true
    }

    /// Writes a JSON string from UTF-8 bytes (escaped as needed).
    @inlinable
    public mutating func string(utf8 value: UnsafeBufferPointer<UInt8>) {
        separator()
        appendQuoted(utf8: value)
        needsComma = true
    }

    @inlinable
    public mutating func int(_ value: Int64) {
        separator()
        appendDecimal(value)
        needsComma = true
    }

    @inlinable
    public mutating func int(_ value: Int) {
        int(Int64(value))
    }

    @inlinable
    public mutating func bool(_ value: Bool) {
        separator()
        // Static strings, not the array literals `[0x74, …]`/`[0x66, …]` this had: with those, Swift
        // 6.3.1's release builds wrote `false` for `true` at some inlined call sites (a new one in
        // Delta.renderDerived; see docs/decisions/0006-release-miscompile.md).
        let literal: StaticString = value ? "true" : "false"
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        needsComma = true
    }

    @inlinable
    public mutating func null() {
        separator()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        needsComma = true
    }

    /// Writes a number from its JSON text (as kept by `JSONValue.number`).
    @inlinable
    public mutating func number(text: String) {
        separator()
        bytes.append(contentsOf: text.utf8)
        needsComma = true
    }

    public mutating func double(_ value: Double) {
        separator()
        if value.isFinite {
            if value == value.rounded(.towardZero) && abs(value) < 1e15 {
                appendDecimal(Int64(value))
            } else {
                bytes.append(contentsOf: "\(value)".utf8)
            }
        } else {
            bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        }
        needsComma = true
    }

    /// Appends an already-serialised JSON value verbatim.
    ///
    /// - Important: `json` must be one valid JSON value; it is not checked.
    @inlinable
    public mutating func raw(_ json: some Collection<UInt8>) {
        separator()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    /// Starts a string value whose content is appended in pieces with `stringPiece`.
    ///
    /// Lets the renderer write URIs such as `entities/{id}/attributes/{name}` without building them first.
    @inlinable
    public mutating func openString() {
        separator()
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends escaped content to a string opened with `openString()`.
    @inlinable
    public mutating func stringPiece(_ piece: String) {
        // Borrow the string's UTF-8 (native and small strings are contiguous); `var copy.withUTF8`
        // cost a retain/release pair per piece on the hot path.
        if piece.utf8.withContiguousStorageIfAvailable({ appendEscapedContent($0) }) == nil {
            var piece = piece
            piece.withUTF8 { appendEscapedContent($0) }
        }
    }

    @inlinable
    public mutating func stringPiece(_ piece: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: piece.utf8Start, count: piece.utf8CodeUnitCount))
    }

    /// Appends pre-escaped bytes verbatim (no separator, no escaping, comma state unchanged).
    ///
    /// For fragments the hot path escapes once and reuses many times, such as the
    /// `entities/{id}/attributes/` prefix of every value URI, written inside `openString()`.
    @inlinable
    public mutating func fragment(_ escaped: [UInt8]) {
        // Through a buffer pointer: appending the array itself retained and released it.
        escaped.withUnsafeBufferPointer { bytes.append(contentsOf: $0) }
    }

    /// Appends pre-escaped bytes verbatim (no separator, no escaping, comma state unchanged), from borrowed memory.
    @inlinable
    public mutating func fragment(_ escaped: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: escaped)
    }

    /// Appends static text verbatim (no separator, no escaping, comma state unchanged): several fixed
    /// tokens of a known shape as one append, e.g. `","ov":` between a string value and the next key.
    @inlinable
    public mutating func fragment(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// The escaped content of `text` (as `stringPiece` writes it, without quotes), for `fragment`.
    public static func escapedContent(_ text: String) -> [UInt8] {
        var w = JSONWriter(capacity: text.utf8.count + 16)
        w.stringPiece(text)
        return w.bytes
    }

    @inlinable
    public mutating func closeString() {
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Writes any parsed value.
    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        // Matching the two literals (not `.bool(let b)`): Swift 6.3.1's release build of this
        // switch wrote `false` for `.bool(true)` (see docs/decisions/0006-release-miscompile.md).
        case .bool(true): bool(true)
        case .bool(false): bool(false)
        case .number(let text): number(text: text)
        case .string(let s): string(s)
        case .array(let elements):
            beginArray()
            for e in elements { self.value(e) }
            endArray()
        case .object(let members):
            beginObject()
            for m in members {
                key(m.key)
                self.value(m.value)
            }
            endObject()
        }
    }

    @inlinable
    mutating func appendDecimal(_ value: Int64) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var v = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch: enough for 20 digits
        withUnsafeMutableBytes(of: &tmp) { scratch in
            var i = 24
            while v > 0 {
                i -= 1
                scratch[i] = UInt8(truncatingIfNeeded: v % 10) &+ UInt8(ascii: "0")
                v /= 10
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[i..<24]))
        }
    }

    @inlinable
    mutating func appendQuoted(_ value: String) {
        // Borrowed, as in `stringPiece`.
        if value.utf8.withContiguousStorageIfAvailable({ appendQuoted(utf8: $0) }) == nil {
            var value = value
            value.withUTF8 { appendQuoted(utf8: $0) }
        }
    }

    @inlinable
    mutating func appendQuoted(utf8 value: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        appendEscapedContent(value)
        bytes.append(UInt8(ascii: "\""))
    }

    @inlinable
    mutating func appendEscapedContent(_ value: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        var i = 0
        let n = value.count
        while i < n {
            let c = value[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C {
                i += 1
                continue
            }
            if runStart < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[runStart..<i])) }
            appendEscape(c)
            i += 1
            runStart = i
        }
        if runStart < n { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: value[runStart..<n])) }
    }

    @usableFromInline
    mutating func appendEscape(_ c: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch c {
        case 0x22: bytes.append(0x22)
        case 0x5C: bytes.append(0x5C)
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        default:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            bytes.append(UInt8(ascii: "u"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(UInt8(ascii: "0"))
            bytes.append(hex[Int(c >> 4)])
            bytes.append(hex[Int(c & 0xF)])
        }
    }
}
