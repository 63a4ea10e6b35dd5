import CHeraldJSON
@testable import HeraldJSON
import Testing

struct JSONReaderTests {
    private func readInt64(_ text: String) throws -> Int64 {
        let bytes = Array("[\(text),1]".utf8)
        return try bytes.withUnsafeBufferPointer { buffer in
            var r = JSONReader(buffer)
            try r.beginArray()
            _ = try r.nextElement()
            let n = try r.readInt64()
            // The reader stands after the number: the next element follows.
            #expect(try r.nextElement())
            #expect(try r.readInt64() == 1)
            #expect(try !r.nextElement())
            return n
        }
    }

    /// Raw keys and plain strings: the bytes in the document for plain ASCII; any other key throws, any other value
    /// is left where it is for the ordinary reads.
    @Test func readsPlainKeysAndStringsAsBytes() throws {
        let bytes = Array(#"{"ab": "x/y", "c\u0064": "é", "e": 1}"#.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            var r = JSONReader(buffer)
            try r.beginObject()
            let first = try #require(try r.nextRawKey())
            #expect(Array(first) == Array("ab".utf8))
            #expect(r.readPlainString { Array($0) } == Array("x/y".utf8))
            #expect(throws: JSONParseError.self) { try r.nextRawKey() }
        }
        try bytes.withUnsafeBufferPointer { buffer in
            var r = JSONReader(buffer)
            try r.beginObject()
            _ = try r.nextKey()
            _ = try r.readString()
            #expect(try r.nextKey() == "cd")
            #expect(r.readPlainString { Array($0) } == nil, "not ASCII: nothing consumed")
            #expect(try r.readString() == "é")
            #expect(try r.nextRawKey().map { Array($0) } == Array("e".utf8))
            #expect(r.readPlainString { Array($0) } == nil, "a number: nothing consumed")
            #expect(try r.readNumberText() == "1")
            #expect(try r.nextRawKey() == nil)
            try r.expectEnd()
        }
    }

    /// readInt64 accumulates up to 18 plain digits itself and leaves the rest to the number parser.
    @Test func readsIntegersOnBothPaths() throws {
        #expect(try readInt64("0") == 0)
        #expect(try readInt64(" 7") == 7)
        #expect(try readInt64("1795000000000") == 1_795_000_000_000)
        #expect(try readInt64("999999999999999999") == 999_999_999_999_999_999)  // 18 digits
        #expect(try readInt64("1234567890123456789") == 1_234_567_890_123_456_789)  // 19: general path
        #expect(try readInt64("9223372036854775807") == Int64.max)
        #expect(try readInt64("-42") == -42)
        #expect(try readInt64("-9223372036854775808") == Int64.min)
    }

    @Test(arguments: ["01", "1.5", "1e3", "2E1", "9223372036854775808", "-", "x"])
    func rejectsWhatIsNotAnInt64(text: String) {
        #expect(throws: JSONParseError.self) { try readInt64(text) }
    }

