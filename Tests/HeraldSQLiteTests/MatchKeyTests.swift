import Foundation
import GRDB
@testable import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Testing

/// The match-token index: tokens stored as 64-bit keys, one key set per entity.
struct MatchKeyTests {
    @Test func replacingTokensKeepsTheIndexExact() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        try await store.write { tx in
            try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["G|Email=x", "G|Phone=1"])
            try tx.replaceTokens(tenant: "t", entityId: "b", tokens: ["G|Email=x"])
            try tx.replaceTokens(tenant: "u", entityId: "c", tokens: ["G|Email=x"])
        }
        let before = try await store.write { tx in
            (try tx.entitiesSharing(tenant: "t", token: "G|Email=x", limit: 10).sorted(),
             try tx.entitiesSharing(tenant: "t", token: "G|Phone=1", limit: 10))
        }
        #expect(before.0 == ["a", "b"], "tenants never share tokens")
        #expect(before.1 == ["a"])
        // Replace a's tokens: the dropped one no longer finds it, the new one does.
        try await store.write { tx in
            try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["G|Phone=1", "G|Phone=2"])
            try tx.replaceTokens(tenant: "t", entityId: "b", tokens: [])
        }
        let after = try await store.write { tx in
            (try tx.entitiesSharing(tenant: "t", token: "G|Email=x", limit: 10),
             try tx.entitiesSharing(tenant: "t", token: "G|Phone=2", limit: 10),
             try tx.entitiesSharing(tenant: "u", token: "G|Email=x", limit: 10))
        }
        #expect(after.0.isEmpty)
        #expect(after.1 == ["a"])
        #expect(after.2 == ["c"])
    }

    @Test func aFailedWriteLeavesNoTokens() async throws {
        let dir = TemporaryDirectory()
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await store.write { tx in
                try tx.replaceTokens(tenant: "t", entityId: "a", tokens: ["G|Email=x"])
                throw Boom()
            }
        }
        let found = try await store.write { tx in try tx.entitiesSharing(tenant: "t", token: "G|Email=x", limit: 10) }
        #expect(found.isEmpty)
    }

    @Test func keysAreAStableHash() {
        // FNV-1a 64 of "a" (the key is persisted: it must never change between versions).
        #expect(MatchKey.of("a") == Int64(bitPattern: 0xaf63_dc4c_8601_ec8c))
        #expect(MatchKey.of("") == Int64(bitPattern: 0xcbf2_9ce4_8422_2325))
        let keys: Set<Int64> = [1, -5, Int64.max, MatchKey.of("x")]
        #expect(MatchKey.decode(MatchKey.encode(keys)) == keys)
    }

    @Test func aVersion3DatabaseKeepsItsTokensAfterTheUpgrade() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path + "/herald.db"
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteStore.migrator().migrate(queue, upTo: "v3-match-merge")
            try await queue.write { db in
                for (entity, token) in [("a", "G|Email=x"), ("a", "G|Phone=1"), ("b", "G|Email=x")] {
                    try db.execute(
                        sql: "INSERT INTO match_tokens (tenant, token, entity_id) VALUES ('t', ?, ?)", arguments: [token, entity])
                }
            }
            try queue.close()
        }
        let store = try SQLiteStore(directory: dir.path)
        defer { store.close() }
        let found = try await store.write { tx in
            (try tx.entitiesSharing(tenant: "t", token: "G|Email=x", limit: 10).sorted(),
             try tx.entitiesSharing(tenant: "t", token: "G|Phone=1", limit: 10))
        }
        #expect(found.0 == ["a", "b"])
        #expect(found.1 == ["a"])
        // The key set was carried over too: replacing a's tokens removes the old keys.
        try await store.write { tx in try tx.replaceTokens(tenant: "t", entityId: "a", tokens: []) }
        let gone = try await store.write { tx in try tx.entitiesSharing(tenant: "t", token: "G|Phone=1", limit: 10) }
        #expect(gone.isEmpty)
    }
}
