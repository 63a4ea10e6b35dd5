import HeraldJSON
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