    /// Input that ends where a number should be (a truncated stored entity, `{"ct":`) is an error, not a read past
    /// the end of the buffer (a trap in debug builds before).
    @Test(arguments: [#"{"ct":"#, #"{"ct": "#, "["])
    func inputEndingWhereANumberShouldBeIsAnError(text: String) {
        let bytes = Array(text.utf8)
        #expect(throws: JSONParseError.self) {
            try bytes.withUnsafeBufferPointer { buffer in
                var r = JSONReader(buffer)
                if bytes.first == UInt8(ascii: "{") {
                    try r.beginObject()
                    _ = try r.nextKey()
                } else {
                    try r.beginArray()
                    _ = try r.nextElement()
                }
                _ = try r.readInt64()
            }
        }
    }
}

/// `skipValue` checks what the parser checks, without building the value: on every input, it accepts exactly when
/// the parser accepts (duplicate keys aside) and stops where the parser stops.
struct JSONSkipTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Where `parseValue` and `skipValue` stop on `bytes` (the index after the value), or nil when they throw.
    private func ends(_ bytes: [UInt8]) -> (parsed: Int?, skipped: Int?) {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONCursor(buffer)
            let parsed: Int? = (try? parser.parseValue(depth: 0)) != nil ? parser.index : nil
            var skipper = JSONCursor(buffer)
            let skipped: Int? = (try? skipper.skipValue(depth: 0)) != nil ? skipper.index : nil
            return (parsed, skipped)
        }
    }

    static let samples: [String] = [
        #"{"a": [1, -2.5e+3, true, false, null, "x"], "b": {"c": "d\"e\\f\/g\b\f\n\r\t\u00e9\ud83d\ude00"}}"#,
        #"["plain ascii that is longer than eight bytes", "caf\u00e9 déjà vu — ünïcödé 😀", ""]"#,
        #"{"v":1,"id":"1a2b","a":{"FirstName":[["x1","John",1,["crm"]]],"Address":[["x2",{"City":[["x3","Paris",1]]},0,[]]]}}"#,
        #"[0, -0, 0.5, 1E9, 12345678901234567890, [], {}, [[[]]], {"k": {}}]"#,
        #""control\u0001 and \/ escapes""#,
    ]

    @Test func agreesWithTheParserOnValidDocuments() {
        for sample in JSONSkipTests.samples {
            let bytes = Array(sample.utf8)
            let (parsed, skipped) = ends(bytes)
            #expect(parsed == bytes.count, "\(sample)")
            #expect(skipped == parsed, "\(sample)")
        }
    }

    @Test(arguments: [
        #""unterminated"#, #""bad \x escape""#, "\"raw \u{01} control\"", #""\ud800 alone""#, #""\udc00""#,
        #"[1,]"#, #"{"a" 1}"#, #"{"a":}"#, "01", "-", "1.", "1e", "tru", "nul", "[1 2]", #"{"a":1,}"#, "",
    ])
    func rejectsWhatTheParserRejects(text: String) {
        let (parsed, skipped) = ends(Array(text.utf8))
        #expect(parsed == nil)
        #expect(skipped == nil)
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(ends([0x22, 0x61, 0xC3, 0x28, 0x22]) == (nil, nil))  // a broken 2-byte sequence
        #expect(ends([0x22, 0xFF, 0x22]) == (nil, nil))
        let deep = Array(String(repeating: "[", count: JSONParser.maxDepth + 1).utf8)
            + Array(String(repeating: "]", count: JSONParser.maxDepth + 1).utf8)
        #expect(ends(deep) == (nil, nil))
        let allowed = Array(String(repeating: "[", count: JSONParser.maxDepth).utf8)
            + Array(String(repeating: "]", count: JSONParser.maxDepth).utf8)
        #expect(ends(allowed) == (allowed.count, allowed.count))
    }

    /// 50,000 damaged samples (a byte replaced, inserted or removed; cut short): skipping accepts exactly when parsing
    /// does, and ends at the same place.
    @Test func agreesWithTheParserOnDamagedDocuments() {
        var rng = Generator(state: 20_261_207)
        let alphabet = Array(#"{}[]":,\/"bfnrtu0123456789-+.eE aé"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xE2, 0xF0, 0xFF]
        var disagreements: [String] = []
        var rejected = 0
        for _ in 0..<50_000 {
            var bytes = Array(JSONSkipTests.samples.randomElement(using: &rng)!.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                case 1: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                case 2: if bytes.count > 1 { bytes.remove(at: at) }
                default: bytes = Array(bytes[..<at])
                }
                if bytes.isEmpty { bytes = [0x20] }
            }
            let (parsed, skipped) = ends(bytes)
            if parsed == nil { rejected += 1 }
            // The parser also refuses a repeated key; skipping does not look.
            if parsed != skipped && !(parsed == nil && repeatsAKey(bytes)) {
                disagreements.append(String(decoding: bytes, as: UTF8.self))
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        #expect(rejected > 10_000)  // the damage is real
    }

    private func repeatsAKey(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONCursor(buffer)
            do {
                _ = try parser.parseValue(depth: 0)
                return false
            } catch let error as JSONParseError {
                return error.code == .duplicateKey
            } catch {
                return false
            }
        }
    }
}

