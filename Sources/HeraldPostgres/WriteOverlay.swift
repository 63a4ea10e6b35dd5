import HeraldModel
import HeraldStorage
import NIOCore
import PostgresNIO

/// The entity and crosswalk writes of the open transaction, kept in the writer's memory and sent as a few
/// `unnest` statements at commit (`WriterSession.flushWrites`), instead of one round trip each.
///
/// Reads inside the transaction consult it first (`PostgresTransaction.entity`, `entityId`, …), so a job sees
/// its own and earlier jobs' writes. Every change is journalled, so a savepoint's rollback restores it.
struct WriteOverlay {
    struct EntityKey: Hashable {
        var tenant: String
        var id: String
    }

    /// What the transaction wrote to one entity row: all of it for an insert, the changed columns otherwise.
    struct EntityWrite {
        var isInsert: Bool
        var type = ""
        var version: Int64?
        var removed: Bool?
        var updatedTime: Int64?
        var body: [UInt8]?
        /// `.some(nil)`: set to live again.
        var mergedInto: String??
        /// For an update: the version the row had when this transaction read it. The update applies only if the
        /// row still has it, so a concurrent writer's change (another node's) is never overwritten: the commit
        /// fails with a conflict and the job runs again on the new row.
        var baseVersion: Int64?
    }

    struct CrosswalkRow: Hashable {
        var tenant: String
        var key: CrosswalkKey
    }

    struct MatchEntry: Hashable {
        var tenant: String
        var key: Int64
        var entityId: String
    }

    /// A merge record as this transaction wrote it (`merges` table).
    struct MergeWrite {
        var winner: String
        var snapshot: [UInt8]
        /// The loser's crosswalk keys, as the `crosswalk_keys` column stores them.
        var crosswalkKeys: String
        var time: Int64
        /// Who merged it, and the match groups that merged it (space-separated; "" for a manual merge).
        var user: String = ""
        var matchRules: String = ""
    }

    private enum Undo {
        case entity(EntityKey, EntityWrite?)
        case crosswalk(CrosswalkRow, String??, wasNew: Bool)
        case keySet(EntityKey, Set<Int64>?)
        case matchEntry(MatchEntry, Bool?)
        case merge(EntityKey, MergeWrite??)
    }

    /// Each entity's match keys as this transaction left them (empty: none).
    private(set) var keySets: [EntityKey: Set<Int64>] = [:]
    /// Rows of `match_keys` this transaction added (true) or removed (false).
    private(set) var matchEntries: [MatchEntry: Bool] = [:]
    struct TenantMatchKey: Hashable {
        var tenant: String
        var key: Int64
    }

    /// Per tenant and key: the entity ids added and removed here (for `entitiesSharing`).
    private(set) var entriesByKey: [TenantMatchKey: Set<String>] = [:]

    private(set) var entities: [EntityKey: EntityWrite] = [:]
    /// Crosswalk → entity id; nil: deleted in this transaction.
    private(set) var crosswalks: [CrosswalkRow: String?] = [:]
    /// Crosswalks this transaction created (the database had no row): inserted at commit only if still free, so
    /// that two writers (nodes) creating the same crosswalk at once cannot both succeed.
    private(set) var newCrosswalks: Set<CrosswalkRow> = []
    /// Merge records by loser; nil: deleted in this transaction.
    private(set) var merges: [EntityKey: MergeWrite?] = [:]
    private var journal: [Undo] = []

    var isEmpty: Bool { entities.isEmpty && crosswalks.isEmpty && keySets.isEmpty && merges.isEmpty }
    var mark: Int { journal.count }

    mutating func removeAll() {
        entities.removeAll(keepingCapacity: true)
        crosswalks.removeAll(keepingCapacity: true)
        newCrosswalks.removeAll(keepingCapacity: true)
        merges.removeAll(keepingCapacity: true)
        keySets.removeAll(keepingCapacity: true)
        matchEntries.removeAll(keepingCapacity: true)
        entriesByKey.removeAll(keepingCapacity: true)
        journal.removeAll(keepingCapacity: true)
    }

