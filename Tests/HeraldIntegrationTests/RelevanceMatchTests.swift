import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// A relevance group through the real daemon: a pair with swapped names, a transposed identifier and a date
/// typo merges by score; a weaker pair is a potential match whose score and comparisons appear in the event,
/// the `_potentialMatches` answer and (for the merge) the merge history.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct RelevanceMatchTests {
    static let individual = "configuration/entityTypes/Individual"
    static let group = individual + "/matchGroups/Scored"

    static let tenant = """
        {
          "id": "t1",
          "entityTypes": [
            {"uri": "configuration/entityTypes/Individual",
             "attributes": [{"name": "FirstName"}, {"name": "LastName"}, {"name": "BirthDate", "type": "Date"},
                            {"name": "NationalId"}, {"name": "Email", "type": "Email"}],
             "matchGroups": [
               {"uri": "\(group)", "type": "relevance",
                "comparisons": [
                  {"rule": {"fuzzy": {"attributes": ["FirstName", "LastName"], "anyOrder": true, "aliases": "englishGivenNames"}},
                   "weight": 4, "mismatchWeight": 2, "label": "names"},
                  {"rule": {"similarDate": ["BirthDate"]}, "weight": 3, "mismatchWeight": 3, "label": "birth date"},
                  {"rule": {"similarCode": {"attributes": ["NationalId"], "minLength": 6}}, "weight": 4, "mismatchWeight": 4,
                   "label": "national id"},
                  {"rule": {"exact": ["Email"]}, "weight": 2, "label": "email"}
                ],
                "thresholds": {"merge": 0.7, "potentialMatch": 0.3}}
             ]}
          ],
          "sources": [{"uri": "configuration/sources/CRM"}, {"uri": "configuration/sources/ERP"}, {"uri": "configuration/sources/WEB"}]
        }
        """

    @Test(arguments: TestStoreBackend.allCases)
    func scoresMergeAndSuggestWithTheirComparisons(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let store = try TestStore(backend, name: "relevance")
        let server = try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path, tenants: RelevanceMatchTests.tenant, store: store),
            logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)

        func post(_ source: String, _ id: String, _ attributes: [String: String]) throws -> String {
            let members = attributes.sorted { $0.key < $1.key }.map { "\"\($0.key)\": [\"\($0.value)\"]" }
            let body = """
                [{"type": "\(RelevanceMatchTests.individual)", "attributes": {\(members.joined(separator: ", "))},
                  "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"}]}]
                """
            let r = try client.post("/api/t1/entities", body)
            #expect(r.status == 200, "\(r.text)")
            return r.json?.arrayValue?.first?["uri"]?.stringValue ?? ""
        }

        let a = try post("CRM", "p1", ["FirstName": "Gabrielle", "LastName": "Langer", "BirthDate": "1933-02-12", "NationalId": "417380412"])
        // Names swapped (one with a typo), day and month digits transposed, two id digits transposed: 11 of 13.
        let b = try post("ERP", "p2", ["FirstName": "Laznger", "LastName": "Gabrielle", "BirthDate": "1933-01-22", "NationalId": "417830412"])
        #expect(b == a, "merged by score")
        let merges = try client.get("/api/t1/\(a)/_merges").json?["merges"]?.arrayValue ?? []
        #expect(merges.first?["matchRules"] == .array([.string(RelevanceMatchTests.group)]))
        let merged = try #require(merges.first?["relevance"]?.arrayValue?.first)
        #expect(merged["score"] == .number("0.8462"))
        #expect(merged["comparisons"]?.arrayValue?.map { $0["comparison"]?.stringValue ?? "" } == ["names", "birth date", "national id", "email"])
        #expect(merged["comparisons"]?.arrayValue?.map { $0["contribution"] ?? .null } == [.number("4"), .number("3"), .number("4"), .number("0")])

        // A nickname of the same name, no birth date or id: 4 of 13, a potential match.
        let c = try post("WEB", "p3", ["FirstName": "Gabby", "LastName": "Langer", "Email": "gl@example.com"])
        #expect(c != a)
        let found = try #require(try client.events(tenant: "t1").last)
        #expect(found["type"] == .string("POTENTIAL_MATCHES_FOUND"))
        let match = try #require(found["matches"]?.arrayValue?.first)
        #expect(match["uri"]?.stringValue == a)
        #expect(match["matchRules"] == .array([.string(RelevanceMatchTests.group)]))
        let scored = try #require(match["relevance"]?.arrayValue?.first)
        #expect(scored["matchGroup"]?.stringValue == RelevanceMatchTests.group)
        #expect(scored["score"] == .number("0.3077"))
        #expect(scored["comparisons"]?.arrayValue?.first?["contribution"] == .number("4"))
        #expect(scored["comparisons"]?.arrayValue?.first?["weight"] == .number("4"))
        let listed = try client.get("/api/t1/\(a)/_potentialMatches").json?.arrayValue ?? []
        #expect(listed.first?["uri"]?.stringValue == c)
        #expect(listed.first?["relevance"]?.arrayValue?.first?["score"] == .number("0.3077"))

        // Someone else: a conflicting birth date and id outweigh the names; no action.
        let d = try post("WEB", "p4", ["FirstName": "Gabrielle", "LastName": "Langer", "BirthDate": "1971-07-30", "NationalId": "555000111"])
        #expect(d != a && d != c)
        #expect(try client.get("/api/t1/\(d)/_potentialMatches").json?.arrayValue?.contains { $0["uri"]?.stringValue == a } == false)
        _ = server.stop()
    }
}
