import Foundation
import HeraldFileSinkCore
import HeraldSinkSDK
import Testing

@Suite struct FileConfigTests {
    @Test func defaultsAndEveryProblemNamedByItsKey() throws {
        let c = try FileConfig.read(#"{"path": "/tmp/{destination}.ndjson"}"#)
        #expect(c.path == "/tmp/{destination}.ndjson" && !c.fsync && c.maxMessageBytes == 1_048_576)
        let cases: [(String, String)] = [
            ("{}", "path: required key 'path' is missing"),
            (#"{"path": ""}"#, "path: must not be empty"),
            (#"{"path": "/x", "fsinc": true}"#, "fsinc: unknown key 'fsinc' (did you mean 'fsync'?)"),
            (#"{"path": "/x", "maxMessageBytes": 0}"#, "maxMessageBytes: 0 is out of range"),
            (#"{"path": "/x", "fsync": "yes"}"#, "fsync: expected true or false"),
            ("[]", "must be a JSON object"),
        ]
        for (text, expected) in cases {
            do {
                _ = try FileConfig.read(text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.message.contains(expected), "\(text): \(error.message)")
            }
        }
    }

    @Test func theSchemaIsTheDeclarations() throws {
        #expect(FileSink.configSchema == FileConfig.schema)
        let schema = try #require(
            try JSONSerialization.jsonObject(with: Data(FileConfig.schema.utf8)) as? [String: Any])
        #expect(schema["required"] as? [String] == ["path"])
        let properties = try #require(schema["properties"] as? [String: [String: Any]])
        #expect(Set(properties.keys) == ["path", "fsync", "maxMessageBytes"])
        #expect(properties["maxMessageBytes"]?["default"] as? Int == 1_048_576)
        #expect(properties["fsync"]?["type"] as? String == "boolean")
    }
}