    /// Undoes every change made after `mark`.
    mutating func rollback(to mark: Int) {
        while journal.count > mark {
            switch journal.removeLast() {
            case .entity(let key, let previous): entities[key] = previous
            case .crosswalk(let row, let previous, let wasNew):
                if let previous { crosswalks[row] = previous } else { crosswalks.removeValue(forKey: row) }
                if wasNew { newCrosswalks.insert(row) } else { newCrosswalks.remove(row) }
            case .keySet(let key, let previous): keySets[key] = previous
            case .merge(let loser, let previous):
                if let previous { merges[loser] = previous } else { merges.removeValue(forKey: loser) }
            case .matchEntry(let entry, let previous):
                matchEntries[entry] = previous
                // entriesByKey only grows: an id listed there is looked up in matchEntries.
            }
        }
    }

    /// - Parameter baseVersion: for the first update of a row, the version it had when read (see `EntityWrite`).
    mutating func change(
        _ key: EntityKey, insert: Bool = false, baseVersion: Int64? = nil, _ apply: (inout EntityWrite) -> Void
    ) {
        let previous = entities[key]
        journal.append(.entity(key, previous))
        var write = insert ? EntityWrite(isInsert: true) : (previous ?? EntityWrite(isInsert: false, baseVersion: baseVersion))
        apply(&write)
        entities[key] = write
    }

    /// - Parameter created: the row is new (this transaction found no owner and had not written it before); a
    ///   row created earlier in this transaction stays new whatever is written to it later.
    mutating func setCrosswalk(_ row: CrosswalkRow, to entityId: String?, created: Bool = false) {
        let wasNew = newCrosswalks.contains(row)
        journal.append(.crosswalk(row, crosswalks[row], wasNew: wasNew))
        if created && crosswalks[row] == nil { newCrosswalks.insert(row) }
        crosswalks[row] = .some(entityId)
    }

    /// Records (a write) or deletes (nil) the merge record of `loser`.
    mutating func setMerge(_ loser: EntityKey, _ write: MergeWrite?) {
        journal.append(.merge(loser, merges[loser]))
        merges[loser] = .some(write)
    }

    /// Records that `entityId` now holds exactly `keys` (its earlier keys were `existing`).
    mutating func replaceMatchKeys(tenant: String, entityId: String, existing: Set<Int64>, keys: Set<Int64>) {
        let owner = EntityKey(tenant: tenant, id: entityId)
        journal.append(.keySet(owner, keySets[owner]))
        keySets[owner] = keys
        for key in existing.subtracting(keys) { setEntry(MatchEntry(tenant: tenant, key: key, entityId: entityId), false) }
        for key in keys.subtracting(existing) { setEntry(MatchEntry(tenant: tenant, key: key, entityId: entityId), true) }
    }

    private mutating func setEntry(_ entry: MatchEntry, _ added: Bool) {
        journal.append(.matchEntry(entry, matchEntries[entry]))
        matchEntries[entry] = added
        entriesByKey[TenantMatchKey(tenant: entry.tenant, key: entry.key), default: []].insert(entry.entityId)
    }

    /// The ids of `key` as the database listed them, with this transaction's additions and removals applied.
    func sharing(tenant: String, key: Int64, fromDatabase ids: [String]) -> [String] {
        guard let touched = entriesByKey[TenantMatchKey(tenant: tenant, key: key)] else { return ids }
        var out = ids.filter { matchEntries[MatchEntry(tenant: tenant, key: key, entityId: $0)] != false }
        let present = Set(out)
        for id in touched.sorted() where !present.contains(id) {
            if matchEntries[MatchEntry(tenant: tenant, key: key, entityId: id)] == true { out.append(id) }
        }
        return out
    }

    /// How many of `key`'s database rows this transaction removed (read that many more to fill a limit).
    func removals(tenant: String, key: Int64) -> Int {
        guard let touched = entriesByKey[TenantMatchKey(tenant: tenant, key: key)] else { return 0 }
        return touched.reduce(0) { $0 + (matchEntries[MatchEntry(tenant: tenant, key: key, entityId: $1)] == false ? 1 : 0) }
    }

    /// The overlay's answer for a crosswalk: `.some(id)` or `.some(nil)` (deleted) when it was written here.
    func crosswalk(_ row: CrosswalkRow) -> String?? { crosswalks[row] }

