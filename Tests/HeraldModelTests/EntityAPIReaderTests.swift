import HeraldJSON
import HeraldModel
import Testing

/// `Entity.readAPIForm` (the API form read straight from the bytes) against the tree path it stands in for,
/// `Entity(json: JSONParser.parse(_:pruning: scope.apiPruning))`.
struct EntityAPIReaderTests {
    /// An entity with nested values, numbers and escapes in values, two crosswalks and values from both.
    static func sample() throws -> [UInt8] {
        var h = Harness()
        _ = try h.apply(
            post(
                id: "1",
                #""FirstName": ["Zoë \"Z\""], "Email": ["a@x", "b@x"], "Address": [{"value": {"City": ["Paris"], "Zip": ["75001"]}}, {"value": {"City": ["Lyon"]}}]"#
            ))
        _ = try h.apply(
            """
            {"type": "\(individual)", "attributes": {"Email": ["b@x", "c@x"], "LastName": ["Nguyễn"]}, \
            "crosswalks": [{"type": "configuration/sources/ERP", "value": "2", "sourceTable": "T"}, {"type": "configuration/sources/CRM", "value": "1"}]}
            """)
        return h.entity!.jsonBytes()
    }

    static let scopes: [EntityDecodeScope] = [
        .all,
        EntityDecodeScope(attributes: nil, crosswalks: false),
        EntityDecodeScope(attributes: ["Email", "Address"], crosswalks: false),
        EntityDecodeScope(attributes: ["Email"], crosswalks: true),
        EntityDecodeScope(attributes: [], crosswalks: false),
    ]

    static func treePath(_ bytes: [UInt8], _ scope: EntityDecodeScope) -> Entity? {
        bytes.withUnsafeBufferPointer { buffer in
            guard let json = try? JSONParser.parse(buffer, pruning: scope.apiPruning) else { return nil }
            return try? Entity(json: json)
        }
    }

    static func reader(_ bytes: [UInt8], _ scope: EntityDecodeScope) -> Entity? {
        bytes.withUnsafeBufferPointer { Entity.readAPIForm($0, scope: scope) }
    }

    @Test(arguments: scopes)
    func readsWhatTheTreePathReadsForARenderedEntity(scope: EntityDecodeScope) throws {
        let bytes = try Self.sample()
        let read = try #require(Self.reader(bytes, scope), "a rendered entity takes the fast path")
        #expect(read == Self.treePath(bytes, scope))
        if scope.isAll {
            #expect(read == (try Entity(jsonBytes: bytes)))
            #expect(read.attributes.contains { $0.values.contains { !$0.sources.isEmpty } }, "values have their sources")
        }
    }

    /// What the reader does not take, it leaves to the tree path (nil) rather than reading differently.
    @Test(arguments: [
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": [{"value": "x", "uri": "entities/1/attributes/A/v", "ov": "yes"}]}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": [{"value": "x", "uri": "entities/1/attributes/A/v", "extra": {"k": 1, "k": 2}}]}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": [{"value": "x", "value": "y", "uri": "entities/1/attributes/A/v"}]}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": [], "A": []}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": [{"value": ["x"], "uri": "entities/1/attributes/A/v"}]}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": ["x"]}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": {"A": [{"value": "x"}]}}"#,
        #"{"uri": "entities/1", "type": "T", "attributes": []}"#,
        #"{"uri": "entities/1", "type": "T", "uri": "entities/2"}"#,
        #"{"uri": "entities/1", "type": "T"} x"#,
        #"{"uri": "things/1", "type": "T"}"#,
    ])
    func leavesWhatItDoesNotTakeToTheTreePath(text: String) {
        #expect(Self.reader(Array(text.utf8), .all) == nil)
        #expect(Self.reader(Array(text.utf8), EntityDecodeScope(attributes: ["A"], crosswalks: false)) == nil)
    }

    /// 20,000 damaged copies of a rendered entity, for every scope: whenever the reader gives an entity, the tree
    /// path gives the same one (and the reader takes many of the documents the tree path takes).
    @Test(arguments: scopes)
    func agreesWithTheTreePathOnDamagedDocuments(scope: EntityDecodeScope) throws {
        var seed = SplitMix(state: 7)
        let alphabet = Array(#"{}[]":,\/"nu0123456789-. aéeft"#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
        let original = try Self.sample()
        var disagreements: [String] = []
        var taken = 0
        var treeTaken = 0
        for _ in 0..<20_000 {
            var bytes = original
            let at = Int(seed.next() % UInt64(bytes.count))
            switch seed.next() % 3 {
            case 0: bytes[at] = alphabet[Int(seed.next() % UInt64(alphabet.count))]
            case 1: bytes.insert(alphabet[Int(seed.next() % UInt64(alphabet.count))], at: at)
            default: bytes.remove(at: at)
            }
            let tree = Self.treePath(bytes, scope)
            if tree != nil { treeTaken += 1 }
            guard let read = Self.reader(bytes, scope) else { continue }
            taken += 1
            if read != tree { disagreements.append(String(decoding: bytes, as: UTF8.self)) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(2))")
        #expect(taken * 2 > treeTaken, "the reader took \(taken) of the \(treeTaken) documents the tree path read")
    }
}

/// A small deterministic generator (SplitMix64) for the damaged documents.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
