import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Issue 13: `regexp(attributes.FirstName,'(.*){1,32767}')` made glibc's regcomp overflow its stack; the
/// daemon died with SIGSEGV and `herald filter test`, `config check` and `serve` exited with 139. Each now
/// reports a filter error at the pattern and exits normally (or, for the daemon, keeps serving).
@Suite(.blocking, .timeLimit(.minutes(10)))
struct RegexFilterTests {
    static let crashing = "regexp(attributes.FirstName,'(.*){1,32767}')"
    static let exhausting = "regexp(attributes.FirstName, '((a{255}){255}){255}')"

    static func validateBody(_ filter: String, _ uri: String) -> String {
        JSONValue.object([
            JSONMember(key: "objectFilter", value: .string(filter)),
            JSONMember(key: "sourceObjectUri", value: .string(uri)),
        ]).serializedString()
    }

    @Test func validateAnswersWithThePositionAndTheDaemonStaysUp() throws {
        let dir = TemporaryDirectory()
        let server = try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path), logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        let posted = try client.post("/api/t1/entities", "[\(TestConfiguration.person(id: "1", first: "John"))]")
        let uri = try #require(posted.json?.arrayValue?.first?["uri"]?.stringValue)

        for (filter, position) in [(Self.crashing, 28), (Self.exhausting, 29)] {
            let started = Date()
            let r = try client.post("/api/t1/objectFilter/validate", Self.validateBody(filter, uri))
            #expect(Date().timeIntervalSince(started) < 5)
            // An invalid filter is an answer of this endpoint, not a bad request (as for any other parse error).
            #expect(r.status == 200, "\(r.text)")
            #expect(r.json?["valid"] == .bool(false), "\(r.text)")
            #expect(r.json?["error"]?["position"] == .number("\(position)"), "\(r.text)")
            #expect(r.json?["error"]?["message"]?.stringValue?.contains("invalid repetition size") == true, "\(r.text)")
            #expect(try client.get("/health").status == 200, "the daemon answers after \(filter)")
        }
        let ok = try client.post(
            "/api/t1/objectFilter/validate", Self.validateBody("regexp(attributes.FirstName, 'J(oh|o)n')", uri))
        #expect(ok.json?["passes"] == .bool(true), "\(ok.text)")
        #expect(server.stop() == 0, "graceful exit after the bad filters")
    }

    @Test func filterTestAndFilterApplyExitWith2() throws {
        let dir = TemporaryDirectory()
        let event = dir.file("event.json")
        try #"{"uri": "entities/e1", "type": "configuration/entityTypes/Individual", "attributes": {}}"#
            .write(toFile: event, atomically: true, encoding: .utf8)
        let test = try runCommand(
            BuildProducts.herald, ["filter", "test", "--filter", Self.crashing, "--event", event])
        #expect(test.status == 2, "\(test.stderr)")
        #expect(test.stderr.contains("invalid regular expression at position 28"), "\(test.stderr)")
        #expect(
            test.stderr.contains(String(repeating: " ", count: 28) + "^"), "a caret under the pattern: \(test.stderr)")

        try "".write(toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let apply = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("in.ndjson"), "--filter", Self.exhausting])
        #expect(apply.status == 2, "\(apply.stderr)")
        #expect(apply.stderr.contains("at most 1000"), "\(apply.stderr)")
    }

    @Test func configCheckAndServeRefuseTheFilterAndExitNormally() throws {
        let dir = TemporaryDirectory()
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir),
            streaming: """
                {"messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(dir.file("out.ndjson"))"}}},
                  "destinations": [{"provider": "files", "name": "people", "objectFilter": "\(Self.crashing)"}]}}
                """)
        let check = try runCommand(BuildProducts.herald, ["config", "check", config])
        #expect(check.status == 1, "\(check.stdout) \(check.stderr)")
        #expect(check.stderr.contains("objectFilter"), "\(check.stderr)")
        #expect(check.stderr.contains("invalid repetition size: {1,32767}"), "\(check.stderr)")

        let serve = try runCommand(BuildProducts.herald, ["serve", "--config", config, "--port", "0"])
        #expect(serve.status == 2, "exit status \(serve.status) (a signal shows as its number): \(serve.stderr)")
        #expect(serve.stderr.contains("invalid repetition size: {1,32767}"), "\(serve.stderr)")
    }
}
