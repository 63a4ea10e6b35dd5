import HeraldJSON
import HeraldModel
import Testing

struct EntityMergeTests {
    func entity(_ id: String, _ posts: [String]) throws -> Entity {
        var h = Harness()
        h.ids = IDGenerator(seed: UInt64(id.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var e: Entity?
        for p in posts {
            let outcome = try h.ingestor.apply(
                try input(p), to: e, newEntityId: id, now: 1000, user: "u", ids: &h.ids, at: JSONPath.root + 0)
            e = outcome.entity
        }
        return e!
    }

    @Test func absorbTakesCrosswalksAndUnitesValues() throws {
        var winner = try entity("W", [post(id: "1", #""FirstName": ["Ann"], "Email": ["a@x"]"#)])
        let loser = try entity("L", [post(source: "ERP", id: "9", #""FirstName": ["Ann"], "LastName": ["Lee"]"#)])
        var ids = IDGenerator(seed: 1)
        winner.absorb(loser, ids: &ids)
        Survivorship.applyLastUpdateWins(to: &winner)
        #expect(winner.crosswalks.map(\.key.value) == ["1", "9"])
        let first = try #require(winner.values(of: "FirstName"))
        #expect(first.count == 1, "equal values are kept once")
        #expect(first[0].sources.count == 2)
        #expect(winner.simpleValues("LastName") == ["Lee"])
        #expect(winner.simpleValues("Email") == ["a@x"])
        let ids1 = Set(winner.crosswalks.map(\.id))
        #expect(ids1.count == 2, "crosswalk ids stay unique")
    }

    @Test func splitRightAfterAbsorbRestoresBothSidesByteForByte() throws {
        let originalWinner = try entity(
            "W", [post(id: "1", #""FirstName": ["Ann"], "Address": [{"value": {"City": ["Oslo"]}}]"#)])
        let originalLoser = try entity(
            "L", [post(source: "ERP", id: "9", #""FirstName": ["Ann"], "LastName": ["Lee"], "Address": [{"value": {"City": ["Oslo"]}}]"#)])
        var merged = originalWinner
        var ids = IDGenerator(seed: 2)
        merged.absorb(originalLoser, ids: &ids)
        Survivorship.applyLastUpdateWins(to: &merged)

        var spawn = merged.split(
            crosswalks: Set(originalLoser.crosswalks.map(\.key)), spawnId: "L", previous: originalLoser)
        Survivorship.applyLastUpdateWins(to: &merged)
        Survivorship.applyLastUpdateWins(to: &spawn)
        #expect(spawn.attributes == originalLoser.attributes, "the spawn's attributes come back as they were")
        #expect(spawn.crosswalks == originalLoser.crosswalks, "and its crosswalks")
        #expect(merged.attributes == originalWinner.attributes, "the origin keeps only its own")
        #expect(merged.crosswalks == originalWinner.crosswalks)
        // In the stored form too.
        var a = JSONWriter()
        var b = JSONWriter()
        spawn.renderAttributes(into: &a)
        spawn.renderCrosswalks(into: &a)
        originalLoser.renderAttributes(into: &b)
        originalLoser.renderCrosswalks(into: &b)
        #expect(a.bytes == b.bytes)
    }

    @Test func splitAfterLaterChangesMovesCurrentContributions() throws {
        var merged = try entity("W", [post(id: "1", #""FirstName": ["Ann"]"#)])
        let loser = try entity("L", [post(source: "ERP", id: "9", #""Email": ["old@x"]"#)])
        var ids = IDGenerator(seed: 3)
        merged.absorb(loser, ids: &ids)
        // ERP/9 posts again after the merge: its contribution in the merged entity changes.
        var h = Harness()
        let outcome = try h.ingestor.apply(
            try input(post(source: "ERP", id: "9", #""Email": ["new@x"]"#)), to: merged, newEntityId: "W", now: 5000, user: "u",
            ids: &h.ids, at: JSONPath.root + 0)
        merged = outcome.entity
        let spawn = merged.split(crosswalks: Set(loser.crosswalks.map(\.key)), spawnId: "L", previous: loser)
        #expect(spawn.simpleValues("Email") == ["new@x"])
        #expect(merged.values(of: "Email") == nil)
        #expect(merged.simpleValues("FirstName") == ["Ann"])
    }

    @Test func relationsRoundTripThroughBothForms() throws {
        var r = Entity(id: "R1", type: "configuration/relationTypes/Employment", createdBy: "u", createdTime: 1)
        r.endpoints = RelationEndpoints(startId: "A", endId: "B")
        r.crosswalks = [Crosswalk(id: "c1", type: "configuration/sources/CRM", value: "e1", createDate: 1, updateDate: 1)]
        r.attributes = [AttributeEntry(name: "Title", values: [AttributeValue(id: "v1", content: .simple("CTO"), ov: true, sources: ["c1"])])]
        #expect(r.uri == "relations/R1")
        #expect(try Entity(storedBytes: r.storedBytes()) == r)
        #expect(try Entity(jsonBytes: r.jsonBytes()) == r)
        let json = try JSONParser.parse(r.jsonBytes())
        #expect(json["startObject"]?["objectURI"] == .string("entities/A"))
        #expect(json["attributes"]?["Title"]?.arrayValue?.first?["uri"]?.stringValue?.hasPrefix("relations/R1/attributes/Title/") == true)
    }
}
