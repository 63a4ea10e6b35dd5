import Foundation
import GRDB
import HeraldStorage
import HeraldModel

/// Relations: stored like entities (compact form, version, removed flag) with their two ends indexed.
extension SQLiteTransaction {
    public func relation(tenant: String, id: String) throws -> StoredEntity? {
        let statement = try db.cachedStatement(sql: "SELECT version, removed, body FROM relations WHERE tenant = ? AND id = ?")
        guard let row = try Row.fetchOne(statement, arguments: [tenant, id]) else { return nil }
        return try SQLiteStore.decodeStoredEntity(row)
    }

    public func relationExists(tenant: String, id: String) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM relations WHERE tenant = ? AND id = ?"), arguments: [tenant, id]) != nil
    }

    public func relationId(tenant: String, crosswalk key: CrosswalkKey) throws -> String? {
        try String.fetchOne(
            db.cachedStatement(
                sql: "SELECT relation_id FROM relation_crosswalks WHERE tenant = ? AND type = ? AND value = ? AND source_table = ?"),
            arguments: [tenant, key.type, key.value, key.sourceTable])
    }

    public func insertRelation(tenant: String, relation: Entity, body: [UInt8]) throws {
        guard let ends = relation.endpoints else { return }
        try db.cachedStatement(
            sql: """
                INSERT INTO relations (tenant, id, type, start_id, end_id, version, removed, updated_time, body)
                VALUES (?, ?, ?, ?, ?, 1, 0, ?, ?)
                """
        ).execute(arguments: [tenant, relation.id, relation.type, ends.startId, ends.endId, relation.updatedTime, Data(body)])
    }

    public func updateRelation(tenant: String, relation: Entity, version: Int64, body: [UInt8], removed: Bool) throws {
        guard let ends = relation.endpoints else { return }
        try db.cachedStatement(
            sql: """
                UPDATE relations SET start_id = ?, end_id = ?, version = ?, removed = ?, updated_time = ?, body = ?
                WHERE tenant = ? AND id = ?
                """
        ).execute(arguments: [ends.startId, ends.endId, version, removed, relation.updatedTime, Data(body), tenant, relation.id])
    }

    public func insertRelationCrosswalk(tenant: String, key: CrosswalkKey, relationId: String) throws {
        try db.cachedStatement(
            sql: "INSERT INTO relation_crosswalks (tenant, type, value, source_table, relation_id) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: [tenant, key.type, key.value, key.sourceTable, relationId])
    }

    public func deleteRelationCrosswalk(tenant: String, key: CrosswalkKey) throws {
        try db.cachedStatement(
            sql: "DELETE FROM relation_crosswalks WHERE tenant = ? AND type = ? AND value = ? AND source_table = ?"
        ).execute(arguments: [tenant, key.type, key.value, key.sourceTable])
    }

    /// Live relations that start or end at an entity.
    public func relationIds(tenant: String, touching entityId: String) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(
                sql: "SELECT id FROM relations WHERE tenant = ? AND removed = 0 AND (start_id = ? OR end_id = ?) ORDER BY id"),
            arguments: [tenant, entityId, entityId])
    }
}

extension SQLiteStore {
    public func relation(tenant: String, id: String) async throws -> StoredEntity? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT version, removed, body FROM relations WHERE tenant = ? AND id = ?", arguments: [tenant, id])
                .map(SQLiteStore.decodeStoredEntity)
        }
    }
}