    /// Applies the written columns to a row read from the database.
    static func apply(_ write: EntityWrite, to stored: StoredEntity) throws -> StoredEntity {
        var out = stored
        if let version = write.version { out.version = version }
        if let removed = write.removed { out.removed = removed }
        if let mergedInto = write.mergedInto { out.mergedInto = mergedInto }
        if let body = write.body { out.entity = try PostgresTransaction.decodeEntity(body) }
        return out
    }

    /// An inserted row, complete.
    static func stored(_ write: EntityWrite) throws -> StoredEntity {
        StoredEntity(
            entity: try PostgresTransaction.decodeEntity(write.body ?? []), version: write.version ?? 1,
            removed: write.removed ?? false, mergedInto: write.mergedInto ?? nil)
    }
}

extension WriterSession {
    /// Sends the overlay's entity and crosswalk writes: at most four statements, whatever their number.
    func flushWrites() throws {
        defer { overlay.removeAll() }
        guard !overlay.isEmpty else { return }
        var inserts = EntityColumns(), updates = EntityColumns()
        for (key, write) in overlay.entities {
            if write.isInsert { inserts.append(key, write) } else { updates.append(key, write) }
        }
        if !inserts.tenants.isEmpty {
            let c = inserts
            let result = try writeStatement(
                """
                INSERT INTO entities (tenant, id, type, version, removed, updated_time, body, merged_into)
                SELECT u.tenant, u.id, u.type, u.version, u.removed, u.updated_time, u.body,
                    CASE WHEN u.set_merged THEN NULLIF(u.merged_into, '') END
                FROM unnest(\(c.tenants)::text[], \(c.ids)::text[], \(c.types)::text[], \(c.versions)::int8[],
                    \(c.removed)::bool[], \(c.times)::int8[], \(c.bodies)::bytea[], \(c.setMerged)::bool[],
                    \(c.mergedInto)::text[])
                    AS u(tenant, id, type, version, removed, updated_time, body, set_merged, merged_into)
                ON CONFLICT (tenant, id) DO NOTHING
                """)
            if let inserted = result.metadata.rows, inserted < c.tenants.count {
                throw StoreError(
                    .conflict,
                    "\(c.tenants.count - inserted) new entity id(s) of this transaction were already taken; the jobs run again with new ids")
            }
        }
        if !updates.tenants.isEmpty {
            let c = updates
            let result = try writeStatement(
                """
                UPDATE entities e SET
                    version = CASE WHEN u.set_version THEN u.version ELSE e.version END,
                    removed = CASE WHEN u.set_removed THEN u.removed ELSE e.removed END,
                    updated_time = CASE WHEN u.set_time THEN u.updated_time ELSE e.updated_time END,
                    body = CASE WHEN u.set_body THEN u.body ELSE e.body END,
                    merged_into = CASE WHEN u.set_merged THEN NULLIF(u.merged_into, '') ELSE e.merged_into END
                FROM unnest(\(c.tenants)::text[], \(c.ids)::text[], \(c.setVersion)::bool[], \(c.versions)::int8[],
                    \(c.setRemoved)::bool[], \(c.removed)::bool[], \(c.setTime)::bool[], \(c.times)::int8[],
                    \(c.setBody)::bool[], \(c.bodies)::bytea[], \(c.setMerged)::bool[], \(c.mergedInto)::text[],
                    \(c.checkVersion)::bool[], \(c.baseVersions)::int8[])
                    AS u(tenant, id, set_version, version, set_removed, removed, set_time, updated_time, set_body, body,
                         set_merged, merged_into, check_version, base_version)
                WHERE e.tenant = u.tenant AND e.id = u.id AND (NOT u.check_version OR e.version = u.base_version)
                """)
            if let updated = result.metadata.rows, updated < c.tenants.count {
                throw StoreError(
                    .conflict,
                    "\(c.tenants.count - updated) entit\(c.tenants.count - updated == 1 ? "y" : "ies") of this transaction changed since it was read (another node wrote it); the jobs run again")
            }
        }
        try flushMatchKeys()
        try flushMerges()
        var deleted = CrosswalkColumns(), upserted = CrosswalkColumns(), created = CrosswalkColumns()
        for (row, entityId) in overlay.crosswalks {
            let isNew = overlay.newCrosswalks.contains(row)
            switch (entityId, isNew) {
            case (let id?, true): created.append(row, id)
            case (let id?, false): upserted.append(row, id)
            case (nil, false): deleted.append(row, "")
            case (nil, true): break  // created and deleted here: the database never had it
            }
        }
        if !deleted.tenants.isEmpty {
            let c = deleted
            try writeStatement(
                """
                DELETE FROM crosswalks x USING unnest(\(c.tenants)::text[], \(c.types)::text[], \(c.values)::text[],
                    \(c.tables)::text[]) AS d(tenant, type, value, source_table)
                WHERE x.tenant = d.tenant AND x.type = d.type AND x.value = d.value AND x.source_table = d.source_table
                """)
        }
        if !upserted.tenants.isEmpty {
            let c = upserted
            try writeStatement(
                """
                INSERT INTO crosswalks (tenant, type, value, source_table, entity_id)
                SELECT * FROM unnest(\(c.tenants)::text[], \(c.types)::text[], \(c.values)::text[], \(c.tables)::text[],
                    \(c.entityIds)::text[])
                ON CONFLICT (tenant, type, value, source_table) DO UPDATE SET entity_id = excluded.entity_id
                """)
        }
        if !created.tenants.isEmpty {
            let c = created
            let result = try writeStatement(
                """
                INSERT INTO crosswalks (tenant, type, value, source_table, entity_id)
                SELECT * FROM unnest(\(c.tenants)::text[], \(c.types)::text[], \(c.values)::text[], \(c.tables)::text[],
                    \(c.entityIds)::text[])
                ON CONFLICT (tenant, type, value, source_table) DO NOTHING
                """)
            if let inserted = result.metadata.rows, inserted < c.tenants.count {
                throw StoreError(
                    .conflict,
                    "\(c.tenants.count - inserted) new crosswalk(s) of this transaction were created meanwhile by another writer; the jobs run again")
            }
        }
    }
}

