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
            return try APIFormReader(scope: scope).read(&reader)
        } catch {
            return nil
        }
    }
}

/// `Entity.readAPIForm`'s reader: every `throw` means "give up, take the tree path".
private struct APIFormReader {
    let scope: EntityDecodeScope

    struct GiveUp: Error {}

    /// Depths as the pruned parse counts them: the top-level object's members are read at 1, the `attributes`
    /// object's at 2, an attribute's values (array elements) at 3.
    func read(_ r: inout JSONReader) throws -> Entity {
        try r.beginObject()
        var top: [JSONMember] = []
        top.reserveCapacity(8)
        var keys = KeyCheck()
        var attributes: [AttributeEntry]?
        while let key = try r.nextKey() {
            try keys.insert(key)
            switch key {
            case "crosswalks" where !scope.crosswalks:
                try r.skipValue(depth: 1)
            case "attributes":
                attributes = try readAttributes(&r)
            default:
                top.append(JSONMember(key: key, value: try r.readValue(depth: 1), offset: 0))
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
        while let name = try r.nextKey() {
            try keys.insert(name)
            guard scope.attributes?.contains(name) ?? true else {
                try r.skipValue(depth: 2)
                continue
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
        while let key = try r.nextKey() {
            let bit: UInt8
            switch key {
            case "type":
                bit = 1
                try r.skipValue(depth: depth + 1)
            case "ov":
                bit = 2
                guard try r.peek() == .bool else { throw GiveUp() }
                ov = try r.readBool()
            case "value":
                bit = 4
                switch try r.peek() {
                case .string: content = .simple(try r.readString())
                case .number: content = .simple(try r.readNumberText())
                case .bool: content = .simple(try r.readBool() ? "true" : "false")
                case .object: content = .nested(try readSubAttributes(&r, depth: depth + 1))
                case .array, .null: throw GiveUp()
                }
            case "uri":
                bit = 8
                guard try r.peek() == .string, let valueId = Entity.lastURIComponent(try r.readString()) else {
                    throw GiveUp()
                }
                id = valueId
            default:
                throw GiveUp()
            }
            if seen & bit != 0 { throw GiveUp() }
            seen |= bit
        }
        r.endValue()
        guard let id, let content else { throw GiveUp() }
        return AttributeValue(id: id, content: content, ov: ov)
    }

    /// A nested value's `value`: sub-attribute name → values, an object that is a member at `depth`.
    private func readSubAttributes(_ r: inout JSONReader, depth: Int) throws -> [AttributeEntry] {
        try r.beginObject()
        var subs: [AttributeEntry] = []
        var keys = KeyCheck()
        while let name = try r.nextKey() {
            try keys.insert(name)
            subs.append(AttributeEntry(name: name, values: try readValues(&r, depth: depth + 1)))
        }
        r.endValue()
        return subs
    }

    /// The keys of one object so far, to give up on a repeat (the tree path reports it). Keys of a length
    /// (mod 64) not seen before cannot repeat, so most keys are never compared.
    private struct KeyCheck {
        var lengths: UInt64 = 0
        var keys: [String] = []

        mutating func insert(_ key: String) throws {
            let bit = UInt64(1) << (key.utf8.count & 63)
            if lengths & bit != 0 && keys.contains(key) { throw GiveUp() }
            lengths |= bit
            if keys.isEmpty { keys.reserveCapacity(16) }
            keys.append(key)
        }
    }
}
