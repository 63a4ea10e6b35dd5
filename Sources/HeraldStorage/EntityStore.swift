import HeraldModel

/// Entities with their crosswalk index, relations, and the merge history, as one write transaction sees them.
///
/// Reads see the transaction's own writes. Every method is scoped to a tenant: no row of another tenant is
/// read or written. Implementations: `SQLiteTransaction` (HeraldSQLite), `PostgresTransaction` (HeraldPostgres).
public protocol EntityTransaction {
    /// The entity a crosswalk belongs to.
    func entityId(tenant: String, crosswalk key: CrosswalkKey) throws -> String?
    /// Says that `entityId(tenant:crosswalk:)` and `entity(tenant:id:)` are about to be asked for these
    /// crosswalks and their entities: a store with round trips reads them all at once (the default does nothing).
    func prefetch(tenant: String, crosswalks keys: [CrosswalkKey]) throws
    /// A hint that these entities will be loaded next: a store with round trips reads them all now, in one.
    /// The default does nothing.
    func prefetch(tenant: String, entities ids: [String]) throws
    /// Loads an entity (including removed ones, flagged).
    func entity(tenant: String, id: String) throws -> StoredEntity?
    /// An entity's version and state without decoding it (nil when it does not exist).
    func entityVersion(tenant: String, id: String) throws -> (version: Int64, removed: Bool, mergedInto: String?)?
    /// Whether an entity id is taken in `tenant`.
    func entityExists(tenant: String, id: String) throws -> Bool
    /// Whether an id the caller just generated at random is taken. A store may answer from what it knows
    /// without asking the database, and verify at commit instead: a collision then fails the commit with
    /// `STORE_CONFLICT` and the store runs the job again (which generates another id). Default: `entityExists`.
    func isGeneratedEntityIdTaken(tenant: String, id: String) throws -> Bool
    /// Inserts a new entity at version 1.
    func insertEntity(tenant: String, entity: Entity, body: [UInt8]) throws
    /// Replaces an entity's snapshot and sets its version and removed flag.
    func updateEntity(tenant: String, entity: Entity, version: Int64, body: [UInt8], removed: Bool) throws
    func insertCrosswalk(tenant: String, key: CrosswalkKey, entityId: String) throws
    func deleteCrosswalk(tenant: String, key: CrosswalkKey) throws
    /// Points a crosswalk at another entity (merge and unmerge).
    func repointCrosswalk(tenant: String, key: CrosswalkKey, entityId: String) throws

    /// Marks `id` as merged into `winner` (nil: live again) and records its version.
    func setMergedInto(tenant: String, id: String, winner: String?, version: Int64, body: [UInt8]) throws
    /// Remembers what a loser was when it merged, so that unmerge can restore it, and who merged it and by which
    /// match rules (empty: a manual merge), for the merge history.
    func recordMerge(tenant: String, loser: Entity, winner: String, time: Int64, user: String, matchRules: [String]) throws
    /// The merge that made `loser` lose: its winner, its snapshot then, and its crosswalks then.
    func mergeRecord(tenant: String, loser: String) throws -> (winner: String, snapshot: Entity, crosswalks: Set<CrosswalkKey>)?
    func deleteMergeRecord(tenant: String, loser: String) throws
    /// Losers merged directly into `winner`.
    func losers(tenant: String, winner: String) throws -> [String]

    func relation(tenant: String, id: String) throws -> StoredEntity?
    func relationExists(tenant: String, id: String) throws -> Bool
    func relationId(tenant: String, crosswalk key: CrosswalkKey) throws -> String?
    func insertRelation(tenant: String, relation: Entity, body: [UInt8]) throws
    func updateRelation(tenant: String, relation: Entity, version: Int64, body: [UInt8], removed: Bool) throws
    func insertRelationCrosswalk(tenant: String, key: CrosswalkKey, relationId: String) throws
    func deleteRelationCrosswalk(tenant: String, key: CrosswalkKey) throws
    /// Live relations that start or end at an entity.
    func relationIds(tenant: String, touching entityId: String) throws -> [String]
}

extension EntityTransaction {
    public func prefetch(tenant: String, crosswalks keys: [CrosswalkKey]) throws {}
    public func prefetch(tenant: String, entities ids: [String]) throws {}

    public func isGeneratedEntityIdTaken(tenant: String, id: String) throws -> Bool {
        try entityExists(tenant: tenant, id: id)
    }

    public func updateEntity(tenant: String, entity: Entity, version: Int64, body: [UInt8]) throws {
        try updateEntity(tenant: tenant, entity: entity, version: version, body: body, removed: false)
    }

    /// A merge record without who merged it or why (tools and tests).
    public func recordMerge(tenant: String, loser: Entity, winner: String, time: Int64) throws {
        try recordMerge(tenant: tenant, loser: loser, winner: winner, time: time, user: "", matchRules: [])
    }

    public func updateRelation(tenant: String, relation: Entity, version: Int64, body: [UInt8]) throws {
        try updateRelation(tenant: tenant, relation: relation, version: version, body: body, removed: false)
    }
}

/// Reads of entities and relations outside a write transaction (a consistent snapshot, never waiting for writers).
public protocol EntityReader: Sendable {
    /// The stored entity `id` (removed ones included, flagged).
    func entity(tenant: String, id: String) async throws -> StoredEntity?
    func relation(tenant: String, id: String) async throws -> StoredEntity?
    /// The potential matches recorded for an entity: other id → match group URIs, by other id.
    func potentialMatches(tenant: String, id: String) async throws -> [(String, [String])]
    /// Count of live (not removed) entities of a tenant.
    func entityCount(tenant: String) async throws -> Int
    /// Every entity id of a tenant with its version and removed flag (consistency checks and tests).
    func entityVersions(tenant: String) async throws -> [String: (version: Int64, removed: Bool)]
    /// Every not-removed entity of a tenant: id → the winner it merged into (nil when live).
    func entityMerges(tenant: String) async throws -> [String: String?]
    /// The merges in effect that involve entity `id`, oldest first (by time, then loser): the one it lost (if it
    /// did), the losers merged into it, and theirs before them, `MergeRecord.maxDepth` merges deep; at most `limit`.
    func mergeHistory(tenant: String, id: String, limit: Int) async throws -> [MergeRecord]
}
