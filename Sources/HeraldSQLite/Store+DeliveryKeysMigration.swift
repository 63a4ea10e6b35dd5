import GRDB
import HeraldStorage
import Logging

extension SQLiteStore {
    /// Schema v5: every piece of delivery state is keyed by (tenant, destination id).
    ///
    /// Before v5 the retry schedule was keyed by destination id alone, and destination ids are unique only
    /// within a tenant: two tenants with a destination `q/events` shared one schedule, and one tenant's
    /// retries were delivered by the other tenant's sink. Cursors were rows of `cursors` named
    /// `destination:{tenant}/{destination}`.
    ///
    /// - Each retry row gets the tenant of the event it belongs to (`events.seq` is unique across tenants).
    ///   If compaction already removed the event, the `tenantId` header the message was rendered with is
    ///   used. A row with neither cannot be attributed and is kept with an empty tenant (never delivered);
    ///   the count is logged.
    /// - Destination cursors move to `delivery_cursors(tenant, destination)`; tenant ids cannot contain
    ///   '/', so the old name splits at its first '/'. The `cursors` table had no other consumer and is dropped.
    static func keyDeliveryStateByTenant(_ db: Database, logger: Logger) throws {
        try db.execute(
            sql: """
                CREATE TABLE delivery_retries_v5 (
                    tenant TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    message_id TEXT NOT NULL,
                    message_key TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    object_uri TEXT NOT NULL,
                    headers TEXT NOT NULL,
                    body BLOB NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt INTEGER NOT NULL,
                    first_attempt INTEGER NOT NULL,
                    last_attempt INTEGER NOT NULL,
                    last_status TEXT NOT NULL,
                    last_error TEXT NOT NULL,
                    PRIMARY KEY (tenant, destination, seq)
                ) WITHOUT ROWID;
                """)
        let insert = try db.makeStatement(
            sql: """
                INSERT INTO delivery_retries_v5 (tenant, destination, seq, message_id, message_key, event_type,
                    object_uri, headers, body, attempts, next_attempt, first_attempt, last_attempt, last_status, last_error)
                SELECT ?, destination, seq, message_id, message_key, event_type, object_uri, headers, body, attempts,
                    next_attempt, first_attempt, last_attempt, last_status, last_error
                FROM delivery_retries WHERE destination = ? AND seq = ?
                """)
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT r.destination, r.seq, r.headers, e.tenant AS event_tenant
                FROM delivery_retries r LEFT JOIN events e ON e.seq = r.seq
                """)
        var unattributed = 0
        for row in rows {
            let destination: String = row["destination"]
            let seq: Int64 = row["seq"]
            var tenant: String? = row["event_tenant"]
            if tenant == nil {
                tenant = HeaderCoding.decode(row["headers"]).first { $0.name == "tenantId" }?.value
            }
            if tenant == nil { unattributed += 1 }
            try insert.execute(arguments: [tenant ?? "", destination, seq])
        }
        try db.execute(
            sql: """
                DROP TABLE delivery_retries;
                ALTER TABLE delivery_retries_v5 RENAME TO delivery_retries;
                CREATE INDEX delivery_retries_due ON delivery_retries(tenant, destination, next_attempt);
                CREATE INDEX delivery_retries_key ON delivery_retries(tenant, destination, message_key, seq);

                CREATE TABLE delivery_cursors (
                    tenant TEXT NOT NULL,
                    destination TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    updated_time INTEGER NOT NULL,
                    PRIMARY KEY (tenant, destination)
                ) WITHOUT ROWID;
                INSERT INTO delivery_cursors (tenant, destination, seq, updated_time)
                SELECT substr(name, 1, instr(name, '/') - 1), substr(name, instr(name, '/') + 1), seq, updated_time
                FROM (SELECT substr(consumer, length('destination:') + 1) AS name, seq, updated_time FROM cursors
                      WHERE consumer LIKE 'destination:%')
                WHERE instr(name, '/') > 1;
                DROP TABLE cursors;
                """)
        if !rows.isEmpty {
            var text = "store upgraded to v5: \(rows.count) retry-schedule entries keyed by tenant"
            if unattributed > 0 {
                text += "; \(unattributed) could not be attributed to a tenant (their event is compacted and they carry "
                    + "no tenantId header) and will not be delivered: see docs/storage.md"
            }
            logger.notice("\(text)")
        }
    }
}
