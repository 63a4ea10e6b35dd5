import HeraldJSON
import Testing

/// The one base64 of the daemon and the sinks, against RFC 4648's vectors.
struct Base64Tests {
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func standardAlphabetMatchesRFC4648(_ plain: String, _ encoded: String) {
        #expect(Base64.string(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func urlAlphabetHasNoPaddingAndDecodes() {
        let bytes: [UInt8] = [0xFB, 0xFF, 0xBF, 0xFE]
        #expect(Base64.string(bytes) == "+/+//g==")
        #expect(Base64.string(bytes, alphabet: .url) == "-_-__g")
        #expect(Base64.decode("-_-__g") == bytes)
        #expect(Base64.decode("+/+//g==") == bytes)
    }

    @Test func everyLengthRoundTripsInBothAlphabets() {
        var rng = SystemRandomNumberGenerator()
        for n in 0..<200 {
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
            #expect(Base64.decode(Base64.encode(bytes, alphabet: .url)) == bytes)
            #expect(Base64.encode(bytes).count == (n + 2) / 3 * 4)
        }
    }

    @Test func appendWritesAfterWhatIsThere() {
        var out = Array("{\"data\":\"".utf8)
        let bytes = Array("foobar!".utf8)
        bytes.withUnsafeBytes { Base64.append($0, to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "{\"data\":\"Zm9vYmFyIQ==")
        var url: [UInt8] = [0x2A]
        [UInt8]([0xFB, 0xFF]).withUnsafeBytes { Base64.append($0, to: &url, alphabet: .url) }
        #expect(url == Array("*-_8".utf8))
    }

    @Test func invalidInputIsRefused() {
        #expect(Base64.decode("Zm9v!") == nil)
        #expect(Base64.decode("Zm 9v") == nil)
    }
}
