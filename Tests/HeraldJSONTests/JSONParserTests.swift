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

/// Strings are scanned eight bytes at a time (`JSONPlainRun`): every kind of byte that ends a plain run, at every
/// offset in and across the words, must be found where it is.
struct JSONPlainRunTests {
    /// `prefix` plain bytes, then the byte under test, then plain bytes again, as a JSON string value.
    static func document(_ prefix: Int, _ middle: [UInt8], _ suffix: Int) -> [UInt8] {
        let plain = Array("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var bytes: [UInt8] = [UInt8(ascii: "["), UInt8(ascii: "\"")]
        for k in 0..<prefix { bytes.append(plain[k % plain.count]) }
        bytes += middle
        for k in 0..<suffix { bytes.append(plain[(k + 7) % plain.count]) }
        bytes += [UInt8(ascii: "\""), UInt8(ascii: "]")]
        return bytes
    }

    static func text(_ bytes: [UInt8]) throws -> String? {
        guard case .array(let items) = try JSONParser.parse(bytes), case .string(let s)? = items.first else { return nil }
        return s
    }

    @Test func everyStopByteIsFoundAtEveryOffset() throws {
        for prefix in 0..<26 {
            for suffix in [0, 1, 7, 8, 9, 17] {
                let plainPrefix = String(decoding: Self.document(prefix, [], 0).dropFirst(2).dropLast(2), as: UTF8.self)
                let plainSuffix = String(decoding: Self.document(0, [], suffix).dropFirst(2).dropLast(2), as: UTF8.self)
                // Plain only: the whole string.
                #expect(try Self.text(Self.document(prefix, [], suffix)) == plainPrefix + plainSuffix)
                // An escaped quote and an escaped backslash are part of the string.
                #expect(try Self.text(Self.document(prefix, Array(#"\""#.utf8), suffix)) == plainPrefix + "\"" + plainSuffix)
                #expect(try Self.text(Self.document(prefix, Array(#"\\"#.utf8), suffix)) == plainPrefix + "\\" + plainSuffix)
                // Non-ASCII: two-, three- and four-byte characters.
                for scalar in ["é", "€", "𝄞"] {
                    #expect(try Self.text(Self.document(prefix, Array(scalar.utf8), suffix)) == plainPrefix + scalar + plainSuffix)
                }
                // A control character and invalid UTF-8 are refused where they are.
                for (bad, reason) in [([UInt8(0x01)], "control character"), ([UInt8(0x1F)], "control character"),
                                      ([UInt8(0xFF)], "invalid UTF-8"), ([UInt8(0xC3)], "invalid UTF-8")] {
                    do {
                        _ = try JSONParser.parse(Self.document(prefix, bad, suffix))
                        Issue.record("accepted byte \(bad) after \(prefix) plain bytes")
                    } catch {
                        #expect(error.reason.hasPrefix(reason), "\(error)")
                        if reason == "control character" { #expect(error.offset == 2 + prefix, "\(error)") }
                    }
                }
                // An unterminated string, ending at every offset.
                var open = Self.document(prefix, [], suffix)
                open.removeLast(2)
                #expect(throws: JSONParseError.self) { try JSONParser.parse(open) }
            }
        }
    }

    @Test func theRunEndsAtTheFirstStopByteOrWhereAWordNoLongerFits() {
        for length in 0..<40 {
            for stop in 0...length {
                var bytes = [UInt8](repeating: UInt8(ascii: "x"), count: length)
                if stop < length { bytes[stop] = UInt8(ascii: "\"") }
                let end = bytes.withUnsafeBufferPointer { JSONPlainRun.end($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, from: 0, to: length) }
                if stop < length && stop + 8 - stop % 8 <= length {
                    #expect(end == stop, "length \(length), quote at \(stop)")
                } else {
                    // No stop byte in the words that fit: the scan stops where fewer than 8 bytes remain.
                    #expect(end <= stop && length - end < 8, "length \(length), quote at \(stop): \(end)")
                }
            }
        }
    }
}
