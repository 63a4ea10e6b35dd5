import Logging
import PostgresNIO

/// The PostgreSQL schema: every table lives in the `herald` schema of the configured database, so Herald can
/// share a database with other applications. Migrations are numbered, applied in order at start, each in its
/// own transaction, under an advisory lock (several nodes starting at once apply each migration once).
enum PostgresSchema {
    static let name = "herald"
    /// The advisory lock taken while migrating (an arbitrary constant: "HERALD" in ASCII).
    static let migrationLock: Int64 = 0x48_45_52_41_4C_44

    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "core",
            statements: [
                """
                CREATE TABLE entities (
                    tenant text NOT NULL, id text NOT NULL, type text NOT NULL, version bigint NOT NULL,
                    removed boolean NOT NULL DEFAULT false, updated_time bigint NOT NULL, body bytea NOT NULL,
                    merged_into text, PRIMARY KEY (tenant, id))
                """,
                """
                CREATE TABLE crosswalks (
                    tenant text NOT NULL, type text NOT NULL, value text NOT NULL, source_table text NOT NULL,
                    entity_id text NOT NULL, PRIMARY KEY (tenant, type, value, source_table))
                """,
                "CREATE INDEX crosswalks_entity ON crosswalks (tenant, entity_id)",
                // The CRUD queue. `seq` is assigned at commit, under the row lock of `event_counter`: sequence
                // numbers follow commit order (docs/decisions/0009-event-log-order.md).
                """
                CREATE TABLE events (
                    seq bigint PRIMARY KEY, tenant text NOT NULL, type text NOT NULL, object_uri text NOT NULL,
                    object_version bigint NOT NULL, time bigint NOT NULL, snapshot bytea NOT NULL, delta bytea NOT NULL,
                    uris text NOT NULL, details bytea NOT NULL)
                """,
                "CREATE INDEX events_tenant_seq ON events (tenant, seq)",
                "CREATE TABLE event_counter (id integer PRIMARY KEY CHECK (id = 1), last bigint NOT NULL)",
                "INSERT INTO event_counter (id, last) VALUES (1, 0)",
                """
                CREATE TABLE delivery_cursors (
                    tenant text NOT NULL, destination text NOT NULL, seq bigint NOT NULL, updated_time bigint NOT NULL,
                    PRIMARY KEY (tenant, destination))
                """,
                """
                CREATE TABLE delivery_retries (
                    tenant text NOT NULL, destination text NOT NULL, seq bigint NOT NULL, message_id text NOT NULL,
                    message_key text NOT NULL, event_type text NOT NULL, object_uri text NOT NULL, headers text NOT NULL,
                    body bytea NOT NULL, attempts integer NOT NULL, next_attempt bigint NOT NULL,
                    first_attempt bigint NOT NULL, last_attempt bigint NOT NULL, last_status text NOT NULL,
                    last_error text NOT NULL, attempt_base integer NOT NULL DEFAULT 0,
                    PRIMARY KEY (tenant, destination, seq))
                """,
                "CREATE INDEX delivery_retries_due ON delivery_retries (tenant, destination, next_attempt)",
                "CREATE INDEX delivery_retries_key ON delivery_retries (tenant, destination, message_key, seq)",
                """
                CREATE TABLE dead_letters (
                    id bigserial PRIMARY KEY, tenant text NOT NULL, destination text NOT NULL, seq bigint NOT NULL,
                    message_id text NOT NULL, message_key text NOT NULL, event_type text NOT NULL,
                    object_uri text NOT NULL, headers text NOT NULL, body bytea NOT NULL, status text NOT NULL,
                    reason text NOT NULL, attempts integer NOT NULL, first_attempt bigint NOT NULL,
                    last_attempt bigint NOT NULL, plugin text NOT NULL, plugin_version text NOT NULL,
                    created bigint NOT NULL)
                """,
                "CREATE INDEX dead_letters_destination ON dead_letters (tenant, destination, id)",
                """
                CREATE TABLE match_keys (
                    tenant text NOT NULL, key bigint NOT NULL, entity_id text NOT NULL,
                    PRIMARY KEY (tenant, key, entity_id))
                """,
                """
                CREATE TABLE match_key_sets (
                    tenant text NOT NULL, entity_id text NOT NULL, keys bytea NOT NULL, PRIMARY KEY (tenant, entity_id))
                """,
                """
                CREATE TABLE potential_matches (
                    tenant text NOT NULL, entity_id text NOT NULL, other_id text NOT NULL, match_rules text NOT NULL,
                    PRIMARY KEY (tenant, entity_id, other_id))
                """,
                "CREATE TABLE not_matches (tenant text NOT NULL, a text NOT NULL, b text NOT NULL, PRIMARY KEY (tenant, a, b))",
                """
                CREATE TABLE merges (
                    tenant text NOT NULL, loser text NOT NULL, winner text NOT NULL, loser_snapshot bytea NOT NULL,
                    crosswalk_keys text NOT NULL, time bigint NOT NULL, PRIMARY KEY (tenant, loser))
                """,
                "CREATE INDEX merges_winner ON merges (tenant, winner)",
                """
                CREATE TABLE relations (
                    tenant text NOT NULL, id text NOT NULL, type text NOT NULL, start_id text NOT NULL,
                    end_id text NOT NULL, version bigint NOT NULL, removed boolean NOT NULL DEFAULT false,
                    updated_time bigint NOT NULL, body bytea NOT NULL, PRIMARY KEY (tenant, id))
                """,
                "CREATE INDEX relations_start ON relations (tenant, start_id)",
                "CREATE INDEX relations_end ON relations (tenant, end_id)",
                """
                CREATE TABLE relation_crosswalks (
                    tenant text NOT NULL, type text NOT NULL, value text NOT NULL, source_table text NOT NULL,
                    relation_id text NOT NULL, PRIMARY KEY (tenant, type, value, source_table))
                """,
                "CREATE TABLE store_probe (id integer PRIMARY KEY, filler bytea NOT NULL)",
            ]),
        // Matching asks whether an entity is in any not-a-match pair, on either side.
        Migration(
            version: 2, name: "not_matches_by_b",
            statements: ["CREATE INDEX not_matches_b ON not_matches (tenant, b)"]),
        // Which node delivers which destination, and the nodes' heartbeats (docs/scaling.md). Times are epoch ms of
        // the database's clock; a released lease keeps its row (expires = 0) so that its token keeps growing.
        Migration(
            version: 3, name: "delivery-leases",
            statements: [
                """
                CREATE TABLE delivery_leases (
                    tenant text NOT NULL, destination text NOT NULL, holder text NOT NULL, token bigint NOT NULL,
                    since bigint NOT NULL, expires bigint NOT NULL, PRIMARY KEY (tenant, destination))
                """,
                "CREATE TABLE cluster_nodes (node text PRIMARY KEY, joined bigint NOT NULL, last_heartbeat bigint NOT NULL)",
            ]),
        // What the management API changed, layered over the configuration file (decision 0014), the paused
        // destinations, and the audit list of every change.
        Migration(
            version: 4, name: "streaming-settings",
            statements: [
                """
                CREATE TABLE streaming_overrides (
                    tenant text NOT NULL, kind text NOT NULL, id text NOT NULL, body text, base text,
                    updated_by text NOT NULL, updated_at bigint NOT NULL, PRIMARY KEY (tenant, kind, id))
                """,
                """
                CREATE TABLE destination_pauses (
                    tenant text NOT NULL, destination text NOT NULL, paused_by text NOT NULL, paused_at bigint NOT NULL,
                    PRIMARY KEY (tenant, destination))
                """,
                """
                CREATE TABLE streaming_changes (
                    id bigserial PRIMARY KEY, tenant text NOT NULL, at bigint NOT NULL, actor text NOT NULL,
                    action text NOT NULL, kind text NOT NULL, target text NOT NULL, before text, after text)
                """,
                "CREATE INDEX streaming_changes_tenant ON streaming_changes (tenant, id)",
            ]),
        // The events API's `type`, `tail` and `objectUri` (one entity's events, merge events by `uris`) read these
        // instead of the tenant's whole queue; merge records say who merged and by which rules (merge history).
        Migration(
            version: 5, name: "event-lookups-merge-history",
            statements: [
                "CREATE INDEX events_type ON events (tenant, type, seq)",
                "ALTER TABLE merges ADD COLUMN merged_by text NOT NULL DEFAULT ''",
                "ALTER TABLE merges ADD COLUMN match_rules text NOT NULL DEFAULT ''",
            ]),
    ]

    /// Creates the schema if needed and applies every migration not applied yet.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        _ = try await connection.query("SELECT pg_advisory_lock(\(migrationLock))", logger: logger)
        do {
            _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(name)"), logger: logger)
            _ = try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE TABLE IF NOT EXISTS \(name).schema_migrations (
                            version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                        """), logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT version FROM \(name).schema_migrations"), logger: logger
            ).decode(Int.self) {
                applied.insert(version)
            }
            let known = Set(migrations.map(\.version))
            if let newer = applied.subtracting(known).max() {
                throw MigrationError(
                    "the database has schema version \(newer), newer than this Herald knows (\(known.max() ?? 0)); "
                        + "run the newer Herald or restore a backup")
            }
            for migration in migrations where !applied.contains(migration.version) {
                _ = try await connection.query("BEGIN", logger: logger)
                do {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(name)"), logger: logger)
                    for statement in migration.statements {
                        _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    _ = try await connection.query(
                        "INSERT INTO herald.schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                        logger: logger)
                    _ = try await connection.query("COMMIT", logger: logger)
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
                logger.info("store: applied PostgreSQL schema migration \(migration.version) (\(migration.name))")
            }
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
            throw error
        }
        _ = try await connection.query("SELECT pg_advisory_unlock(\(migrationLock))", logger: logger)
    }

    struct MigrationError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
