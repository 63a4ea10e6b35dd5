import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Frequent match tokens: a coarse token (a rule's exact parts without its fuzzy ones) held by more
/// than `limits.maxEntitiesPerCoarseToken` entities is skipped and counted; the finer token (with
/// the names' phonetic keys) still finds the candidates whose names sound alike.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct FrequentTokenTests {
    static let tenant = """
        {
          "id": "t1",
          "limits": {"maxEntitiesPerCoarseToken": 2},
          "entityTypes": [
            {"uri": "configuration/entityTypes/Individual",
             "attributes": [{"name": "FirstName"}, {"name": "LastName"}, {"name": "PostalCode"}],
             "matchGroups": [
               {"uri": "configuration/entityTypes/Individual/matchGroups/SimilarNameSamePostalCode", "type": "suspect",
                "rule": {"fuzzy": ["FirstName", "LastName"], "exact": ["PostalCode"]}}
             ]}
          ],
          "sources": [{"uri": "configuration/sources/CRM"}]
        }
        """

    let dir = TemporaryDirectory()
    let server: HeraldProcess
    let client: TestClient

    init() throws {
        server = try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path, tenants: FrequentTokenTests.tenant), logPath: dir.file("serve.log"))
        client = TestClient(baseURL: server.baseURL)
    }

    func post(_ id: String, _ first: String, _ last: String) throws -> String {
        let body = """
            [{"type": "configuration/entityTypes/Individual",
              "attributes": {"FirstName": ["\(first)"], "LastName": ["\(last)"], "PostalCode": ["10001"]},
              "crosswalks": [{"type": "configuration/sources/CRM", "value": "\(id)"}]}]
            """
        let r = try client.post("/api/t1/entities", body)
        #expect(r.status == 200, "\(r.text)")
        return r.json?.arrayValue?.first?["uri"]?.stringValue ?? ""
    }

    func skippedLookups() throws -> Int {
        let text = try client.get("/metrics").text
        // `herald_match_tokens_skipped{node="…"} N` (every metric carries the node's id).
        let line = text.split(separator: "\n").first { $0.hasPrefix("herald_match_tokens_skipped ") || $0.hasPrefix("herald_match_tokens_skipped{") }
        return line.flatMap { Int(Double($0.split(separator: " ").last ?? "") ?? -1) } ?? -1
    }

    @Test func aFrequentCoarseTokenIsSkippedAndTheFinerTokenStillFindsTheMatch() throws {
        let zed = try post("1", "Zed", "Quinn")
        _ = try post("2", "Ursula", "Brandt")
        #expect(try skippedLookups() == 0, "two holders are within the cap")
        _ = try post("3", "Ike", "Vollmer")
        let afterThird = try skippedLookups()
        #expect(afterThird >= 1, "the postal-code token now has three holders, over the cap of 2")

        let quin = try post("4", "Zed", "Quin")
        #expect(try skippedLookups() > afterThird)
        let matches = try client.get("/api/t1/\(quin)/_potentialMatches").json?.arrayValue ?? []
        #expect(matches.compactMap { $0["uri"]?.stringValue } == [zed], "found through the phonetic token")
    }
}
