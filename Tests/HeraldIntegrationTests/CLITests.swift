import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

@Suite(.timeLimit(.minutes(5)))
struct CLITests {
    @Test func configCheckAcceptsTheDemoAndListsEveryError() throws {
        let good = try runCommand(BuildProducts.herald, ["config", "check", BuildProducts.packageRoot + "/examples/demo/herald.json"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("tenant demo: 2 entity type(s)"))

        let dir = TemporaryDirectory()
        let bad = dir.file("bad.json")
        try #"{"dataDirectory": 5, "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/A", "attributes": [{"name": "X", "type": "Nope"}]}]}], "sever": {}}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let result = try runCommand(BuildProducts.herald, ["config", "check", bad])
        #expect(result.status == 1)
        #expect(result.stderr.contains("3 configuration errors"))
        #expect(result.stderr.contains("dataDirectory: expected a string"))
        #expect(result.stderr.contains("tenants[0].entityTypes[0].attributes[0].type: 'Nope' is not one of"))
        #expect(result.stderr.contains("sever: unknown key 'sever' (did you mean 'server'?)"))
    }

    @Test func sampleDataIsDeterministicWithDuplicates() throws {
        let dir = TemporaryDirectory()
        let a = try runCommand(BuildProducts.herald, ["sample-data", "--people", "1000", "--seed", "3", "-o", dir.file("a"), "--truth", dir.file("t")])
        #expect(a.status == 0)
        _ = try runCommand(BuildProducts.herald, ["sample-data", "--people", "1000", "--seed", "3", "-o", dir.file("b")])
        let first = try String(contentsOfFile: dir.file("a"), encoding: .utf8)
        #expect(first == (try String(contentsOfFile: dir.file("b"), encoding: .utf8)))
        let lines = first.split(separator: "\n")
        #expect(lines.count > 1000, "some people have records in several sources")
        let truth = try String(contentsOfFile: dir.file("t"), encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(truth.count == lines.count)
        let sources = Set(truth.map { $0.split(separator: ",")[0] })
        #expect(sources == ["CRM", "ERP", "WEB"])
        let averageBytes = first.utf8.count / lines.count
        #expect(averageBytes > 1000 && averageBytes < 2000, "~1.5 KB entities, got \(averageBytes)")
    }

    @Test func loadReportsRejectedLinesAndCommitsTheRest() throws {
        let dir = TemporaryDirectory()
        let server = try HeraldProcess(configPath: TestConfiguration.write(in: dir.path), logPath: dir.file("log"))
        var lines: [String] = []
        for i in 1...30 { lines.append(TestConfiguration.person(id: "L\(i)", first: "P\(i)")) }
        lines[9] = "{not json"
        lines[19] = TestConfiguration.person(id: "L20", extra: "\"Shoe\": [\"42\"]")
        lines.insert("", at: 5)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let result = try runCommand(
            BuildProducts.herald,
            ["load", dir.file("in.ndjson"), "--tenant", "t1", "--url", server.baseURL, "--batch", "7", "--progress", "lines"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("line 11: MALFORMED_JSON"), "\(result.stderr)")
        #expect(result.stderr.contains("line 21: UNKNOWN_ATTRIBUTE at attributes.Shoe"), "\(result.stderr)")
        #expect(result.stderr.contains("loaded 28 of 30 records"), "\(result.stderr)")
        #expect(result.stderr.contains("progress: 100%"))
        let events = try TestClient(baseURL: server.baseURL).events(tenant: "t1")
        #expect(events.count == 28)
    }

    @Test func loadStopsWithAResumeHintWhenTheServerIsGone() throws {
        let dir = TemporaryDirectory()
        try (TestConfiguration.person(id: "x", first: "X") + "\n").write(
            toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let result = try runCommand(
            BuildProducts.herald,
            ["load", dir.file("in.ndjson"), "--tenant", "t1", "--url", "http://127.0.0.1:9", "--retries", "0", "--progress", "none"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("every line up to 0 is committed"))
        #expect(result.stderr.contains("--start-line 1"))
    }
}
