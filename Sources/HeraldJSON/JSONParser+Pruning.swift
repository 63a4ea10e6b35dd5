/// Which members of a document's top-level object a pruned parse leaves out of the tree it builds. Left-out members
/// are still checked (`JSONCursor.skipValue`: syntax, escapes, UTF-8, depth) but not built, so a reader that needs
/// a few members of a large document pays little for the rest.
public struct JSONPruning: Sendable, Equatable {
    /// Top-level members left out.
    public var skip: Set<String> { didSet { lists = Lists(skip, keepOnly) } }
    /// Top-level members whose value, when it is an object, keeps only these members of its own.
    public var keepOnly: [String: Set<String>] { didSet { lists = Lists(skip, keepOnly) } }
    /// The same sets as arrays, searched by comparing: a pruning names a few keys, and hashing every key of every
    /// document (a `Set` lookup) cost ~9% of `herald filter apply`'s time.
    fileprivate var lists: Lists

    public init(skip: Set<String> = [], keepOnly: [String: Set<String>] = [:]) {
        self.skip = skip
        self.keepOnly = keepOnly
        self.lists = Lists(skip, keepOnly)
    }

    public static func == (a: JSONPruning, b: JSONPruning) -> Bool { a.skip == b.skip && a.keepOnly == b.keepOnly }

    fileprivate struct Lists: Sendable {
        var skip: [String]
        var keepOnly: [(key: String, keep: [String])]

        init(_ skip: Set<String>, _ keepOnly: [String: Set<String>]) {
            self.skip = Array(skip)
            self.keepOnly = keepOnly.map { ($0.key, Array($0.value)) }
        }
    }

    /// Nothing left out: `parse(_:pruning:)` is `parse(_:)`.
    public var isEmpty: Bool { skip.isEmpty && keepOnly.isEmpty }
}

extension JSONParser {
    /// Parses one document like `parse(_:)`, leaving out of the result the members `pruning` names. The document is
    /// checked as a whole: a syntax error anywhere, or a key repeated in the top-level object or in a pruned
    /// object, is an error with its offset. (A key repeated inside a left-out value is not reported.)
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, pruning: JSONPruning) throws(JSONParseError) -> JSONValue {
        if pruning.isEmpty { return try parse(buffer) }
        var cursor = JSONCursor(buffer)
        cursor.skipWhitespace()
        let value: JSONValue
        if cursor.index < cursor.end && cursor.base[cursor.index] == UInt8(ascii: "{") {
            let lists = pruning.lists
            value = try cursor.parsePrunedObject(depth: 1) { key, cursor throws(JSONParseError) in
                if lists.skip.contains(key) { return nil }
                if let i = lists.keepOnly.firstIndex(where: { $0.key == key }) {
                    let keep = lists.keepOnly[i].keep
                    cursor.skipWhitespace()
                    if cursor.index < cursor.end && cursor.base[cursor.index] == UInt8(ascii: "{") {
                        return try cursor.parsePrunedObject(depth: 2) { inner, cursor throws(JSONParseError) in
                            keep.contains(inner) ? try cursor.parseValue(depth: 2) : nil
                        }
                    }
                }
                return try cursor.parseValue(depth: 1)
            }
        } else {
            value = try cursor.parseValue(depth: 0)
        }
        cursor.skipWhitespace()
        if cursor.index < cursor.end {
            throw cursor.error("unexpected data after the JSON document")
        }
        return value
    }
}

extension JSONCursor {
    /// Parses an object at `depth` whose members' values `member` reads: it returns the value to keep, or nil after
    /// leaving the cursor where the value starts (the value is then skipped). Every key is checked for repeats.
    mutating func parsePrunedObject(
        depth: Int, _ member: (String, inout JSONCursor) throws(JSONParseError) -> JSONValue?
    ) throws(JSONParseError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth) levels") }
        index += 1  // {
        var members: [JSONMember] = []
        // Every key with its offset, kept or not, for the repeated-key check (as `parseObject` does it: a key can
        // repeat an earlier one only if a key of its length mod 64 came before).
        var keys: [JSONMember] = []
        keys.reserveCapacity(16)
        var lengths: UInt64 = 0
        var seen: Set<String>?
        skipWhitespace()
        if index < end && base[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < end, base[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeByte(at: index)), expected a string key")
            }
            let keyOffset = index
            let key = try parseString()
            if keys.count < 32 {
                let bit = UInt64(1) << (key.utf8.count & 63)
                if lengths & bit != 0 { try checkDuplicate(key, in: keys, at: keyOffset) }
                lengths |= bit
            } else {
                try checkDuplicate(key, in: keys, at: keyOffset, seen: &seen)
            }
            keys.append(JSONMember(key: key, value: .null, offset: keyOffset))
            skipWhitespace()
            guard index < end, base[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeByte(at: index)), expected ':' after an object key")
            }
            index += 1
            let before = index
            if let value = try member(key, &self) {
                members.append(JSONMember(key: key, value: value, offset: keyOffset))
            } else {
                index = before
                try skipValue(depth: depth)
            }
            skipWhitespace()
            guard index < end else { throw error("unexpected end of input, expected ',' or '}'") }
            let c = base[index]
            index += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { return .object(members) }
            throw error("unexpected \(describeByte(at: index - 1)), expected ',' or '}' after an object member", at: index - 1)
        }
    }
}
