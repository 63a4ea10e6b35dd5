import HeraldJSON
import Testing

struct JSONWriterTests {
    @Test func writesCommasAndNesting() {
        var w = JSONWriter()
        w.beginObject()
        w.key("a")
        w.int(1)
        w.key("b")
        w.beginArray()
        w.string("x")
        w.bool(true)
        w.null()
        w.beginObject()
        w.endObject()
        w.endArray()
        w.key("c")
        w.int(Int64.min)
        w.endObject()
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":1,"b":["x",true,null,{}],"c":-9223372036854775808}"#)
    }

    @Test func escapesWhatJSONRequires() throws {
        var w = JSONWriter()
        let tricky = "quote\" backslash\\ newline\n tab\t nul\u{0} bell\u{7} é 中 😀"
        w.string(tricky)
        let text = String(decoding: w.bytes, as: UTF8.self)
        #expect(text.contains(#"\u0000"#))
        #expect(text.contains(#"\u0007"#))
        #expect(try JSONParser.parse(w.bytes) == .string(tricky))
    }

    @Test func buildsStringsFromPieces() throws {
        var w = JSONWriter()
        w.beginArray()
        w.openString()
        w.stringPiece("entities/")
        w.stringPiece("a\"b")
        w.closeString()
        w.int(2)
        w.endArray()
        #expect(try JSONParser.parse(w.bytes) == .array([.string("entities/a\"b"), .number("2")]))
    }

    @Test func roundTripsParsedDocuments() throws {
        let text = #"{"a":[1,2.50,{"b":"c\nd"}],"e":null,"f":false}"#
        let value = try JSONParser.parse(text)
        #expect(value.serializedString() == text)
    }

    @Test func resetKeepsCapacityAndStartsClean() {
        var w = JSONWriter(capacity: 16)
        w.beginArray()
        w.int(1)
        w.endArray()
        w.reset()
        w.int(2)
        #expect(w.bytes == Array("2".utf8))
    }
}
