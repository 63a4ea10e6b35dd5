import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Match and merge through the real daemon: events, order, redirects, potential matches,
/// manual merge, unmerge, not-a-match, relations; on each store backend (the scenarios are in
/// `MatchMergeScenario`, one server per test).
@Suite(.blocking, .timeLimit(.minutes(10)))
struct MatchMergeTests {
    static let individual = "configuration/entityTypes/Individual"

    static let tenant = """
        {
          "id": "t1",
          "entityTypes": [
            {"uri": "configuration/entityTypes/Individual",
             "attributes": [{"name": "FirstName"}, {"name": "LastName"}, {"name": "Email", "type": "Email"},
                            {"name": "BirthDate", "type": "Date"}],
             "matchGroups": [
               {"uri": "configuration/entityTypes/Individual/matchGroups/SameEmail", "type": "automatic",
                "rule": {"exact": ["Email"]}},
               {"uri": "configuration/entityTypes/Individual/matchGroups/SimilarName", "type": "suspect",
                "rule": {"fuzzy": ["FirstName", "LastName"], "exactOrNull": ["BirthDate"]}}
             ]},
            {"uri": "configuration/entityTypes/Organization", "attributes": [{"name": "Name"}, {"name": "Email"}],
             "matchGroups": [{"uri": "configuration/entityTypes/Organization/matchGroups/SameName", "type": "automatic",
                              "rule": {"exact": ["Name"]}}]}
          ],
          "relationTypes": [
            {"uri": "configuration/relationTypes/Employment", "attributes": [{"name": "Title"}],
             "startObject": {"objectTypeURI": "configuration/entityTypes/Individual"},
             "endObject": {"objectTypeURI": "configuration/entityTypes/Organization"}}
          ],
          "sources": [{"uri": "configuration/sources/CRM"}, {"uri": "configuration/sources/ERP"}, {"uri": "configuration/sources/WEB"}]
        }
        """

    @Test(arguments: TestStoreBackend.allCases)
    func anAutomaticMatchMergesInTheSameTransactionWithEventsInOrder(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).anAutomaticMatchMergesInTheSameTransactionWithEventsInOrder()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func suspectMatchesArePotentialMatchesUntilTheyNoLongerMatch(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).suspectMatchesArePotentialMatchesUntilTheyNoLongerMatch()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func deletingOneSideOfAPotentialMatchTellsTheOther(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).deletingOneSideOfAPotentialMatchTellsTheOther()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func notAMatchIsNeverMergedOrSuggestedAgain(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).notAMatchIsNeverMergedOrSuggestedAgain()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func manualMergeAndUnmergeRoundTrip(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).manualMergeAndUnmergeRoundTrip()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func mergeHistoryAndAnEntitysEventsFollowMergesAndUnmerges(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).mergeHistoryAndAnEntitysEventsFollowMergesAndUnmerges()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func failedMergesSayWhyAndChangeNothing(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).failedMergesSayWhyAndChangeNothing()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func relationsAreVersionedAndMoveToTheWinner(_ backend: TestStoreBackend) throws {
        try MatchMergeScenario(backend).relationsAreVersionedAndMoveToTheWinner()
    }

    @Test(arguments: TestStoreBackend.allCases)
    func concurrentPostsOfMatchingRecordsMergeOnce(_ backend: TestStoreBackend) async throws {
        try await MatchMergeScenario(backend).concurrentPostsOfMatchingRecordsMergeOnce()
    }
}

/// A `herald serve` with `MatchMergeTests.tenant` on a store of the given backend, its helpers, and the
/// scenarios `MatchMergeTests` runs.
struct MatchMergeScenario {
    let dir = TemporaryDirectory()
    let server: HeraldProcess
    let client: TestClient

    init(_ backend: TestStoreBackend) throws {
        let store = try TestStore(backend, name: "matchmerge")
        server = try HeraldProcess(
            configPath: TestConfiguration.write(in: dir.path, tenants: MatchMergeTests.tenant, store: store),
            logPath: dir.file("serve.log"))
        client = TestClient(baseURL: server.baseURL)
    }

