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
    }

    struct CrosswalkRow: Hashable {
        var tenant: String
        var key: CrosswalkKey
    }

    private enum Undo {
        case entity(EntityKey, EntityWrite?)
        case crosswalk(CrosswalkRow, String??)
    }

    private(set) var entities: [EntityKey: EntityWrite] = [:]
    /// Crosswalk → entity id; nil: deleted in this transaction.
    private(set) var crosswalks: [CrosswalkRow: String?] = [:]
    private var journal: [Undo] = []

    var isEmpty: Bool { entities.isEmpty && crosswalks.isEmpty }
    var mark: Int { journal.count }

    mutating func removeAll() {
        entities.removeAll(keepingCapacity: true)
        crosswalks.removeAll(keepingCapacity: true)
        journal.removeAll(keepingCapacity: true)
    }

    /// Undoes every change made after `mark`.
    mutating func rollback(to mark: Int) {
        while journal.count > mark {
            switch journal.removeLast() {
            case .entity(let key, let previous): entities[key] = previous
            case .crosswalk(let row, let previous):
                if let previous { crosswalks[row] = previous } else { crosswalks.removeValue(forKey: row) }
            }
        }
    }

    mutating func change(_ key: EntityKey, _ apply: (inout EntityWrite) -> Void, insert: Bool = false) {
        let previous = entities[key]
        journal.append(.entity(key, previous))
        var write = insert ? EntityWrite(isInsert: true) : (previous ?? EntityWrite(isInsert: false))
        apply(&write)
        entities[key] = write
    }

    mutating func setCrosswalk(_ row: CrosswalkRow, to entityId: String?) {
        journal.append(.crosswalk(row, crosswalks[row]))
        crosswalks[row] = .some(entityId)
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
            try writeStatement(
                """
                INSERT INTO entities (tenant, id, type, version, removed, updated_time, body, merged_into)
                SELECT u.tenant, u.id, u.type, u.version, u.removed, u.updated_time, u.body,
                    CASE WHEN u.set_merged THEN NULLIF(u.merged_into, '') END
                FROM unnest(\(c.tenants)::text[], \(c.ids)::text[], \(c.types)::text[], \(c.versions)::int8[],
                    \(c.removed)::bool[], \(c.times)::int8[], \(c.bodies)::bytea[], \(c.setMerged)::bool[],
                    \(c.mergedInto)::text[])
                    AS u(tenant, id, type, version, removed, updated_time, body, set_merged, merged_into)
                """)
        }
        if !updates.tenants.isEmpty {
            let c = updates
            try writeStatement(
                """
                UPDATE entities e SET
                    version = CASE WHEN u.set_version THEN u.version ELSE e.version END,
                    removed = CASE WHEN u.set_removed THEN u.removed ELSE e.removed END,
                    updated_time = CASE WHEN u.set_time THEN u.updated_time ELSE e.updated_time END,
                    body = CASE WHEN u.set_body THEN u.body ELSE e.body END,
                    merged_into = CASE WHEN u.set_merged THEN NULLIF(u.merged_into, '') ELSE e.merged_into END
                FROM unnest(\(c.tenants)::text[], \(c.ids)::text[], \(c.setVersion)::bool[], \(c.versions)::int8[],
                    \(c.setRemoved)::bool[], \(c.removed)::bool[], \(c.setTime)::bool[], \(c.times)::int8[],
                    \(c.setBody)::bool[], \(c.bodies)::bytea[], \(c.setMerged)::bool[], \(c.mergedInto)::text[])
                    AS u(tenant, id, set_version, version, set_removed, removed, set_time, updated_time, set_body, body,
                         set_merged, merged_into)
                WHERE e.tenant = u.tenant AND e.id = u.id
                """)
        }
        var deleted = CrosswalkColumns(), upserted = CrosswalkColumns()
        for (row, entityId) in overlay.crosswalks {
            if let entityId { upserted.append(row, entityId) } else { deleted.append(row, "") }
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
