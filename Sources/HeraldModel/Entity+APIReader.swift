import HeraldJSON

extension Entity {
    /// The entity in `buffer` (one document in the API form) read straight from its bytes, as far as `scope`
    /// reaches, without building a `JSONValue` tree first.
    ///
    /// It gives what `Entity(json: JSONParser.parse(buffer, pruning: scope.apiPruning))` gives, for the documents it
    /// takes: well-formed entities of the shape `render(into:)` writes. On anything else it gives up (nil): a syntax
    /// error, a repeated key, a member of a value it does not know, an `ov` that is not a boolean, or a value of
    /// another kind. The caller then takes the tree path, which gives the same entity or the error with its
    /// position, so errors are worded in one place. Crosswalks, when in `scope`, are built as a tree and read by
    /// `Entity(json:)`, which gives the values their sources the same way.
    ///
    /// The whole document is still checked as JSON: what the scope leaves out is skipped with the parser's checks
    /// (`JSONReader.skipValue(depth:)`). Values' `type` URIs, which `Entity(json:)` never reads, are skipped too.
    /// `herald filter apply` reads every line through it (`EntityAPIReaderTests` compares the two paths).
    public static func readAPIForm(_ buffer: UnsafeBufferPointer<UInt8>, scope: EntityDecodeScope) -> Entity? {
        var reader = JSONReader(buffer)
        do {
            return try APIFormReader(scope).read(&reader)
        } catch {
            return nil
        }
    }
}

/// `Entity.readAPIForm`'s reader: every `throw` means "give up, take the tree path".
///
/// Keys are compared as bytes in the document (`JSONReader.nextRawKey`), so that no `String` is made for the keys of
/// values or of the attributes the scope leaves out; a key with an escape or a non-ASCII byte gives up.
private struct APIFormReader {
    typealias Bytes = UnsafeBufferPointer<UInt8>

    let scope: EntityDecodeScope
    /// The scope's attribute names and their bytes (nil: all).
    let wanted: [(name: String, bytes: [UInt8])]?

    init(_ scope: EntityDecodeScope) {
        self.scope = scope
        self.wanted = scope.attributes.map { $0.map { ($0, Array($0.utf8)) } }
    }

    struct GiveUp: Error {}

    /// Depths as the pruned parse counts them: the top-level object's members are read at 1, the `attributes`
    /// object's at 2, an attribute's values (array elements) at 3.
    func read(_ r: inout JSONReader) throws -> Entity {
        try r.beginObject()
        var top: [JSONMember] = []
        top.reserveCapacity(8)
        var keys = KeyCheck()
        var attributes: [AttributeEntry]?
        while let key = try r.nextRawKey() {
            try keys.insert(key)
            if key.is("attributes") {
                attributes = try readAttributes(&r)
            } else if key.is("crosswalks") && !scope.crosswalks {
                try r.skipValue(depth: 1)
            } else {
                top.append(JSONMember(key: String(decoding: key, as: UTF8.self), value: try r.readValue(depth: 1), offset: 0))
            }
        }
        try r.expectEnd()
        // The top-level members through `Entity(json:)` itself: the same defaults, checks and relation endpoints.
        var entity = try Entity(json: .object(top))
        guard var attributes else { return entity }
        if let crosswalks = top.first(where: { $0.key == "crosswalks" })?.value.arrayValue {
            // As `Entity(json:)` gives sources: from each crosswalk's `attributes` list, to top-level values.
            var sourcesByValue: [Substring: [String]] = [:]
            let valuePrefix = "\(entity.uri)/attributes/"
            for (c, crosswalk) in zip(crosswalks, entity.crosswalks) {
                Entity.addSources(of: c, crosswalkId: crosswalk.id, valuePrefix: valuePrefix, to: &sourcesByValue)
            }
            if !sourcesByValue.isEmpty {
                for a in attributes.indices {
                    for v in attributes[a].values.indices {
                        let key = "\(attributes[a].name)/\(attributes[a].values[v].id)"
                        attributes[a].values[v].sources = sourcesByValue[Substring(key)] ?? []
                    }
                }
            }
        }
        entity.attributes = attributes
        return entity
    }

    private func readAttributes(_ r: inout JSONReader) throws -> [AttributeEntry] {
        guard try r.peek() == .object else { throw GiveUp() }
        try r.beginObject()
        var out: [AttributeEntry] = []
        var keys = KeyCheck()
        while let key = try r.nextRawKey() {
            try keys.insert(key)
            let name: String
            if let wanted {
                guard let i = wanted.firstIndex(where: { key.is($0.bytes) }) else {
                    try r.skipValue(depth: 2)
                    continue
                }
                name = wanted[i].name
            } else {
                name = String(decoding: key, as: UTF8.self)
            }
            let values = try readValues(&r, depth: 2)
            if !values.isEmpty { out.append(AttributeEntry(name: name, values: values)) }
        }
        r.endValue()
        return out
    }