    func person(_ source: String, _ id: String, first: String, last: String, email: String? = nil, birth: String? = nil) -> String {
        var attributes = ["\"FirstName\": [\"\(first)\"]", "\"LastName\": [\"\(last)\"]"]
        if let email { attributes.append("\"Email\": [\"\(email)\"]") }
        if let birth { attributes.append("\"BirthDate\": [\"\(birth)\"]") }
        return """
            {"type": "\(MatchMergeTests.individual)", "attributes": {\(attributes.joined(separator: ", "))},
             "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"}]}
            """
    }

    func post(_ items: String...) throws -> [JSONValue] {
        let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
        #expect(r.status == 200, "\(r.text)")
        return r.json?.arrayValue ?? []
    }

    func uri(_ result: JSONValue) -> String { result["uri"]?.stringValue ?? "" }
    func id(_ uri: String) -> String { String(uri.dropFirst("entities/".count)) }

    func anAutomaticMatchMergesInTheSameTransactionWithEventsInOrder() throws {
        let first = try post(person("CRM", "c1", first: "Ada", last: "Lovelace", email: "ada@example.com"))
        let winner = uri(first[0])
        let after = try client.events(tenant: "t1").count
        let second = try post(person("ERP", "e1", first: "Augusta", last: "Lovelace", email: "ADA@example.com"))
        #expect(uri(second[0]) == winner, "the answer names the entity the record ended in")

        let events = Array(try client.events(tenant: "t1").dropFirst(after))
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["ENTITY_CREATED", "ENTITY_CHANGED", "ENTITIES_MERGED", "ENTITY_LOST_MERGE"])
        let loser = events[0]["objectUri"]?.stringValue ?? ""
        #expect(loser != winner)
        #expect(events[1]["objectUri"]?.stringValue == winner)
        #expect(events[2]["uris"]?.arrayValue?.compactMap(\.stringValue) == [winner, loser])
        #expect(events[3]["objectUri"]?.stringValue == loser)
        #expect(events[3]["objectVersion"] == .number("2"))
        #expect(events[1]["objectVersion"] == .number("2"))

        // The winner has both crosswalks and both first names; the loser's URI resolves to it.
        let merged = try client.get("/api/t1/\(winner)").json
        #expect(merged?["crosswalks"]?.arrayValue?.count == 2)
        #expect(Set(merged?["attributes"]?["FirstName"]?.arrayValue?.compactMap { $0["value"]?.stringValue } ?? []) == ["Ada", "Augusta"])
        let redirected = try client.get("/api/t1/\(loser)")
        #expect(redirected.status == 200)
        #expect(redirected.json?["uri"]?.stringValue == winner)
        #expect(redirected.json?["redirectedFrom"]?.stringValue == loser)

