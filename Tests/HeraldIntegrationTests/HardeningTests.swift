import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Hostile and broken clients against the real `herald serve`.
@Suite(.timeLimit(.minutes(3)))
struct HardeningTests {
    func start(_ dir: TemporaryDirectory) throws -> HeraldProcess {
        try HeraldProcess(configPath: TestConfiguration.write(in: dir.path), logPath: dir.file("log"))
    }

    @Test func unknownRoutesAndMalformedIdsGetJSONErrors() throws {
        let dir = TemporaryDirectory()
        let server = try start(dir)
        let client = TestClient(baseURL: server.baseURL)
        func expectError(_ method: String, _ path: String, _ status: Int, _ code: String, _ words: String) throws {
            let r = try client.request(method, path)
            #expect(r.status == status, "\(method) \(path): \(r.status) \(r.text)")
            #expect(r.json?["errorCode"] == .string(code), "\(method) \(path): \(r.text)")
            let message = r.json?["errorMessage"]?.stringValue ?? ""
            #expect(message.contains(words), "\(method) \(path): \(message)")
            #expect(message.utf8.count < 400, "messages quote at most 200 bytes of the request")
        }
        try expectError("GET", "/nope", 404, "NOT_FOUND", "no route for GET /nope")
        try expectError("PUT", "/api/t1/entities", 404, "NOT_FOUND", "no route for PUT /api/t1/entities")
        try expectError("GET", "/api/t1/entities/", 404, "NOT_FOUND", "GET /api/t1/entities/")
        try expectError("GET", "/" + String(repeating: "x", count: 5000), 404, "NOT_FOUND", "xxx…(5001 bytes)")
        try expectError("GET", "/api/t1/entities/%zz", 400, "INVALID_PARAMETER", "ids are letters and digits")
        try expectError("GET", "/api/t1/streaming/dlq/abc", 400, "INVALID_PARAMETER", "'abc' is not a dead-letter id")
        try expectError("GET", "/api/t1/streaming/dlq/-1", 400, "INVALID_PARAMETER", "'-1' is not a dead-letter id")
        // Well-formed but unknown: the routes' own 404s.
        try expectError("GET", "/api/t1/entities/0Ab3xY9z", 404, "ENTITY_NOT_FOUND", "entities/0Ab3xY9z")
        try expectError("GET", "/api/t1/streaming/dlq/42", 404, "DEAD_LETTER_NOT_FOUND", "no dead letter")
        try expectError("GET", "/api/t9/events", 404, "UNKNOWN_TENANT", "'t9'")
    }
}
