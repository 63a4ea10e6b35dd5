import GRDB
import HeraldStorage
import Logging

extension SQLiteStore {
    /// The tables, created or upgraded when the store opens.
    ///
    /// - `entities`: the current snapshot of each entity (JSON), its version, and a tombstone flag.
    /// - `crosswalks`: which entity each source record belongs to.
    /// - `events`: the CRUD queue (transactional outbox), ordered by `seq`.
    /// - `delivery_cursors`, `delivery_retries`, `dead_letters`: each destination's progress, retry schedule
    ///   and dead letters, keyed by (tenant, destination id) since v5.
    static func migrator(logger: Logger = Logger(label: "herald.store")) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-core") { db in
            try db.execute(
                sql: """
                    CREATE TABLE entities (
                        tenant TEXT NOT NULL,
                        id TEXT NOT NULL,
                        type TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        removed INTEGER NOT NULL DEFAULT 0,
                        updated_time INTEGER NOT NULL,
                        body BLOB NOT NULL
                    );
                    CREATE UNIQUE INDEX entities_key ON entities(tenant, id);

                    CREATE TABLE crosswalks (
                        tenant TEXT NOT NULL,
                        type TEXT NOT NULL,
                        value TEXT NOT NULL,
                        source_table TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        PRIMARY KEY (tenant, type, value, source_table)
                    ) WITHOUT ROWID;

                    CREATE TABLE events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        tenant TEXT NOT NULL,
                        type TEXT NOT NULL,
                        object_uri TEXT NOT NULL,
                        object_version INTEGER NOT NULL,
                        time INTEGER NOT NULL,
                        snapshot BLOB NOT NULL,
                        delta BLOB NOT NULL,
                        uris TEXT NOT NULL DEFAULT ''
                    );
                    CREATE INDEX events_tenant_seq ON events(tenant, seq);

                    CREATE TABLE cursors (
                        consumer TEXT PRIMARY KEY,
                        seq INTEGER NOT NULL,
                        updated_time INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2-delivery") { db in
            try db.execute(
                sql: """
                    CREATE TABLE delivery_retries (
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
                        PRIMARY KEY (destination, seq)
                    ) WITHOUT ROWID;
                    CREATE INDEX delivery_retries_due ON delivery_retries(destination, next_attempt);
                    CREATE INDEX delivery_retries_key ON delivery_retries(destination, message_key, seq);

                    CREATE TABLE dead_letters (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        tenant TEXT NOT NULL,
                        destination TEXT NOT NULL,
                        seq INTEGER NOT NULL,
                        message_id TEXT NOT NULL,
                        message_key TEXT NOT NULL,
                        event_type TEXT NOT NULL,
                        object_uri TEXT NOT NULL,
                        headers TEXT NOT NULL,
                        body BLOB NOT NULL,
                        status TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        first_attempt INTEGER NOT NULL,
                        last_attempt INTEGER NOT NULL,
                        plugin TEXT NOT NULL,
                        plugin_version TEXT NOT NULL,
                        created INTEGER NOT NULL
                    );
                    CREATE INDEX dead_letters_destination ON dead_letters(tenant, destination, id);
                    """)
        }
        migrator.registerMigration("v3-match-merge") { db in
            try db.execute(
                sql: """
                    ALTER TABLE entities ADD COLUMN merged_into TEXT;
                    ALTER TABLE events ADD COLUMN details BLOB NOT NULL DEFAULT x'';

                    CREATE TABLE match_tokens (
                        tenant TEXT NOT NULL,
                        token TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        PRIMARY KEY (tenant, token, entity_id)
                    ) WITHOUT ROWID;
                    CREATE INDEX match_tokens_entity ON match_tokens(tenant, entity_id);

                    CREATE TABLE potential_matches (
                        tenant TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        other_id TEXT NOT NULL,
                        match_rules TEXT NOT NULL,
                        PRIMARY KEY (tenant, entity_id, other_id)
                    ) WITHOUT ROWID;

                    CREATE TABLE not_matches (
                        tenant TEXT NOT NULL,
                        a TEXT NOT NULL,
                        b TEXT NOT NULL,
                        PRIMARY KEY (tenant, a, b)
                    ) WITHOUT ROWID;

                    CREATE TABLE merges (
                        tenant TEXT NOT NULL,
                        loser TEXT NOT NULL,
                        winner TEXT NOT NULL,
                        loser_snapshot BLOB NOT NULL,
                        crosswalk_keys TEXT NOT NULL,
                        time INTEGER NOT NULL,
                        PRIMARY KEY (tenant, loser)
                    ) WITHOUT ROWID;

                    CREATE TABLE relations (
                        tenant TEXT NOT NULL,
                        id TEXT NOT NULL,
                        type TEXT NOT NULL,
                        start_id TEXT NOT NULL,
                        end_id TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        removed INTEGER NOT NULL DEFAULT 0,
                        updated_time INTEGER NOT NULL,
                        body BLOB NOT NULL
                    );
                    CREATE UNIQUE INDEX relations_key ON relations(tenant, id);
                    CREATE INDEX relations_start ON relations(tenant, start_id);
                    CREATE INDEX relations_end ON relations(tenant, end_id);

                    CREATE TABLE relation_crosswalks (
                        tenant TEXT NOT NULL,
                        type TEXT NOT NULL,
                        value TEXT NOT NULL,
                        source_table TEXT NOT NULL,
                        relation_id TEXT NOT NULL,
                        PRIMARY KEY (tenant, type, value, source_table)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v4-match-keys") { db in
            // Tokens become 64-bit keys (FNV-1a of the token text): an index entry shrinks from ~90 to
            // ~20 bytes, and an entity's keys are one row to read back instead of an index range.
            try db.execute(
                sql: """
                    CREATE TABLE match_keys (
                        tenant TEXT NOT NULL,
                        key INTEGER NOT NULL,
                        entity_id TEXT NOT NULL,
                        PRIMARY KEY (tenant, key, entity_id)
                    ) WITHOUT ROWID;
                    CREATE TABLE match_key_sets (
                        tenant TEXT NOT NULL,
                        entity_id TEXT NOT NULL,
                        keys BLOB NOT NULL,
                        PRIMARY KEY (tenant, entity_id)
                    ) WITHOUT ROWID;
                    """)
            let tx = SQLiteTransaction(db: db)
            var current: (tenant: String, entity: String)?
            var keys = Set<Int64>()
            let rows = try Row.fetchCursor(db, sql: "SELECT tenant, entity_id, token FROM match_tokens ORDER BY tenant, entity_id")
            while let row = try rows.next() {
                let key: (String, String) = (row[0], row[1])
                if let c = current, c != key {
                    try tx.replaceMatchKeys(tenant: c.tenant, entityId: c.entity, keys: keys)
                    keys.removeAll()
                }
                current = key
                keys.insert(MatchKey.of(row[2] as String))
            }
            if let c = current { try tx.replaceMatchKeys(tenant: c.tenant, entityId: c.entity, keys: keys) }
            try db.execute(sql: "DROP TABLE match_tokens")
        }
        migrator.registerMigration("v5-delivery-keys") { db in
            try keyDeliveryStateByTenant(db, logger: logger)
        }
        migrator.registerMigration("v6-store-probe") { db in
            // Written and emptied again by the health probe while writes fail (see HealthMonitor).
            try db.execute(sql: "CREATE TABLE store_probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL)")
        }
        migrator.registerMigration("v7-replayed-attempts") { db in
            // Attempts a replayed message made before its replay: the plugin's attempt number continues from them.
            try db.execute(sql: "ALTER TABLE delivery_retries ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0")
        }
        migrator.registerMigration("v8-delivery-leases") { db in
            // Which node delivers which destination, and the nodes' heartbeats (docs/scaling.md). Times are epoch
            // ms of the database's clock; a released lease keeps its row (expires = 0) so its token keeps growing.
            try db.execute(
                sql: """
                    CREATE TABLE delivery_leases (
                        tenant TEXT NOT NULL,
                        destination TEXT NOT NULL,
                        holder TEXT NOT NULL,
                        token INTEGER NOT NULL,
                        since INTEGER NOT NULL,
                        expires INTEGER NOT NULL,
                        PRIMARY KEY (tenant, destination)
                    ) WITHOUT ROWID;
                    CREATE TABLE cluster_nodes (
                        node TEXT PRIMARY KEY,
                        joined INTEGER NOT NULL,
                        last_heartbeat INTEGER NOT NULL
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v9-streaming-settings") { db in
            // What the management API changed, layered over the configuration file (decision 0014), the paused
            // destinations, and the audit list of every change.
            try db.execute(
                sql: """
                    CREATE TABLE streaming_overrides (
                        tenant TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        id TEXT NOT NULL,
                        body TEXT,
                        base TEXT,
                        updated_by TEXT NOT NULL,
                        updated_at INTEGER NOT NULL,
                        PRIMARY KEY (tenant, kind, id)
                    ) WITHOUT ROWID;
                    CREATE TABLE destination_pauses (
                        tenant TEXT NOT NULL,
                        destination TEXT NOT NULL,
                        paused_by TEXT NOT NULL,
                        paused_at INTEGER NOT NULL,
                        PRIMARY KEY (tenant, destination)
                    ) WITHOUT ROWID;
                    CREATE TABLE streaming_changes (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        tenant TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        target TEXT NOT NULL,
                        before TEXT,
                        after TEXT
                    );
                    CREATE INDEX streaming_changes_tenant ON streaming_changes(tenant, id);
                    """)
        }
        migrator.registerMigration("v10-event-lookups-merge-history") { db in
            // The events API's `type` and `tail` read `events_type` instead of the tenant's whole queue (its inserts
            // append per type). There is no index by object: its inserts land at random places, and one cut raw event
            // inserts from about 56,000/s to 13,000/s at 300,000 events (measured, decision 0014's note in
            // docs/api.md); `objectUri` scans a bounded window instead (`EventQuery.objectScanLimit`). Merge records say
            // who merged and by which rules, and are found by winner (merge history, unmerge).
            try db.execute(
                sql: """
                    CREATE INDEX events_type ON events(tenant, type, seq);
                    ALTER TABLE merges ADD COLUMN merged_by TEXT NOT NULL DEFAULT '';
                    ALTER TABLE merges ADD COLUMN match_rules TEXT NOT NULL DEFAULT '';
                    CREATE INDEX merges_winner ON merges(tenant, winner);
                    """)
        }
        return migrator
    }
}