        // Posting through the loser's crosswalk now updates the winner.
        let update = try post(person("ERP", "e1", first: "Augusta Ada", last: "Lovelace", email: "ada@example.com"))
        #expect(uri(update[0]) == winner)
        #expect(update[0]["status"] == .string("updated"))
    }

    func suspectMatchesArePotentialMatchesUntilTheyNoLongerMatch() throws {
        let a = uri(try post(person("CRM", "s1", first: "Jonathan", last: "Smith", birth: "1980-05-01"))[0])
        let b = uri(try post(person("ERP", "s2", first: "Jonathon", last: "Smith", birth: "1980-05-01"))[0])
        #expect(a != b, "a suspect match does not merge")
        let events = try client.events(tenant: "t1")
        let found = try #require(events.last)
        #expect(found["type"] == .string("POTENTIAL_MATCHES_FOUND"))
        #expect(found["objectUri"]?.stringValue == b)
        #expect(found["matches"]?.arrayValue?.first?["uri"]?.stringValue == a)
        #expect(found["matches"]?.arrayValue?.first?["matchRules"] == .array([.string(MatchMergeTests.individual + "/matchGroups/SimilarName")]))
        let listed = try client.get("/api/t1/\(a)/_potentialMatches").json?.arrayValue ?? []
        #expect(listed.compactMap { $0["uri"]?.stringValue } == [b])

        // A different birth date: no longer a match.
        _ = try post(person("ERP", "s2", first: "Jonathon", last: "Smith", birth: "1991-01-01"))
        let removed = try #require(try client.events(tenant: "t1").last)
        #expect(removed["type"] == .string("POTENTIAL_MATCHES_REMOVED"))
        #expect(try client.get("/api/t1/\(a)/_potentialMatches").json?.arrayValue?.isEmpty == true)
    }

    /// Deleting one side of a potential match tells the other side: POTENTIAL_MATCHES_REMOVED on it, naming
    /// the removed entity, after the ENTITY_REMOVED.
    func deletingOneSideOfAPotentialMatchTellsTheOther() throws {
        let b = uri(try post(person("CRM", "d1", first: "Jonathan", last: "Smyth", birth: "1970-02-03"))[0])
        let c = uri(try post(person("ERP", "d2", first: "Jonathon", last: "Smyth", birth: "1970-02-03"))[0])
        #expect(try client.get("/api/t1/\(b)/_potentialMatches").json?.arrayValue?.count == 1)
        #expect(try client.request("DELETE", "/api/t1/\(c)").status == 200)
        #expect(try client.get("/api/t1/\(b)/_potentialMatches").json?.arrayValue?.isEmpty == true)
        let events = try client.events(tenant: "t1").suffix(2)
        #expect(events.map { $0["type"]?.stringValue ?? "" } == ["ENTITY_REMOVED", "POTENTIAL_MATCHES_REMOVED"])
        #expect(events.last?["objectUri"]?.stringValue == b)
        #expect(events.last?["matches"]?.arrayValue?.first?["uri"]?.stringValue == c)
    }

    func notAMatchIsNeverMergedOrSuggestedAgain() throws {
        let a = uri(try post(person("CRM", "n1", first: "Maria", last: "Garcia"))[0])
        let b = uri(try post(person("ERP", "n2", first: "Mariah", last: "Garcia"))[0])
        #expect(try client.get("/api/t1/\(a)/_potentialMatches").json?.arrayValue?.count == 1)
        let r = try client.post("/api/t1/\(a)/_notMatch?uri=\(b)", "")
        #expect(r.status == 200, "\(r.text)")
        #expect(try client.events(tenant: "t1").last?["type"] == .string("POTENTIAL_MATCHES_REMOVED"))
        #expect(try client.get("/api/t1/\(a)/_potentialMatches").json?.arrayValue?.isEmpty == true)
        // Even an automatic match (same email now) does not merge them.
        _ = try post(person("CRM", "n1", first: "Maria", last: "Garcia", email: "mg@example.com"))
        let same = try post(person("ERP", "n2", first: "Mariah", last: "Garcia", email: "mg@example.com"))
        #expect(uri(same[0]) == b)
        #expect(try client.get("/api/t1/\(b)").json?["redirectedFrom"] == nil)
        #expect(try client.get("/api/t1/\(a)/_potentialMatches").json?.arrayValue?.isEmpty == true)
    }

    func manualMergeAndUnmergeRoundTrip() throws {
        let a = uri(try post(person("CRM", "m1", first: "Grace", last: "Hopper", email: "grace@navy.mil", birth: "1906-12-09"))[0])
        let b = uri(try post(person("WEB", "m2", first: "Amazing", last: "Grace", email: "amazing@example.com"))[0])
        let before = try #require(try client.get("/api/t1/\(b)").json)

        let conflict = try client.request("POST", "/api/t1/\(a)/_sameAs?uri=\(b)", headers: [("If-Match", "\"7\"")])
        #expect(conflict.status == 409)
        #expect(conflict.json?["errorCode"] == .string("VERSION_CONFLICT"))
        // A malformed If-Match is refused, not ignored (ignoring it would merge without the precondition).
        for tag in ["abc", "\"v3\"", "\"0\""] {
            let bad = try client.request("POST", "/api/t1/\(a)/_sameAs?uri=\(b)", headers: [("If-Match", tag)])
            #expect(bad.status == 400, "If-Match: \(tag) → \(bad.status) \(bad.text)")
            #expect(bad.json?["errorCode"] == .string("INVALID_IF_MATCH"))
        }
        #expect(try client.get("/api/t1/\(a)").status == 200, "nothing merged by the refused requests")

        let merge = try client.post("/api/t1/\(b)/_sameAs?uri=\(a)&explicitWinner=true", "")
        #expect(merge.status == 200, "\(merge.text)")
        #expect(merge.json?["uri"]?.stringValue == b, "explicitWinner makes the path entity win although it is newer")
        let merged = try client.events(tenant: "t1").suffix(3).map { $0["type"]?.stringValue ?? "" }
        #expect(merged == ["ENTITY_CHANGED", "ENTITIES_MERGED", "ENTITY_LOST_MERGE"])
        #expect(try client.get("/api/t1/\(a)").json?["redirectedFrom"]?.stringValue == a)

        let unmerge = try client.post("/api/t1/\(b)/_unmerge?contributorURI=\(a)", "")
        #expect(unmerge.status == 200, "\(unmerge.text)")
        let split = try client.events(tenant: "t1").suffix(3)
        #expect(split.map { $0["type"]?.stringValue ?? "" } == ["ENTITY_CHANGED", "ENTITY_CREATED", "ENTITIES_SPLITTED"])
        #expect(split.last?["uris"]?.arrayValue?.compactMap(\.stringValue) == [b, a])

        // Byte for byte: the origin's attributes and crosswalks are what they were before the merge.
        let after = try #require(try client.get("/api/t1/\(b)").json)
        #expect(after["attributes"] == before["attributes"])
        #expect(after["crosswalks"] == before["crosswalks"])
        let spawn = try #require(try client.get("/api/t1/\(a)").json)
        #expect(spawn["redirectedFrom"] == nil)
        #expect(spawn["crosswalks"]?.arrayValue?.first?["value"] == .string("m1"))
        #expect(spawn["attributes"]?["BirthDate"] != nil)
        // The pair is now not-a-match: reposting the same data does not merge it back.
        _ = try post(person("CRM", "m1", first: "Grace", last: "Hopper", email: "amazing@example.com", birth: "1906-12-09"))
        #expect(try client.get("/api/t1/\(a)").json?["redirectedFrom"] == nil)
    }

    /// `_merges` lists the merge records (automatic with its rules, manual without), oldest first, from either side;
    /// an unmerge takes its record away. The events API's `objectUri` gives an entity's own events and the merge
    /// events naming it; `type` and `tail` narrow any read.
    func mergeHistoryAndAnEntitysEventsFollowMergesAndUnmerges() throws {
        let sameEmail = MatchMergeTests.individual + "/matchGroups/SameEmail"
        let winner = uri(try post(person("CRM", "h1", first: "Ada", last: "Lovelace", email: "ada@example.com"))[0])
        let loserResult = try post(person("ERP", "h2", first: "Augusta", last: "Byron", email: "ADA@example.com"))
        #expect(uri(loserResult[0]) == winner)
        let all = try client.events(tenant: "t1")
        let loser = try #require(all.first { $0["type"] == .string("ENTITY_LOST_MERGE") }?["objectUri"]?.stringValue)
        let other = uri(try post(person("WEB", "h3", first: "Someone", last: "Else", email: "else@example.com"))[0])

        func merges(_ uri: String) throws -> [JSONValue] {
            let r = try client.get("/api/t1/\(uri)/_merges")
            #expect(r.status == 200, "\(r.text)")
            return r.json?["merges"]?.arrayValue ?? []
        }
        let automatic = try merges(winner)
        #expect(automatic.count == 1, "\(automatic)")
        #expect(automatic.first?["winner"]?.stringValue == winner)
        #expect(automatic.first?["loser"]?.stringValue == loser)
        #expect(automatic.first?["matchRules"] == .array([.string(sameEmail)]))
        #expect(automatic.first?["user"] == .string("anonymous"))
        #expect((automatic.first?["time"]?.int64Value ?? 0) > 0)
        #expect(try merges(loser) == automatic, "the loser's history is the merge it lost")
        #expect(try merges(other).isEmpty)

        // A manual merge: no match rules; oldest first.
        #expect(try client.post("/api/t1/\(winner)/_sameAs?uri=\(other)&explicitWinner=true", "").status == 200)
        let both = try merges(winner)
        #expect(both.compactMap { $0["loser"]?.stringValue } == [loser, other], "\(both)")
        #expect(both.last?["matchRules"] == nil)

        // The entity's events: its own, and the merge events naming it.
        func events(_ query: String) throws -> [JSONValue] {
            let r = try client.get("/api/t1/events?\(query)")
            #expect(r.status == 200, "\(query): \(r.text)")
            return r.json?["events"]?.arrayValue ?? []
        }
        func types(_ events: [JSONValue]) -> [String] { events.map { $0["type"]?.stringValue ?? "" } }
        let loserEvents = try events("objectUri=\(loser)")
        #expect(types(loserEvents) == ["ENTITY_CREATED", "ENTITIES_MERGED", "ENTITY_LOST_MERGE"], "\(types(loserEvents))")
        #expect(loserEvents[1]["objectUri"]?.stringValue == winner)
        let seqs = loserEvents.compactMap { $0["seq"]?.int64Value }
        #expect(seqs == seqs.sorted())
        #expect(types(try events("objectUri=\(loser)&type=ENTITY_LOST_MERGE")) == ["ENTITY_LOST_MERGE"])
        #expect(types(try events("objectUri=\(loser)&tail=1")) == ["ENTITY_LOST_MERGE"])
        #expect(types(try events("objectUri=\(loser)&after=\(seqs[0])")) == ["ENTITIES_MERGED", "ENTITY_LOST_MERGE"])
        let winnerEvents = try events("objectUri=\(winner)")
        #expect(winnerEvents.allSatisfy {
            $0["objectUri"]?.stringValue == winner
                || ($0["uris"]?.arrayValue?.contains(.string(winner)) ?? false)
        })
        #expect(types(winnerEvents).filter { $0 == "ENTITIES_MERGED" }.count == 2)

        // Tail and type over the whole queue.
        let everything = try client.events(tenant: "t1")
        let tail = try events("tail=3")
        #expect(tail.compactMap { $0["seq"]?.int64Value } == everything.suffix(3).compactMap { $0["seq"]?.int64Value })
        let mergedTail = try events("type=ENTITIES_MERGED,ENTITY_LOST_MERGE&tail=3")
        #expect(mergedTail.compactMap { $0["seq"]?.int64Value }
            == everything.filter { ["ENTITIES_MERGED", "ENTITY_LOST_MERGE"].contains($0["type"]?.stringValue ?? "") }
            .suffix(3).compactMap { $0["seq"]?.int64Value })
        #expect(types(try events("type=ENTITY_CREATED&limit=2")) == ["ENTITY_CREATED", "ENTITY_CREATED"])

        // Unmerging the loser takes its record away.
        #expect(try client.post("/api/t1/\(winner)/_unmerge?contributorURI=\(loser)", "").status == 200)
        #expect(try merges(winner).compactMap { $0["loser"]?.stringValue } == [other])
        #expect(try merges(loser).isEmpty)
        #expect(types(try events("objectUri=\(loser)&tail=2")) == ["ENTITY_CREATED", "ENTITIES_SPLITTED"])

        // Bad parameters and unknown entities.
        for (query, needle) in [
            ("type=ENTITY_CREATED,NOPE", "known: ENTITY_CREATED"), ("type=", "unknown event type ''"), ("tail=0", "tail"),
            ("tail=1001", "tail"), ("tail=5&limit=5", "not both"), ("objectUri=relations/x", "entities/ID"),
            ("objectUri=entities/a%20b", "objectUri"),
        ] {
            let r = try client.get("/api/t1/events?\(query)")
            #expect(r.status == 400 && r.json?["errorCode"] == .string("INVALID_PARAMETER"), "\(query): \(r.status)")
            #expect(r.json?["errorMessage"]?.stringValue?.contains(needle) == true, "\(query): \(r.text)")
        }
        let missing = try client.get("/api/t1/entities/nosuch1/_merges")
        #expect(missing.status == 404 && missing.json?["errorCode"] == .string("ENTITY_NOT_FOUND"))
    }

    func failedMergesSayWhyAndChangeNothing() throws {
        let person = uri(try post(person("CRM", "f1", first: "Alan", last: "Turing"))[0])
        let org = try client.post(
            "/api/t1/entities",
            #"[{"type": "configuration/entityTypes/Organization", "attributes": {"Name": ["Bletchley"]}, "crosswalks": [{"type": "configuration/sources/CRM", "value": "o1"}]}]"#)
        let orgURI = try #require(org.json?.arrayValue?.first?["uri"]?.stringValue)
        let count = try client.events(tenant: "t1").count
        let r = try client.post("/api/t1/\(person)/_sameAs?uri=\(orgURI)", "")
        #expect(r.status == 400)
        #expect(r.json?["errorCode"] == .string("ENTITY_TYPE_MISMATCH"))
        let self_ = try client.post("/api/t1/\(person)/_sameAs?uri=\(person)", "")
        #expect(self_.status == 400)
        let missing = try client.post("/api/t1/\(person)/_sameAs?uri=entities/nope", "")
        #expect(missing.status == 404)
        let notMerged = try client.post("/api/t1/\(person)/_unmerge?contributorURI=\(orgURI)", "")
        #expect(notMerged.status == 400)
        #expect(notMerged.json?["errorCode"] == .string("NOT_MERGED"))
        #expect(try client.events(tenant: "t1").count == count, "nothing half-done")
    }

    func relationsAreVersionedAndMoveToTheWinner() throws {
        let a = uri(try post(person("CRM", "r1", first: "Linus", last: "T", email: "l@kernel.org"))[0])
        let org = try #require(
            try client.post(
                "/api/t1/entities",
                #"[{"type": "configuration/entityTypes/Organization", "attributes": {"Name": ["Linux Foundation"]}, "crosswalks": [{"type": "configuration/sources/CRM", "value": "lf"}]}]"#
            ).json?.arrayValue?.first?["uri"]?.stringValue)
        let relation = """
            [{"type": "configuration/relationTypes/Employment", "startObject": {"objectURI": "\(a)"},
              "endObject": {"crosswalks": [{"type": "configuration/sources/CRM", "value": "lf"}]},
              "attributes": {"Title": ["Fellow"]}, "crosswalks": [{"type": "configuration/sources/CRM", "value": "job-1"}]}]
            """
        let created = try client.post("/api/t1/relations", relation)
        let rel = try #require(created.json?.arrayValue?.first?["uri"]?.stringValue)
        #expect(rel.hasPrefix("relations/"))
        let got = try client.get("/api/t1/\(rel)").json
        #expect(got?["startObject"]?["objectURI"]?.stringValue == a)
        #expect(got?["endObject"]?["objectURI"]?.stringValue == org)
        #expect(try client.events(tenant: "t1").last?["type"] == .string("RELATIONSHIP_CREATED"))

        let wrongEnd = try client.post(
            "/api/t1/relations",
            relation.replacingOccurrences(of: "\"value\": \"lf\"", with: "\"value\": \"r1\"").replacingOccurrences(of: "job-1", with: "job-2"))
        #expect(wrongEnd.json?.arrayValue?.first?["errors"]?["errorCode"] == .string("ENTITY_TYPE_MISMATCH"))

        // A duplicate of the person merges into it... the other way round: an older entity wins.
        let b = uri(try post(person("ERP", "r2", first: "Linus", last: "Torvalds", email: "l@kernel.org"))[0])
        #expect(b == a)
        // Now make the person lose a merge: post an older record? Instead merge it explicitly into a new one.
        let c = uri(try post(person("WEB", "r3", first: "Lin", last: "Torvalds", email: "other@example.com"))[0])
        #expect(try client.post("/api/t1/\(c)/_sameAs?uri=\(a)&explicitWinner=true", "").status == 200)
        let moved = try client.get("/api/t1/\(rel)").json
        #expect(moved?["startObject"]?["objectURI"]?.stringValue == c, "the relation now starts at the winner")
        let relationEvents = try client.events(tenant: "t1").filter { $0["objectUri"]?.stringValue == rel }
        #expect(relationEvents.map { $0["type"]?.stringValue ?? "" } == ["RELATIONSHIP_CREATED", "RELATIONSHIP_CHANGED"])
        #expect(relationEvents.map { $0["objectVersion"]?.int64Value ?? 0 } == [1, 2])

        let removed = try client.request("DELETE", "/api/t1/\(rel)")
        #expect(removed.status == 200)
        #expect(try client.events(tenant: "t1").last?["type"] == .string("RELATIONSHIP_REMOVED"))
        #expect(try client.get("/api/t1/\(rel)").status == 404)
    }

    func concurrentPostsOfMatchingRecordsMergeOnce() async throws {
        // Many pairs of records that match each other, posted at the same time from two connections.
        let pairs = 40
        try await withThrowingTaskGroup(of: Void.self) { group in
            for side in 0..<2 {
                group.addTask {
                    let c = TestClient(baseURL: self.server.baseURL)
                    for i in 0..<pairs {
                        let source = side == 0 ? "CRM" : "ERP"
                        let body = "[\(self.person(source, "p\(i)", first: "P\(i)", last: "Same", email: "p\(i)@example.com"))]"
                        let r = try c.post("/api/t1/entities", body)
                        if r.status != 200 { throw HeraldProcessError(message: r.text) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let events = try client.events(tenant: "t1")
        let merges = events.filter { $0["type"] == .string("ENTITIES_MERGED") }
        let losses = events.filter { $0["type"] == .string("ENTITY_LOST_MERGE") }
        #expect(merges.count == pairs, "each pair merged exactly once")
        #expect(losses.count == pairs)
        // Every pair ends in one live entity holding both crosswalks.
        let winners = Set(merges.compactMap { $0["objectUri"]?.stringValue })
        #expect(winners.count == pairs)
        for w in winners {
            #expect(try client.get("/api/t1/\(w)").json?["crosswalks"]?.arrayValue?.count == 2)
        }
    }
}

/// The scenario from the design talk users know: an entity is created, matches an existing one and
/// merges; two destinations on one queue each receive exactly their share. On each store backend.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct MergeStreamingScenarioTests {
    @Test(arguments: TestStoreBackend.allCases)
    func createdMatchedMergedStreamsToTwoDestinationsOnOneQueue(_ backend: TestStoreBackend) throws {
        let dir = TemporaryDirectory()
        let store = try TestStore(backend, name: "mergestreaming")
        let out = dir.file("queue.ndjson")
        var tenant = MatchMergeTests.tenant
        tenant.removeLast()
        while tenant.last?.isWhitespace == true { tenant.removeLast() }
        tenant += """
            ,
              "streamingConfig": {"analyzeOvChanges": true, "messaging": {
                "providers": {"q": {"plugin": "file", "config": {"path": "\(out)"}}},
                "destinations": [
                  {"provider": "q", "name": "mdm", "typeFilter": ["ENTITY_CREATED"], "batch": {"lingerMs": 0}},
                  {"provider": "q", "name": "mdm", "typeFilter": ["ENTITY_CHANGED", "ENTITIES_MERGED", "ENTITY_LOST_MERGE"],
                   "objectFilter": "equals(attributes.LastName, 'lovelace')", "payloadType": "SNAPSHOT_WITH_DELTA",
                   "batch": {"lingerMs": 0}}]}}
            }
            """
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        let config = TestConfiguration.write(
            in: dir.path, tenants: tenant, extra: "\"pluginDirectories\": [\"\(plugins)\"],", store: store)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        func post(_ source: String, _ id: String, _ first: String, _ last: String, _ email: String) throws {
            let body = """
                [{"type": "\(MatchMergeTests.individual)", "attributes": {"FirstName": ["\(first)"], "LastName": ["\(last)"], "Email": ["\(email)"]},
                  "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"}]}]
                """
            #expect(try client.post("/api/t1/entities", body).status == 200)
        }
        try post("CRM", "1", "Ada", "Lovelace", "ada@example.com")
        try post("CRM", "2", "Charles", "Babbage", "cb@example.com")  // created, never changed
        try post("ERP", "9", "Augusta", "Lovelace", "ADA@example.com")  // created, matches Ada, merges
        try post("ERP", "8", "Charlie", "Babbage", "cb@example.com")  // merges too, but Babbage fails the filter

        let createdSuffix = StreamingTestSupport.idSuffix("q/mdm")
        let otherSuffix = StreamingTestSupport.idSuffix("q/mdm#2")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(out).count == 7 }, "\(StreamingTestSupport.readLines(out).count) lines")
        Thread.sleep(forTimeInterval: 0.3)
        let lines = StreamingTestSupport.readLines(out)
        #expect(lines.count == 7)
        func type(_ l: JSONValue) -> String { l["headers"]?["eventType"]?.stringValue ?? "" }
        func suffix(_ l: JSONValue) -> String { String((l["headers"]?["messageId"]?.stringValue ?? "").split(separator: "-").last ?? "") }
        let created = lines.filter { suffix($0) == createdSuffix }
        let others = lines.filter { suffix($0) == otherSuffix }
        #expect(created.map(type) == ["ENTITY_CREATED", "ENTITY_CREATED", "ENTITY_CREATED", "ENTITY_CREATED"])
        #expect(others.map(type) == ["ENTITY_CHANGED", "ENTITIES_MERGED", "ENTITY_LOST_MERGE"], "only Lovelace's merge passes")
        let bodies = others.compactMap { try? JSONParser.parse($0["body"]?.stringValue ?? "") }
        #expect(bodies[0]["object"]?["crosswalks"]?.arrayValue?.count == 2, "the winner after the merge")
        #expect(bodies[0]["deltas"]?["delta"] != nil, "SNAPSHOT_WITH_DELTA carries the delta")
        #expect(bodies[1]["uris"]?.arrayValue?.count == 2, "ENTITIES_MERGED: {type, uris, updatedTime}")
        #expect(bodies[1]["updatedTime"] != nil)
        #expect(bodies[1]["object"] == nil)
        #expect(bodies[2]["object"]?["attributes"]?["FirstName"]?.arrayValue?.first?["value"] == .string("Augusta"), "the loser's snapshot")
        // ENTITY_LOST_MERGE names the winner first, as ENTITIES_MERGED does, and is dated at the merge.
        let winner = bodies[1]["uris"]?.arrayValue?.first
        #expect(bodies[2]["uris"]?.arrayValue == [winner ?? .null, bodies[2]["object"]?["uri"] ?? .null])
        #expect(bodies[2]["object"]?["updatedTime"] == bodies[1]["updatedTime"], "the loser was last updated by the merge")
        for l in created + others {
            #expect(l["headers"]?["tenantId"] == .string("t1"))
            #expect(l["key"] == l["headers"]?["sourceObjectUri"])
        }
        withExtendedLifetime(server) {}
    }
}
