import HeraldJSON
import Testing

struct JSONParserTests {
    /// A key twice in one object is refused at the second key's offset, in small objects (linear scan) and large
    /// ones (a set), with escapes decoded first; the same key in different objects is fine.
    @Test(arguments: [
        (#"{"a": 1, "a": 2}"#, 9),
        (#"{"a": 1, "\u0061": 2}"#, 9),
        ("{" + (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ") + ", \"k17\": 0}", 421),
        (#"[{"x": {"y": 1, "z": {"y": 2}}, "y": 3}, {"q": 1, "q": 1}]"#, 50),
    ])
    func refusesDuplicateKeys(text: String, offset: Int) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .duplicateKey)
            #expect(error.offset == offset, "\(error)")
            #expect(error.reason.hasPrefix("duplicate key '"), "\(error)")
        }
    }

    @Test func theSameKeyInDifferentObjectsIsFine() throws {
        let v = try JSONParser.parse(#"{"a": {"a": 1}, "b": [{"a": 2}, {"a": 3}]}"#)
        #expect(v["a"]?["a"] == .number("1"))
        // Keys of one length that differ (the length check only narrows the comparison).
        let same = try JSONParser.parse(#"{"ab": 1, "cd": 2, "ef": 3, "é": 4, "ab ": 5}"#)
        #expect(same.objectValue?.count == 5)
    }

    @Test func echoCutsLongInputAtACharacterBoundary() {
        #expect(Echo.cut("short") == "short")
        let long = String(repeating: "é", count: 150)  // 300 bytes
        let cut = Echo.cut(long)
        #expect(cut.hasPrefix(String(repeating: "é", count: 100)))
        #expect(cut.hasSuffix("…(300 bytes)"))
        #expect(Echo.cut(String(repeating: "x", count: 1_000_000)).utf8.count < 230)
    }

    @Test func parsesEveryKindOfValue() throws {
        let v = try JSONParser.parse(#"{"a": [1, -2.5e3, true, false, null, "x"], "b": {}, "c": []}"#)
        #expect(v["a"] == .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null, .string("x")]))
        #expect(v["b"] == .object([]))
        #expect(v["c"] == .array([]))
    }

    @Test func keepsNumbersExactly() throws {
        let v = try JSONParser.parse("[1.50, 12345678901234567890, 0, -0.0]")
        #expect(v == .array([.number("1.50"), .number("12345678901234567890"), .number("0"), .number("-0.0")]))
        #expect(JSONValue.number("1795918352681").int64Value == 1_795_918_352_681)
    }

    @Test func decodesEscapesAndUnicode() throws {
        let v = try JSONParser.parse(#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u4e2d", "\ud83d\ude00", "héllo 中"]"#)
        #expect(v == .array([.string("a\"b\\c/d\u{8}\u{c}\n\r\t"), .string("é中"), .string("😀"), .string("héllo 中")]))
    }

    @Test func keepsMemberOrderAndOffsets() throws {
        let v = try JSONParser.parse(#"{"z": 1, "a": 2}"#)
        let members = v.objectValue!
        #expect(members.map(\.key) == ["z", "a"])
        #expect(members[0].offset == 1)
        #expect(members[1].offset == 9)
    }

    @Test(arguments: [
        ("", 0, "unexpected end of input"),
        ("[1,]", 3, "unexpected ']'"),
        ("{\"a\" 1}", 5, "expected ':'"),
        ("{\"a\": 1,}", 8, "expected a string key"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("\"abc", 0, "unterminated string"),
        ("[01]", 2, "leading zeros"),
        ("[1.]", 3, "digit after '.'"),
        ("[tru]", 1, "expected 'true'"),
        ("[\"\\x\"]", 2, "invalid escape"),
        ("[\"a\u{1}\"]", 3, "control character"),
        ("[1] x", 4, "unexpected data after"),
        ("{\"a\": nul}", 6, "expected 'null'"),
        ("[\"\\ud800\"]", 2, "unpaired"),
    ])
    func reportsErrorsAtTheirOffset(input: String, offset: Int, reason: String) {
        do {
            _ = try JSONParser.parse(input)
            Issue.record("expected an error for \(input)")
        } catch {
            #expect(error.offset == offset, "\(input): \(error)")
            #expect(error.reason.contains(reason), "\(input): \(error.reason)")
        }
    }

    @Test func reportsLineAndColumn() {
        do {
            _ = try JSONParser.parse("[\n  1,\n  x\n]")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 3)
            #expect(error.offset == 9)
        }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0x61, 0xFF, 0x62, 0x22]
        #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
    }

    @Test func rejectsTooDeepNesting() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    @Test func parsesConsecutiveDocumentsWithParsePrefix() throws {
        let bytes = Array(#"{"a":1} {"b":2}"#.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            let (first, end) = try JSONParser.parsePrefix(buffer, from: 0)
            #expect(first["a"] == .number("1"))
            let (second, _) = try JSONParser.parsePrefix(buffer, from: end)
            #expect(second["b"] == .number("2"))
        }
    }
}