/// Entity rows as column arrays for `unnest` (a flag per optional column: arrays of optionals do not bind).
struct EntityColumns {
    var tenants: [String] = [], ids: [String] = [], types: [String] = []
    var setVersion: [Bool] = [], versions: [Int64] = []
    var setRemoved: [Bool] = [], removed: [Bool] = []
    var setTime: [Bool] = [], times: [Int64] = []
    var setBody: [Bool] = [], bodies: [ByteBuffer] = []
    var setMerged: [Bool] = [], mergedInto: [String] = []
    var checkVersion: [Bool] = [], baseVersions: [Int64] = []

    mutating func append(_ key: WriteOverlay.EntityKey, _ w: WriteOverlay.EntityWrite) {
        tenants.append(key.tenant)
        ids.append(key.id)
        types.append(w.type)
        setVersion.append(w.version != nil)
        versions.append(w.version ?? 1)
        setRemoved.append(w.removed != nil)
        removed.append(w.removed ?? false)
        setTime.append(w.updatedTime != nil)
        times.append(w.updatedTime ?? 0)
        setBody.append(w.body != nil)
        bodies.append(ByteBuffer(bytes: w.body ?? []))
        // Entity ids are never empty, so '' stands for "live again" (NULLIF in the UPDATE).
        setMerged.append(w.mergedInto != nil)
        mergedInto.append((w.mergedInto ?? nil) ?? "")
        checkVersion.append(w.baseVersion != nil)
        baseVersions.append(w.baseVersion ?? 0)
    }
}

struct CrosswalkColumns {
    var tenants: [String] = [], types: [String] = [], values: [String] = [], tables: [String] = []
    var entityIds: [String] = []

    mutating func append(_ row: WriteOverlay.CrosswalkRow, _ entityId: String) {
        tenants.append(row.tenant)
        types.append(row.key.type)
        values.append(row.key.value)
        tables.append(row.key.sourceTable)
        entityIds.append(entityId)
    }
}