    /// An attribute's values: an array (read as a member at `depth`) of value objects.
    private func readValues(_ r: inout JSONReader, depth: Int) throws -> [AttributeValue] {
        guard depth + 2 < JSONParser.maxDepth, try r.peek() == .array else { throw GiveUp() }
        try r.beginArray()
        var values: [AttributeValue] = []
        while try r.nextElement() {
            values.append(try readValue(&r, depth: depth + 1))
        }
        r.endValue()
        return values
    }

    /// One value object `{"type", "ov", "value", "uri"}`, an element at `depth`.
    private func readValue(_ r: inout JSONReader, depth: Int) throws -> AttributeValue {
        guard try r.peek() == .object else { throw GiveUp() }
        try r.beginObject()
        var seen: UInt8 = 0
        var id: String?
        var ov = false
        var content: AttributeContent?
        while let key = try r.nextRawKey() {
            let bit: UInt8
            if key.is("type") {
                bit = 1
                try r.skipValue(depth: depth + 1)
            } else if key.is("ov") {
                bit = 2
                guard try r.peek() == .bool else { throw GiveUp() }
                ov = try r.readBool()
            } else if key.is("value") {
                bit = 4
                switch try r.peek() {
                case .string: content = .simple(try r.readString())
                case .number: content = .simple(try r.readNumberText())
                case .bool: content = .simple(try r.readBool() ? "true" : "false")
                case .object: content = .nested(try readSubAttributes(&r, depth: depth + 1))
                case .array, .null: throw GiveUp()
                }
            } else if key.is("uri") {
                bit = 8
                id = try readValueId(&r)
            } else {
                throw GiveUp()
            }
            if seen & bit != 0 { throw GiveUp() }
            seen |= bit
        }
        r.endValue()
        guard let id, let content else { throw GiveUp() }
        return AttributeValue(id: id, content: content, ov: ov)
    }

    /// What follows the last `/` of a value's URI: from the bytes when the URI is plain ASCII (no `String` for the
    /// whole URI), else as `Entity(json:)` finds it.
    private func readValueId(_ r: inout JSONReader) throws -> String {
        if let id = r.readPlainString({ bytes -> String? in
            guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[(slash + 1)...]), as: UTF8.self)
        }) {
            guard let id else { throw GiveUp() }
            return id
        }
        guard try r.peek() == .string, let id = Entity.lastURIComponent(try r.readString()) else { throw GiveUp() }
        return id
    }

    /// A nested value's `value`: sub-attribute name → values, an object that is a member at `depth`.
    private func readSubAttributes(_ r: inout JSONReader, depth: Int) throws -> [AttributeEntry] {
        try r.beginObject()
        var subs: [AttributeEntry] = []
        var keys = KeyCheck()
        while let key = try r.nextRawKey() {
            try keys.insert(key)
            subs.append(AttributeEntry(name: String(decoding: key, as: UTF8.self), values: try readValues(&r, depth: depth + 1)))
        }
        r.endValue()
        return subs
    }

    /// The keys of one object so far, to give up on a repeat (the tree path reports it). Keys of a length
    /// (mod 64) not seen before cannot repeat, so most keys are never compared.
    private struct KeyCheck {
        var lengths: UInt64 = 0
        var keys: [Bytes] = []

        mutating func insert(_ key: Bytes) throws {
            let bit = UInt64(1) << (key.count & 63)
            if lengths & bit != 0 && keys.contains(where: { key.is($0) }) { throw GiveUp() }
            lengths |= bit
            if keys.isEmpty { keys.reserveCapacity(16) }
            keys.append(key)
        }
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether these bytes are `key`'s.
    @inline(__always)
    fileprivate func `is`(_ key: StaticString) -> Bool {
        guard count == key.utf8CodeUnitCount else { return false }
        let k = key.utf8Start
        for i in 0..<count where self[i] != k[i] { return false }
        return true
    }

    @inline(__always)
    fileprivate func `is`<C: Collection<UInt8>>(_ other: C) -> Bool where C.Index == Int {
        guard count == other.count else { return false }
        var j = other.startIndex
        for i in 0..<count {
            if self[i] != other[j] { return false }
            j += 1
        }
        return true
    }
}
