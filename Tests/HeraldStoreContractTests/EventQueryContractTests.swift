import Foundation
import HeraldModel
import HeraldStorage
import HeraldTestSupport
import Testing

/// The events API's reads (`type`, `tail`, `objectUri`) and the merge history, on SQLite and on PostgreSQL: the
/// same answers as filtering the whole queue, always within the tenant.
@Suite(.timeLimit(.minutes(2)))
struct EventQueryContractTests {
    func event(_ type: EventType, _ uri: String, uris: [String] = []) -> NewEvent {
        NewEvent(
            type: type, objectURI: uri, objectVersion: 1, time: 1, snapshot: Array(uri.utf8), delta: [], uris: uris)
    }

    /// A queue of two tenants: creates, changes, merges (whose `uris` name other entities) and potential matches.
    func fill(_ store: any Store) async throws -> [EventRecord] {
        var rng = SplitMix64(seed: 7)
        for round in 0..<6 {
            var batch: [(String, NewEvent)] = []
            for i in 0..<50 {
                let n = round * 50 + i
                let a = "entities/e\(UInt64.random(in: 0..<20, using: &rng))"
                let b = "entities/e\(UInt64.random(in: 0..<20, using: &rng))"
                let tenant = n % 3 == 0 ? "u" : "t"
                switch UInt64.random(in: 0..<10, using: &rng) {
                case 0: batch.append((tenant, event(.entitiesMerged, a, uris: [a, b])))
                case 1: batch.append((tenant, event(.entityLostMerge, b, uris: [a, b])))
                case 2: batch.append((tenant, event(.potentialMatchesFound, a, uris: [b])))
                case 3: batch.append((tenant, event(.entitiesSplitted, a, uris: [a, b])))
                case 4, 5: batch.append((tenant, event(.entityCreated, a)))
                default: batch.append((tenant, event(.entityChanged, a)))
                }
            }
            let events = batch
            try await store.write { tx in
                for (tenant, e) in events { try tx.appendEvent(tenant: tenant, e) }
            }
        }
        return try await store.events(tenant: "t", after: 0, limit: 10_000)
    }

    @Test(arguments: Backend.allCases)
    func typeTailAndObjectQueriesAnswerAsAFilterOfTheWholeQueueWould(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let all = try await fill(store)
        #expect(all.count > 150)
        let middle = all[all.count / 2].seq
        var queries: [EventQuery] = []
        for newest in [false, true] {
            for limit in [1, 7, 10_000] {
                for after in [0, middle] {
                    queries.append(EventQuery(after: after, limit: limit, newest: newest))
                    queries.append(EventQuery(types: [.entityChanged], after: after, limit: limit, newest: newest))
                    queries.append(
                        EventQuery(
                            types: [.entitiesSplitted, .entityCreated], after: after, limit: limit, newest: newest))
                    queries.append(EventQuery(types: [.entityRemoved], after: after, limit: limit, newest: newest))
                    for uri in ["entities/e3", "entities/e11", "entities/none"] {
                        queries.append(EventQuery(objectURI: uri, after: after, limit: limit, newest: newest))
                        queries.append(
                            EventQuery(
                                types: [.entitiesMerged], objectURI: uri, after: after, limit: limit, newest: newest))
                    }
                }
            }
        }
        for query in queries {
            let matching = all.filter(query.matches)
            let expected = query.newest ? Array(matching.suffix(query.limit)) : Array(matching.prefix(query.limit))
            let got = try await store.events(tenant: "t", query)
            #expect(got.map(\.seq) == expected.map(\.seq), "\(query)")
            #expect(got.allSatisfy { $0.tenant == "t" })
        }
        // The object's own events and the merge events naming it in `uris`; a potential match naming it is not one.
        let e3 = try await store.events(tenant: "t", EventQuery(objectURI: "entities/e3", limit: 10_000))
        #expect(e3.contains { $0.event.objectURI != "entities/e3" }, "merge events of other objects that name it")
        #expect(!e3.contains { $0.type == .potentialMatchesFound && $0.event.objectURI != "entities/e3" })
        // Another tenant's events never show.
        let u = try await store.events(tenant: "u", after: 0, limit: 10_000)
        let uSeqs = Set(u.map(\.seq))
        for query in queries {
            let got = try await store.events(tenant: "t", query)
            #expect(got.allSatisfy { !uSeqs.contains($0.seq) })
        }
        #expect(try await store.events(tenant: "nobody", EventQuery(objectURI: "entities/e3", limit: 10)).isEmpty)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func mergeHistoryFollowsLosersOfLosersOldestFirstWithinTheTenant(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        func entity(_ id: String) -> Entity {
            Entity(id: id, type: "configuration/entityTypes/Individual", createdBy: "t", createdTime: 1)
        }
        // b lost to a (rules), c lost to b before that (manual), d lost to a; x lost to y elsewhere; tenant u the same ids.
        try await store.write { tx in
            try tx.recordMerge(tenant: "t", loser: entity("c"), winner: "b", time: 10, user: "ann", matchRules: [])
            try tx.recordMerge(
                tenant: "t", loser: entity("b"), winner: "a", time: 20, user: "bob", matchRules: ["g/Email", "g/Name"])
            try tx.recordMerge(
                tenant: "t", loser: entity("d"), winner: "a", time: 30, user: "cy", matchRules: ["g/Email"])
            try tx.recordMerge(tenant: "t", loser: entity("x"), winner: "y", time: 5, user: "dan", matchRules: [])
            try tx.recordMerge(tenant: "u", loser: entity("e"), winner: "a", time: 1, user: "eve", matchRules: [])
        }
        let a = try await store.mergeHistory(tenant: "t", id: "a", limit: 100)
        #expect(a.map(\.loser) == ["c", "b", "d"])
        #expect(a.map(\.winner) == ["b", "a", "a"])
        #expect(a[1] == MergeRecord(winner: "a", loser: "b", time: 20, user: "bob", matchRules: ["g/Email", "g/Name"]))
        #expect(a[0].matchRules.isEmpty && a[0].user == "ann")
        #expect(try await store.mergeHistory(tenant: "t", id: "a", limit: 2).map(\.loser) == ["c", "b"])
        // From the loser's side: the merge it lost, and those it won before.
        #expect(try await store.mergeHistory(tenant: "t", id: "b", limit: 100).map(\.loser) == ["c", "b"])
        #expect(try await store.mergeHistory(tenant: "t", id: "c", limit: 100).map(\.loser) == ["c"])
        #expect(try await store.mergeHistory(tenant: "t", id: "z", limit: 100).isEmpty)
        #expect(try await store.mergeHistory(tenant: "u", id: "a", limit: 100).map(\.loser) == ["e"])
        // An unmerge deletes the record; the old four-argument write records no user or rules.
        try await store.write { tx in
            try tx.deleteMergeRecord(tenant: "t", loser: "b")
            try tx.recordMerge(tenant: "t", loser: entity("f"), winner: "a", time: 40)
        }
        let after = try await store.mergeHistory(tenant: "t", id: "a", limit: 100)
        #expect(after.map(\.loser) == ["d", "f"], "c hangs off b, which is no longer merged into a")
        #expect(after.last == MergeRecord(winner: "a", loser: "f", time: 40))
        await store.close()
    }
}
