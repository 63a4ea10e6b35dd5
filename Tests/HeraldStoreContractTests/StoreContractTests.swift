import Foundation
import HeraldModel
import HeraldStorage
import HeraldTestSupport
import Synchronization
import Testing

/// What every store must do, run on SQLite and on PostgreSQL: the stages rely on exactly this.
@Suite(.timeLimit(.minutes(2)))
struct StoreContractTests {
    func entity(_ id: String) -> Entity {
        Entity(id: id, type: "configuration/entityTypes/Individual", createdBy: "t", createdTime: 1)
    }

    func event(_ uri: String, time: Int64 = 1) -> NewEvent {
        NewEvent(type: .entityCreated, objectURI: uri, objectVersion: 1, time: time, snapshot: Array(uri.utf8), delta: [])
    }

    struct Boom: Error {}

    @Test(arguments: Backend.allCases)
    func concurrentWritesAreGroupCommittedDurableAndNumberedInOrder(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await store.write { tx in
                        let e = self.entity("e\(i)")
                        try tx.insertEntity(tenant: "t", entity: e, body: e.storedBytes())
                        try tx.appendEvent(tenant: "t", self.event("entities/e\(i)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = store.commitStatistics
        #expect(stats.jobs == 200)
        #expect(stats.commits < 200, "concurrent writes share commits (\(stats.commits) commits for 200 jobs)")
        await store.close()

        let reopened = try await s.reopen()
        let events = try await reopened.events(tenant: "t", after: 0, limit: 1000)
        #expect(events.count == 200)
        #expect(events.map(\.seq) == Array(1...200), "sequence numbers are 1...200 without gaps, in order")
        #expect(Set(events.map(\.event.objectURI)).count == 200)
        #expect(try await reopened.entityCount(tenant: "t") == 200)
        #expect(try await reopened.lastSequence() == 200)
        #expect(try await reopened.lastSequence(tenant: "t") == 200)
        #expect(try await reopened.lastSequence(tenant: "other") == 0)
        #expect(try await reopened.firstSequence(tenant: "t") == 1)
        #expect(try await reopened.queueLength(tenant: "t") == 200)
        await reopened.close()
    }

    @Test(arguments: Backend.allCases)
    func aFailingJobRollsBackOnlyItsOwnChangesAndEvents(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        // Many at once, so that good and bad jobs share transactions.
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<40 {
                group.addTask {
                    do {
                        try await store.write { tx in
                            try tx.insertEntity(tenant: "t", entity: self.entity("e\(i)"), body: self.entity("e\(i)").storedBytes())
                            try tx.appendEvent(tenant: "t", self.event("entities/e\(i)"))
                            if i % 4 == 0 { throw Boom() }
                        }
                        return true
                    } catch is Boom {
                        return false
                    }
                }
            }
            var ok = 0
            for try await success in group where success { ok += 1 }
            return ok
        }
        #expect(outcomes == 30)
        for i in 0..<40 {
            let stored = try await store.entity(tenant: "t", id: "e\(i)")
            #expect((stored != nil) == (i % 4 != 0), "e\(i)")
        }
        let events = try await store.events(tenant: "t", after: 0, limit: 100)
        #expect(events.count == 30)
        #expect(!events.contains { $0.event.objectURI.hasSuffix("e0") || $0.event.objectURI.hasSuffix("e4") })
        #expect(events.map(\.seq) == Array(1...30), "a rolled-back job leaves no gap in the sequence")
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func aStatementTheDatabaseRefusesFailsOnlyItsJob(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        try await store.write { tx in try tx.insertEntity(tenant: "t", entity: self.entity("a"), body: self.entity("a").storedBytes()) }
        let duplicate = Task {
            try await store.write { tx in
                try tx.insertEntity(tenant: "t", entity: self.entity("a"), body: self.entity("a").storedBytes())  // the key refuses it
            }
        }
        let other = Task {
            try await store.write { tx in try tx.insertEntity(tenant: "t", entity: self.entity("b"), body: self.entity("b").storedBytes()) }
        }
        await #expect(throws: (any Error).self) { try await duplicate.value }
        try await other.value
        #expect(try await store.entity(tenant: "t", id: "b") != nil)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func savepointsInsideAJobAreIndependent(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        try await store.write { tx in
            try tx.inSavepoint { try tx.insertEntity(tenant: "t", entity: self.entity("a"), body: self.entity("a").storedBytes()) }
            _ = try? tx.inSavepoint {
                try tx.insertEntity(tenant: "t", entity: self.entity("b"), body: self.entity("b").storedBytes())
                try tx.appendEvent(tenant: "t", self.event("entities/b"))
                throw Boom()
            }
            try tx.appendEvent(tenant: "t", self.event("entities/a"))
        }
        #expect(try await store.entity(tenant: "t", id: "a") != nil)
        #expect(try await store.entity(tenant: "t", id: "b") == nil)
        #expect(try await store.events(tenant: "t", after: 0, limit: 10).map(\.event.objectURI) == ["entities/a"])
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func entitiesCrosswalksAndMergesRoundTrip(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let key = CrosswalkKey(type: "configuration/sources/CRM", value: "42")
        var loser = entity("l")
        loser.crosswalks = [Crosswalk(id: "c1", type: "configuration/sources/CRM", value: "7", createDate: 1, updateDate: 1)]
        try await store.write { tx in
            try tx.insertEntity(tenant: "t", entity: self.entity("w"), body: self.entity("w").storedBytes())
            try tx.insertEntity(tenant: "t", entity: loser, body: loser.storedBytes())
            try tx.insertCrosswalk(tenant: "t", key: key, entityId: "l")
            try tx.updateEntity(tenant: "t", entity: self.entity("w"), version: 3, body: self.entity("w").storedBytes())
            try tx.setMergedInto(tenant: "t", id: "l", winner: "w", version: 2, body: loser.storedBytes())
            try tx.repointCrosswalk(tenant: "t", key: key, entityId: "w")
            try tx.recordMerge(tenant: "t", loser: loser, winner: "w", time: 9)
        }
        let (found, other, version, record, losers) = try await store.write { tx in
            (
                try tx.entityId(tenant: "t", crosswalk: key), try tx.entityId(tenant: "u", crosswalk: key),
                try tx.entityVersion(tenant: "t", id: "l"), try tx.mergeRecord(tenant: "t", loser: "l"),
                try tx.losers(tenant: "t", winner: "w")
            )
        }
        #expect(found == "w")
        #expect(other == nil, "crosswalks are per tenant")
        #expect(version?.version == 2 && version?.mergedInto == "w" && version?.removed == false)
        #expect(record?.winner == "w" && record?.snapshot.id == "l")
        #expect(record?.crosswalks == [CrosswalkKey(type: "configuration/sources/CRM", value: "7")])
        #expect(losers == ["l"])
        #expect(try await store.entity(tenant: "t", id: "w")?.version == 3)
        #expect(try await store.entity(tenant: "u", id: "w") == nil, "entities are per tenant")
        #expect(try await store.entityMerges(tenant: "t") == ["w": nil, "l": "w"])
        #expect(try await store.entityVersions(tenant: "t").mapValues(\.version) == ["w": 3, "l": 2])
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func aTransactionReadsItsOwnWrites(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let key = CrosswalkKey(type: "configuration/sources/CRM", value: "1")
        let seen = try await store.write { tx -> [String] in
            var seen: [String] = []
            try tx.insertEntity(tenant: "t", entity: self.entity("a"), body: self.entity("a").storedBytes())
            try tx.insertCrosswalk(tenant: "t", key: key, entityId: "a")
            seen.append("exists=\(try tx.entityExists(tenant: "t", id: "a"))")
            seen.append("version=\(try tx.entityVersion(tenant: "t", id: "a")?.version ?? -1)")
            seen.append("crosswalk=\(try tx.entityId(tenant: "t", crosswalk: key) ?? "-")")
            try tx.updateEntity(tenant: "t", entity: self.entity("a"), version: 2, body: self.entity("a").storedBytes())
            try tx.setMergedInto(tenant: "t", id: "a", winner: "w", version: 3, body: self.entity("a").storedBytes())
            let stored = try tx.entity(tenant: "t", id: "a")
            seen.append("entity=\(stored?.version ?? -1)/\(stored?.mergedInto ?? "-")")
            try tx.deleteCrosswalk(tenant: "t", key: key)
            seen.append("deleted=\(try tx.entityId(tenant: "t", crosswalk: key) ?? "-")")
            try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["x", "y"])
            try tx.replaceTokens(tenant: "t", entityId: "b", tokens: ["x"])
            seen.append("x=\(try tx.entitiesSharing(tenant: "t", token: "x", limit: 10).sorted())")
            try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["y"])
            let both = try tx.entitiesSharing(tenant: "t", limits: [MatchKey.of("x"): 10, MatchKey.of("y"): 10])
            seen.append("x=\(both[MatchKey.of("x")] ?? []) y=\(both[MatchKey.of("y")] ?? [])")
            return seen
        }
        #expect(seen == ["exists=true", "version=1", "crosswalk=a", "entity=3/w", "deleted=-", "x=[\"a\", \"b\"]", "x=[\"b\"] y=[\"a\"]"])
        #expect(try await store.write { tx in try tx.entitiesSharing(tenant: "t", token: "y", limit: 10) } == ["a"])
        // A later transaction removes a committed key: its own reads stop listing it.
        let after = try await store.write { tx -> [String] in
            try tx.replaceTokens(tenant: "t", entityId: "b", tokens: [])
            return try tx.entitiesSharing(tenant: "t", token: "x", limit: 1)
        }
        #expect(after.isEmpty)
        let committed = try await store.entity(tenant: "t", id: "a")
        #expect(committed?.version == 3 && committed?.mergedInto == "w")
        #expect(try await store.write { tx in try tx.entityId(tenant: "t", crosswalk: key) } == nil)
        // Live again: merged_into back to NULL.
        try await store.write { tx in try tx.setMergedInto(tenant: "t", id: "a", winner: nil, version: 4, body: self.entity("a").storedBytes()) }
        #expect(try await store.entity(tenant: "t", id: "a")?.mergedInto == nil)
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func prefetchedCrosswalksAnswerLikeReadsAndYieldToLaterWrites(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let known = CrosswalkKey(type: "configuration/sources/CRM", value: "1")
        let missing = CrosswalkKey(type: "configuration/sources/CRM", value: "2")
        try await store.write { tx in
            try tx.insertEntity(tenant: "t", entity: self.entity("a"), body: self.entity("a").storedBytes())
            try tx.insertCrosswalk(tenant: "t", key: known, entityId: "a")
            try tx.insertCrosswalk(tenant: "u", key: missing, entityId: "other-tenant")
        }
        let seen = try await store.write { tx -> [String] in
            try tx.prefetch(tenant: "t", crosswalks: [known, missing])
            var seen = [
                try tx.entityId(tenant: "t", crosswalk: known) ?? "-", try tx.entityId(tenant: "t", crosswalk: missing) ?? "-",
                "\(try tx.entity(tenant: "t", id: "a")?.version ?? -1)", "\(try tx.entityExists(tenant: "t", id: "a"))",
            ]
            try tx.updateEntity(tenant: "t", entity: self.entity("a"), version: 5, body: self.entity("a").storedBytes())
            try tx.repointCrosswalk(tenant: "t", key: known, entityId: "b")
            try tx.insertCrosswalk(tenant: "t", key: missing, entityId: "c")
            seen += [
                try tx.entityId(tenant: "t", crosswalk: known) ?? "-", try tx.entityId(tenant: "t", crosswalk: missing) ?? "-",
                "\(try tx.entityVersion(tenant: "t", id: "a")?.version ?? -1)",
            ]
            return seen
        }
        #expect(seen == ["a", "-", "1", "true", "b", "c", "5"])
        await store.close()
    }

    /// A generated id that another entity already has: SQLite says so at once; PostgreSQL finds it at commit and
    /// runs the job again, which draws the next id. Either way the new entity gets a free id and the old one is
    /// untouched, with one event.
    @Test(arguments: Backend.allCases)
    func aGeneratedIdThatIsTakenIsNeverOverwritten(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        try await store.write { tx in try tx.insertEntity(tenant: "t", entity: self.entity("taken"), body: self.entity("taken").storedBytes()) }
        let draws = Mutex(0)
        let chosen = try await store.write { tx -> String in
            func next() -> String { draws.withLock { $0 += 1; return $0 == 1 ? "taken" : "fresh\($0)" } }
            var id = next()
            while try tx.isGeneratedEntityIdTaken(tenant: "t", id: id) { id = next() }
            var e = self.entity(id)
            e.createdBy = "new"
            try tx.insertEntity(tenant: "t", entity: e, body: e.storedBytes())
            try tx.appendEvent(tenant: "t", self.event("entities/\(id)"))
            return id
        }
        #expect(chosen == "fresh2")
        #expect(try await store.entity(tenant: "t", id: "taken")?.entity.createdBy == "t", "the old entity is untouched")
        #expect(try await store.entity(tenant: "t", id: "fresh2")?.entity.createdBy == "new")
        #expect(try await store.events(tenant: "t", after: 0, limit: 10).map(\.event.objectURI) == ["entities/fresh2"])
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func theMatchIndexFindsSharedKeysPerTenant(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        try await store.write { tx in
            try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["smith", "1970"])
            try tx.replaceTokens(tenant: "t", entityId: "b", tokens: ["smith", "1980"])
            try tx.replaceTokens(tenant: "u", entityId: "c", tokens: ["smith"])
            try tx.setPotentialMatch(tenant: "t", "a", "b", rules: ["rule/1", "rule/2"])
            try tx.addNotMatch(tenant: "t", "b", "a")
        }
        let (smith, y1970, potential, notMatch) = try await store.write { tx in
            (
                Set(try tx.entitiesSharing(tenant: "t", token: "smith", limit: 10)),
                try tx.entitiesSharing(tenant: "t", token: "1970", limit: 10),
                try tx.potentialMatches(tenant: "t", entityId: "b"), try tx.isNotMatch(tenant: "t", "a", "b")
            )
        }
        #expect(smith == ["a", "b"])
        #expect(y1970 == ["a"])
        #expect(potential == ["a": ["rule/1", "rule/2"]])
        #expect(notMatch)
        #expect(try await store.potentialMatches(tenant: "t", id: "a").map(\.0) == ["b"])
        try await store.write { tx in
            try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["1970"])
            try tx.removePotentialMatch(tenant: "t", "b", "a")
            try tx.removeNotMatch(tenant: "t", "a", "b")
        }
        let (after, still, cleared) = try await store.write { tx in
            (
                try tx.entitiesSharing(tenant: "t", token: "smith", limit: 10),
                try tx.potentialMatches(tenant: "t", entityId: "a"), try tx.isNotMatch(tenant: "t", "a", "b")
            )
        }
        #expect(after == ["b"])
        #expect(still.isEmpty)
        #expect(!cleared)
        await store.close()
    }

    /// The read-ahead hints (`prefetch`) and what a store infers from them must never hide a write of the same
    /// transaction: a pair, a relation or a match key written after the read, or a write rolled back in a savepoint.
    @Test(arguments: Backend.allCases)
    func readAheadNeverHidesTheTransactionsOwnWrites(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let key = MatchKey.of("smith")
        try await store.write { tx in
            let old = self.entity("old")
            try tx.insertEntity(tenant: "t", entity: old, body: old.storedBytes())
            try tx.replaceTokens(tenant: "t", entityId: "old", tokens: ["smith"])
            try tx.insertCrosswalk(tenant: "t", key: CrosswalkKey(type: "CRM", value: "1", sourceTable: ""), entityId: "old")
        }
        let seen = try await store.write { tx in
            // Everything read ahead first, as ingest does.
            try tx.prefetch(tenant: "t", crosswalks: [CrosswalkKey(type: "CRM", value: "1", sourceTable: "")])
            try tx.prefetch(tenant: "t", matchKeys: [key: 10])
            try tx.prefetch(tenant: "t", entities: ["old"])
            let fresh = self.entity("new")
            try tx.insertEntity(tenant: "t", entity: fresh, body: fresh.storedBytes())
            let before = (
                try tx.isNotMatch(tenant: "t", "new", "old"), try tx.potentialMatches(tenant: "t", entityId: "new"),
                try tx.relationIds(tenant: "t", touching: "new"), Set(try tx.entitiesSharing(tenant: "t", limits: [key: 10])[key] ?? [])
            )
            // Writes after the reads: each must show.
            try tx.addNotMatch(tenant: "t", "old", "new")
            try tx.setPotentialMatch(tenant: "t", "new", "old", rules: ["rule/1"])
            var relation = Entity(id: "r1", type: "configuration/relationTypes/Knows", createdBy: "t", createdTime: 1)
            relation.endpoints = RelationEndpoints(startId: "old", endId: "new")
            try tx.insertRelation(tenant: "t", relation: relation, body: relation.storedBytes())
            try tx.replaceTokens(tenant: "t", entityId: "new", tokens: ["smith"])
            try tx.replaceTokens(tenant: "t", entityId: "old", tokens: ["jones"])
            var moved = self.entity("old")
            moved.updatedTime = 99
            try tx.updateEntity(tenant: "t", entity: moved, version: 2, body: moved.storedBytes())
            // Merge records written, read and deleted in the same transaction.
            try tx.recordMerge(tenant: "t", loser: self.entity("l1"), winner: "old", time: 5)
            try tx.recordMerge(tenant: "t", loser: self.entity("l2"), winner: "old", time: 6)
            try tx.deleteMergeRecord(tenant: "t", loser: "l2")
            #expect(try tx.mergeRecord(tenant: "t", loser: "l1")?.winner == "old")
            #expect(try tx.mergeRecord(tenant: "t", loser: "l2") == nil)
            #expect(try tx.losers(tenant: "t", winner: "old") == ["l1"])
            // A write rolled back in a savepoint: gone again.
            _ = try? tx.inSavepoint { () throws -> Void in
                try tx.addNotMatch(tenant: "t", "new", "other")
                throw Boom()
            }
            return (
                before: before,
                after: (
                    try tx.isNotMatch(tenant: "t", "new", "old"), try tx.isNotMatch(tenant: "t", "old", "new"),
                    try tx.isNotMatch(tenant: "t", "new", "other"), try tx.potentialMatches(tenant: "t", entityId: "new"),
                    try tx.relationIds(tenant: "t", touching: "new"), try tx.entitiesSharing(tenant: "t", limits: [key: 10])[key] ?? [],
                    try tx.entity(tenant: "t", id: "old").map { ($0.version, $0.entity.updatedTime) }
                )
            )
        }
        #expect(seen.before.0 == false)
        #expect(seen.before.1.isEmpty)
        #expect(seen.before.2.isEmpty)
        #expect(seen.before.3 == ["old"])
        #expect(seen.after.0, "a not-a-match pair written after the read is seen from either side")
        #expect(seen.after.1)
        #expect(!seen.after.2, "a pair written in a rolled-back savepoint is gone")
        #expect(seen.after.3 == ["old": ["rule/1"]])
        #expect(seen.after.4 == ["r1"])
        #expect(seen.after.5 == ["new"], "match keys changed after the read: the new holder in, the old one out")
        #expect(seen.after.6?.0 == 2 && seen.after.6?.1 == 99, "an entity read ahead shows this transaction's update")
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func cursorsRetriesAndDeadLettersAreKeyedByTenantAndDestination(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let mine = DestinationKey(tenant: "t", destination: "q")
        let theirs = DestinationKey(tenant: "u", destination: "q")
        func message(_ seq: Int64, key: String) -> DeliveryMessage {
            DeliveryMessage(seq: seq, id: "m\(seq)", key: key, eventType: "ENTITY_CREATED", objectURI: "entities/\(seq)",
                headers: [MessageHeader("tenantId", "t")], body: Array("body\(seq)".utf8))
        }
        func retry(_ seq: Int64, key: String, next: Int64) -> RetryEntry {
            RetryEntry(message: message(seq, key: key), attempts: 1, nextAttempt: next, firstAttempt: 1, lastAttempt: 1,
                lastStatus: "TRANSIENT", lastError: "boom")
        }
        try await store.write { tx in
            try tx.setCursor(mine, seq: 17, now: 5)
            try tx.scheduleRetry(mine, retry(3, key: "x", next: 100))
            try tx.scheduleRetry(mine, retry(4, key: "x", next: 0))  // held behind 3
            try tx.scheduleRetry(mine, retry(5, key: "y", next: 50))
            try tx.scheduleRetry(theirs, retry(3, key: "x", next: 10))
            try tx.deadLetter(DeadLetter(key: mine, message: message(1, key: "z"), status: "PERMANENT", reason: "no",
                attempts: 2, firstAttempt: 1, lastAttempt: 2, plugin: "file", pluginVersion: "1", created: 3))
            try tx.deadLetter(DeadLetter(key: theirs, message: message(1, key: "z"), status: "PERMANENT", reason: "no",
                attempts: 2, firstAttempt: 1, lastAttempt: 2, plugin: "file", pluginVersion: "1", created: 3))
        }
        #expect(try await store.cursor(mine) == 17)
        #expect(try await store.cursor(theirs) == nil)
        #expect(try await store.dueRetries(mine, now: 200, headsOnly: true, limit: 10).map(\.message.seq) == [3, 5])
        #expect(try await store.dueRetries(mine, now: 60, headsOnly: false, limit: 10).map(\.message.seq) == [5])
        #expect(try await store.nextRetryTime(mine) == 50)
        let all = try await store.retries(mine, limit: 10)
        #expect(all.map(\.message.seq) == [3, 4, 5])
        #expect(all.first?.message.headers == [MessageHeader("tenantId", "t")])
        #expect(all.first?.message.body == Array("body3".utf8))
        try await store.write { tx in
            try tx.deleteRetry(mine, seq: 3)
            try tx.releaseHeld(mine, messageKey: "x", at: 70)
        }
        #expect(try await store.retries(mine, limit: 10).map(\.nextAttempt) == [70, 50])
        #expect(try await store.deadLetterCount(mine) == 1)
        let letters = try await store.deadLetters(.tenant("t"), afterId: 0, limit: 10)
        #expect(letters.count == 1 && letters[0].key == mine && letters[0].reason == "no")
        #expect(try await store.deadLetter(.tenant("u"), id: letters[0].id) == nil, "another tenant's id")
        let replayed = try await store.write { tx in try tx.replayDeadLetters(.tenant("t"), ids: nil, now: 90) }
        #expect(replayed == 1)
        let afterReplay = try await store.retries(mine, limit: 10)
        #expect(afterReplay.first?.message.seq == 1 && afterReplay.first?.attemptBase == 2)
        #expect(try await store.deadLetterCount(mine) == 0)
        #expect(try await store.deadLetterCount(theirs) == 1, "the other tenant's dead letter stays")
        let purged = try await store.write { tx in try tx.purgeDeadLetters(.destination(theirs), ids: nil) }
        #expect(purged == 1)
        let backlog = try await store.backlog(mine, after: 0)
        #expect(backlog.retrying == 3 && backlog.queued == 0)
        await store.close()
    }

    /// A destination's lag in seconds counts from its next event (of its tenant), or from an older retry.
    @Test(arguments: Backend.allCases)
    func theBacklogsOldestTimeIsTheTenantsNextEventOrAnOlderRetry(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        let key = DestinationKey(tenant: "t", destination: "q")
        try await store.write { tx in
            // seq 1: u's, older than anything of t's; seq 2 and 3: t's.
            try tx.appendEvent(tenant: "u", self.event("entities/1", time: 5))
            try tx.appendEvent(tenant: "t", self.event("entities/2", time: 20))
            try tx.appendEvent(tenant: "t", self.event("entities/3", time: 30))
        }
        let first = try await store.backlog(key, after: 0)
        #expect(first.queued == 2 && first.oldestTime == 20, "not u's event")
        #expect(try await store.backlog(key, after: 2).oldestTime == 30)
        let none = try await store.backlog(key, after: 3)
        #expect(none.queued == 0 && none.oldestTime == nil)
        try await store.write { tx in
            let message = DeliveryMessage(
                seq: 2, id: "m2", key: "k", eventType: "ENTITY_CREATED", objectURI: "entities/2", headers: [], body: [])
            try tx.scheduleRetry(
                key,
                RetryEntry(message: message, attempts: 1, nextAttempt: 100, firstAttempt: 25, lastAttempt: 25,
                    lastStatus: "TRANSIENT", lastError: "boom"))
        }
        let retried = try await store.backlog(key, after: 3)
        #expect(retried.retrying == 1 && retried.oldestTime == 20, "the retried event's own time")
        await store.close()
    }

    @Test(arguments: Backend.allCases)
    func compactionDeletesOnlyOldDeliveredEventsOfOneTenant(_ backend: Backend) async throws {
        guard let s = try await StoreUnderTest.open(backend) else { return }
        let store = s.store
        try await store.write { tx in
            for i in 1...30 { try tx.appendEvent(tenant: i % 3 == 0 ? "u" : "t", self.event("entities/\(i)", time: Int64(i))) }
        }
        let deleted = try await store.compactQueue(tenant: "t", upTo: 20, olderThan: 15, batch: 4)
        #expect(deleted == 10, "events 1...14 of t not divisible by 3")
        let left = try await store.events(tenant: "t", after: 0, limit: 100).map(\.seq)
        #expect(left.first == 16 && !left.contains(14))
        #expect(try await store.queueLength(tenant: "u") == 10)
        await store.close()
    }
}