/// `JSONParser.parse(_:pruning:)` builds the document without the members it is told to leave out, and checks the
/// whole document as `parse(_:)` does.
struct JSONPruningTests {
    static let document = #"""
        {"uri": "entities/1", "type": "T", "attributes": {"FirstName": [{"value": "Ann", "ov": true}],
         "LastName": [{"value": "Sm\u00efth \"jr\"", "ov": false}], "Address": [{"value": {"City": [{"value": "Paris"}]}}]},
         "crosswalks": [{"type": "CRM", "value": "1", "attributes": ["entities/1/attributes/FirstName/a"]}], "n": -1.5e3}
        """#
    static let pruning = JSONPruning(skip: ["crosswalks"], keepOnly: ["attributes": ["LastName", "Nope"]])

    private func parse(_ text: String, _ pruning: JSONPruning) throws(JSONParseError) -> JSONValue {
        try Array(text.utf8).withUnsafeBufferPointer { buffer throws(JSONParseError) in try JSONParser.parse(buffer, pruning: pruning) }
    }

    /// What a pruned parse should give: the full parse with the members removed.
    private func pruned(_ value: JSONValue, _ pruning: JSONPruning) -> JSONValue {
        guard case .object(let members) = value else { return value }
        return .object(
            members.filter { !pruning.skip.contains($0.key) }.map { m in
                guard let keep = pruning.keepOnly[m.key], case .object(let inner) = m.value else { return m }
                return JSONMember(key: m.key, value: .object(inner.filter { keep.contains($0.key) }), offset: m.offset)
            })
    }

    @Test func leavesOutWhatItIsToldAndKeepsTheRest() throws {
        let full = try JSONParser.parse(Self.document)
        let result = try parse(Self.document, Self.pruning)
        #expect(result == pruned(full, Self.pruning))
        #expect(result["crosswalks"] == nil)
        #expect(result["attributes"]?.objectValue?.map(\.key) == ["LastName"])
        #expect(result["attributes"]?["LastName"]?.arrayValue?.first?["value"] == .string("Smïth \"jr\""))
        #expect(result["n"] == .number("-1.5e3"))
        // No pruning: the plain parse.
        #expect(try parse(Self.document, JSONPruning()) == full)
        // Not an object at the top: nothing to prune.
        #expect(try parse("[1, {\"crosswalks\": 2}]", Self.pruning) == JSONParser.parse("[1, {\"crosswalks\": 2}]"))
    }

    @Test(arguments: [
        // A syntax error inside a left-out member, a repeated key beside a left-out one, at the top and one level down.
        #"{"crosswalks": [1,], "a": 1}"#, #"{"crosswalks": 1, "crosswalks": 2}"#, #"{"a": 1, "crosswalks": 2, "a": 3}"#,
        #"{"attributes": {"X": 1, "LastName": 2, "X": 3}}"#, #"{"attributes": {"X": "\q"}}"#, #"{"attributes": {"X": 1} "#,
        #"{"a": 1} x"#,
    ])
    func checksTheWholeDocument(text: String) {
        #expect(throws: JSONParseError.self) { try parse(text, Self.pruning) }
    }

    /// 20,000 damaged documents: the pruned parse succeeds exactly when the full parse does (a key repeated inside a
    /// left-out value aside), and then gives the full parse's tree without the left-out members.
    @Test func agreesWithTheFullParseOnDamagedDocuments() {
        var seed = JSONSkipTests.Generator(state: 42)
        let alphabet = Array(#"{}[]":,\/"nu0123456789-. aé"#.utf8) + [0x00, 0x1F, 0xC3, 0xFF]
        let original = Array(Self.document.utf8)
        var disagreements: [String] = []
        var rejected = 0
        for _ in 0..<20_000 {
            var bytes = original
            let at = Int(seed.next() % UInt64(bytes.count))
            switch seed.next() % 3 {
            case 0: bytes[at] = alphabet[Int(seed.next() % UInt64(alphabet.count))]
            case 1: bytes.insert(alphabet[Int(seed.next() % UInt64(alphabet.count))], at: at)
            default: bytes.remove(at: at)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let full: JSONValue? = bytes.withUnsafeBufferPointer { try? JSONParser.parse($0) }
            let result: JSONValue? = bytes.withUnsafeBufferPointer { try? JSONParser.parse($0, pruning: Self.pruning) }
            if full == nil { rejected += 1 }
            if let full {
                if result != pruned(full, Self.pruning) { disagreements.append(text) }
            } else if result != nil {
                // Only a key repeated inside a left-out value may pass.
                let repeated = bytes.withUnsafeBufferPointer { buffer -> Bool in
                    do {
                        _ = try JSONParser.parse(buffer)
                        return false
                    } catch let error as JSONParseError {
                        return error.code == .duplicateKey
                    } catch {
                        return false
                    }
                }
                if !repeated { disagreements.append(text) }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(3))")
        #expect(rejected > 5_000)
    }
}

/// `herald_json_plain_prefix`, the reader's 16-bytes-at-a-time scan: it stops at the first quote, backslash, control
/// character or non-ASCII byte, wherever it falls against the 16-byte steps, and nowhere else.
struct PlainPrefixTests {
    @Test func stopsAtTheFirstByteAStringCannotHoldAsItIs() {
        for stop: UInt8 in [0x22, 0x5C, 0x00, 0x1F, 0x80, 0xC3, 0xFF] {
            for length in [0, 1, 15, 16, 17, 31, 32, 33, 47] {
                for at in 0...length {
                    var bytes: [UInt8] = []
                    for i in 0..<length {
                        let c = UInt8(0x20 + (i * 7) % 0x5F)
                        bytes.append(c == 0x22 || c == 0x5C ? 0x41 : c)
                    }
                    if at < length { bytes[at] = stop }
                    let found = bytes.withUnsafeBufferPointer { herald_json_plain_prefix($0.baseAddress, $0.count) }
                    #expect(found == at, "stop byte \(stop) at \(at) of \(length)")
                }
            }
        }
        // The edges of the plain range are plain.
        var edges = [UInt8](repeating: 0x20, count: 20)
        edges += [UInt8](repeating: 0x7F, count: 20)
        edges += [0x21, 0x23, 0x5B, 0x5D]
        #expect(edges.withUnsafeBufferPointer { herald_json_plain_prefix($0.baseAddress, $0.count) } == edges.count)
    }
}