extension WriterSession {
    /// Match keys: removed rows, added rows, and each written entity's key set (at most four statements).
    func flushMatchKeys() throws {
        var removed = (tenants: [String](), keys: [Int64](), ids: [String]())
        var added = (tenants: [String](), keys: [Int64](), ids: [String]())
        for (entry, isAdded) in overlay.matchEntries {
            if isAdded {
                added.tenants.append(entry.tenant); added.keys.append(entry.key); added.ids.append(entry.entityId)
            } else {
                removed.tenants.append(entry.tenant); removed.keys.append(entry.key); removed.ids.append(entry.entityId)
            }
        }
        if !removed.tenants.isEmpty {
            try writeStatement(
                """
                DELETE FROM match_keys m USING unnest(\(removed.tenants)::text[], \(removed.keys)::int8[], \(removed.ids)::text[])
                    AS d(tenant, key, entity_id)
                WHERE m.tenant = d.tenant AND m.key = d.key AND m.entity_id = d.entity_id
                """)
        }
        if !added.tenants.isEmpty {
            try writeStatement(
                """
                INSERT INTO match_keys (tenant, key, entity_id)
                SELECT * FROM unnest(\(added.tenants)::text[], \(added.keys)::int8[], \(added.ids)::text[])
                ON CONFLICT DO NOTHING
                """)
        }
        var emptied = (tenants: [String](), ids: [String]())
        var sets = (tenants: [String](), ids: [String](), keys: [ByteBuffer]())
        for (owner, keys) in overlay.keySets {
            if keys.isEmpty {
                emptied.tenants.append(owner.tenant); emptied.ids.append(owner.id)
            } else {
                sets.tenants.append(owner.tenant); sets.ids.append(owner.id); sets.keys.append(ByteBuffer(bytes: MatchKey.encode(keys)))
            }
        }
        if !emptied.tenants.isEmpty {
            try writeStatement(
                """
                DELETE FROM match_key_sets s USING unnest(\(emptied.tenants)::text[], \(emptied.ids)::text[]) AS d(tenant, entity_id)
                WHERE s.tenant = d.tenant AND s.entity_id = d.entity_id
                """)
        }
        if !sets.tenants.isEmpty {
            try writeStatement(
                """
                INSERT INTO match_key_sets (tenant, entity_id, keys)
                SELECT * FROM unnest(\(sets.tenants)::text[], \(sets.ids)::text[], \(sets.keys)::bytea[])
                ON CONFLICT (tenant, entity_id) DO UPDATE SET keys = excluded.keys
                """)
        }
    }
}

extension WriterSession {
    /// Merge records: deleted ones, then written ones (at most two statements).
    func flushMerges() throws {
        guard !overlay.merges.isEmpty else { return }
        var deleted = (tenants: [String](), losers: [String]())
        var written = (
            tenants: [String](), losers: [String](), winners: [String](), snapshots: [ByteBuffer](), keys: [String](),
            times: [Int64](), users: [String](), rules: [String]()
        )
        for (loser, write) in overlay.merges {
            if let write {
                written.tenants.append(loser.tenant); written.losers.append(loser.id); written.winners.append(write.winner)
                written.snapshots.append(ByteBuffer(bytes: write.snapshot)); written.keys.append(write.crosswalkKeys)
                written.times.append(write.time); written.users.append(write.user); written.rules.append(write.matchRules)
            } else {
                deleted.tenants.append(loser.tenant); deleted.losers.append(loser.id)
            }
        }
        if !deleted.tenants.isEmpty {
            try writeStatement(
                """
                DELETE FROM merges m USING unnest(\(deleted.tenants)::text[], \(deleted.losers)::text[]) AS d(tenant, loser)
                WHERE m.tenant = d.tenant AND m.loser = d.loser
                """)
        }
        if !written.tenants.isEmpty {
            try writeStatement(
                """
                INSERT INTO merges (tenant, loser, winner, loser_snapshot, crosswalk_keys, time, merged_by, match_rules)
                SELECT * FROM unnest(\(written.tenants)::text[], \(written.losers)::text[], \(written.winners)::text[],
                    \(written.snapshots)::bytea[], \(written.keys)::text[], \(written.times)::int8[],
                    \(written.users)::text[], \(written.rules)::text[])
                ON CONFLICT (tenant, loser) DO UPDATE SET winner = excluded.winner, loser_snapshot = excluded.loser_snapshot,
                    crosswalk_keys = excluded.crosswalk_keys, time = excluded.time, merged_by = excluded.merged_by,
                    match_rules = excluded.match_rules
                """)
        }
    }
}
