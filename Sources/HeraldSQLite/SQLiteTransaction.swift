import Foundation
import GRDB
import HeraldStorage
import HeraldModel

/// The store's operations inside one SQLite write transaction (`StoreTransaction`).
///
/// Only valid inside `SQLiteStore.write`; it runs on the writer thread.
public struct SQLiteTransaction: StoreTransaction {
    let db: Database

    /// The entity a crosswalk belongs to.
    public func entityId(tenant: String, crosswalk key: CrosswalkKey) throws -> String? {
        let select = try RawStatement(
            db, "SELECT entity_id FROM crosswalks WHERE tenant = ? AND type = ? AND value = ? AND source_table = ?")
        defer { select.reset() }
        select.bind(1, tenant)
        select.bind(2, key.type)
        select.bind(3, key.value)
        select.bind(4, key.sourceTable)
        return try select.step() ? select.text(0) : nil
    }

    /// Loads an entity (including removed ones, flagged).
    public func entity(tenant: String, id: String) throws -> StoredEntity? {
        let statement = try db.cachedStatement(
            sql: "SELECT version, removed, body, merged_into FROM entities WHERE tenant = ? AND id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [tenant, id]) else { return nil }
        return try SQLiteStore.decodeStoredEntity(row)
    }

    /// An entity's version and state without decoding it (nil when it does not exist).
    public func entityVersion(tenant: String, id: String) throws -> (version: Int64, removed: Bool, mergedInto: String?)? {
        let select = try RawStatement(db, "SELECT version, removed, merged_into FROM entities WHERE tenant = ? AND id = ?")
        defer { select.reset() }
        select.bind(1, tenant)
        select.bind(2, id)
        guard try select.step() else { return nil }
        return (select.int64(0), select.int64(1) != 0, select.isNull(2) ? nil : select.text(2))
    }

    /// Whether an entity id is taken in `tenant`.
    public func entityExists(tenant: String, id: String) throws -> Bool {
        let select = try RawStatement(db, "SELECT 1 FROM entities WHERE tenant = ? AND id = ?")
        defer { select.reset() }
        select.bind(1, tenant)
        select.bind(2, id)
        return try select.step()
    }

    /// Inserts a new entity at version 1.
    public func insertEntity(tenant: String, entity: Entity, body: [UInt8]) throws {
        let insert = try RawStatement(
            db, "INSERT INTO entities (tenant, id, type, version, removed, updated_time, body) VALUES (?, ?, ?, 1, 0, ?, ?)")
        insert.bind(1, tenant)
        insert.bind(2, entity.id)
        insert.bind(3, entity.type)
        insert.bind(4, entity.updatedTime)
        insert.bind(5, blob: body)
        try insert.run()
    }

    /// Replaces an entity's snapshot and sets its version.
    public func updateEntity(tenant: String, entity: Entity, version: Int64, body: [UInt8], removed: Bool) throws {
        let update = try RawStatement(
            db, "UPDATE entities SET version = ?, removed = ?, updated_time = ?, body = ? WHERE tenant = ? AND id = ?")
        update.bind(1, version)
        update.bind(2, removed ? 1 : 0)
        update.bind(3, entity.updatedTime)
        update.bind(4, blob: body)
        update.bind(5, tenant)
        update.bind(6, entity.id)
        try update.run()
    }

    public func insertCrosswalk(tenant: String, key: CrosswalkKey, entityId: String) throws {
        let insert = try RawStatement(
            db, "INSERT INTO crosswalks (tenant, type, value, source_table, entity_id) VALUES (?, ?, ?, ?, ?)")
        insert.bind(1, tenant)
        insert.bind(2, key.type)
        insert.bind(3, key.value)
        insert.bind(4, key.sourceTable)
        insert.bind(5, entityId)
        try insert.run()
    }

    public func deleteCrosswalk(tenant: String, key: CrosswalkKey) throws {
        let statement = try db.cachedStatement(
            sql: "DELETE FROM crosswalks WHERE tenant = ? AND type = ? AND value = ? AND source_table = ?")
        try statement.execute(arguments: [tenant, key.type, key.value, key.sourceTable])
    }

    /// Appends an event to the CRUD queue. SQLite has one writer, so `AUTOINCREMENT` hands out sequence
    /// numbers in commit order.
    public func appendEvent(tenant: String, _ event: NewEvent) throws {
        let insert = try RawStatement(
            db,
            """
            INSERT INTO events (tenant, type, object_uri, object_version, time, snapshot, delta, uris, details)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insert.bind(1, tenant)
        insert.bind(2, event.type.rawValue)
        insert.bind(3, event.objectURI)
        insert.bind(4, event.objectVersion)
        insert.bind(5, event.time)
        insert.bind(6, blob: event.snapshot)
        insert.bind(7, blob: event.delta)
        insert.bind(8, event.uris.joined(separator: " "))
        insert.bind(9, blob: event.details)
        try insert.run()
    }

    /// Runs raw SQL (tests and maintenance).
    public func execute(sql: String) throws {
        try db.execute(sql: sql)
    }
}

extension SQLiteTransaction {
    /// Runs `body` in a nested savepoint: if it throws, only its changes are rolled back.
    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        try db.inSavepoint {
            result = try body()
            return .commit
        }
        return result!
    }
}
