/// What `herald store migrate` copies from one backend to another: every table that holds Herald's data, with
/// the columns both backends have, in the order they are copied. Each backend reads or writes these batches
/// (`SQLiteExport`, `PostgresImport`); the values pass through unchanged (entity bodies and snapshots are the same
/// compact stored form in both).
///
/// Not copied: the health probe's scratch table, and the counters that are not tables (the event sequence and the
/// dead-letter ids), which the importer sets from `StoreCopy.Sequences`.
public enum StoreCopy {
    public enum ColumnType: Sendable, Equatable {
        case text
        /// Text that may be NULL (`entities.merged_into`).
        case nullableText
        /// Any integer column (64-bit on the way; the target narrows where its column is narrower).
        case int64
        /// `removed` flags: an integer 0/1 in SQLite, a boolean in PostgreSQL.
        case bool
        case bytes
    }

    public struct Column: Sendable, Equatable {
        public let name: String
        public let type: ColumnType
        public init(_ name: String, _ type: ColumnType) {
            self.name = name
            self.type = type
        }
    }

    public struct Table: Sendable, Equatable {
        public let name: String
        public let columns: [Column]
        public init(_ name: String, _ columns: [Column]) {
            self.name = name
            self.columns = columns
        }
    }

    /// One column's values in a batch.
    public enum Values: Sendable {
        case text([String])
        case nullableText([String?])
        case int64([Int64])
        case bool([Bool])
        /// Every row's bytes one after the other; `ends[i]` is where row i's bytes end.
        case bytes(data: [UInt8], ends: [Int])
    }

    /// Rows of one table, column by column (`columns[i]` holds `table.columns[i]`).
    public struct Batch: Sendable {
        public var columns: [Values]
        public var rows: Int
        /// Roughly how many bytes the batch holds (text and bytes), to keep batches of large rows small.
        public var bytes: Int
        public init(columns: [Values], rows: Int, bytes: Int) {
            self.columns = columns
            self.rows = rows
            self.bytes = bytes
        }
    }

    /// The counters that continue after the copied rows.
    public struct Sequences: Sendable, Equatable {
        /// The highest event sequence number ever handed out (not only the highest still in the queue: compaction
        /// deletes delivered events, and a number must never be handed out twice).
        public var lastEvent: Int64
        /// The highest dead-letter id ever handed out.
        public var lastDeadLetter: Int64
        public init(lastEvent: Int64, lastDeadLetter: Int64) {
            self.lastEvent = lastEvent
            self.lastDeadLetter = lastDeadLetter
        }
    }

    /// Every table, in copy order.
    public static let tables: [Table] = [
        Table(
            "entities",
            [
                Column("tenant", .text), Column("id", .text), Column("type", .text), Column("version", .int64),
                Column("removed", .bool), Column("updated_time", .int64), Column("body", .bytes),
                Column("merged_into", .nullableText),
            ]),
        Table(
            "crosswalks",
            [
                Column("tenant", .text), Column("type", .text), Column("value", .text), Column("source_table", .text),
                Column("entity_id", .text),
            ]),
        Table("match_keys", [Column("tenant", .text), Column("key", .int64), Column("entity_id", .text)]),
        Table("match_key_sets", [Column("tenant", .text), Column("entity_id", .text), Column("keys", .bytes)]),
        Table(
            "potential_matches",
            [Column("tenant", .text), Column("entity_id", .text), Column("other_id", .text), Column("match_rules", .text)]),
        Table("not_matches", [Column("tenant", .text), Column("a", .text), Column("b", .text)]),
        Table(
            "merges",
            [
                Column("tenant", .text), Column("loser", .text), Column("winner", .text), Column("loser_snapshot", .bytes),
                Column("crosswalk_keys", .text), Column("time", .int64), Column("merged_by", .text),
                Column("match_rules", .text),
            ]),
        Table(
            "relations",
            [
                Column("tenant", .text), Column("id", .text), Column("type", .text), Column("start_id", .text),
                Column("end_id", .text), Column("version", .int64), Column("removed", .bool),
                Column("updated_time", .int64), Column("body", .bytes),
            ]),
        Table(
            "relation_crosswalks",
            [
                Column("tenant", .text), Column("type", .text), Column("value", .text), Column("source_table", .text),
                Column("relation_id", .text),
            ]),
        Table(
            "events",
            [
                Column("seq", .int64), Column("tenant", .text), Column("type", .text), Column("object_uri", .text),
                Column("object_version", .int64), Column("time", .int64), Column("snapshot", .bytes),
                Column("delta", .bytes), Column("uris", .text), Column("details", .bytes),
            ]),
        Table(
            "delivery_cursors",
            [Column("tenant", .text), Column("destination", .text), Column("seq", .int64), Column("updated_time", .int64)]),
        Table(
            "delivery_retries",
            [
                Column("tenant", .text), Column("destination", .text), Column("seq", .int64), Column("message_id", .text),
                Column("message_key", .text), Column("event_type", .text), Column("object_uri", .text),
                Column("headers", .text), Column("body", .bytes), Column("attempts", .int64),
                Column("next_attempt", .int64), Column("first_attempt", .int64), Column("last_attempt", .int64),
                Column("last_status", .text), Column("last_error", .text), Column("attempt_base", .int64),
            ]),
        Table(
            "dead_letters",
            [
                Column("id", .int64), Column("tenant", .text), Column("destination", .text), Column("seq", .int64),
                Column("message_id", .text), Column("message_key", .text), Column("event_type", .text),
                Column("object_uri", .text), Column("headers", .text), Column("body", .bytes), Column("status", .text),
                Column("reason", .text), Column("attempts", .int64), Column("first_attempt", .int64),
                Column("last_attempt", .int64), Column("plugin", .text), Column("plugin_version", .text),
                Column("created", .int64),
            ]),
        // What the management API changed (decision 0014).
        Table(
            "streaming_overrides",
            [
                Column("tenant", .text), Column("kind", .text), Column("id", .text), Column("body", .nullableText),
                Column("base", .nullableText), Column("updated_by", .text), Column("updated_at", .int64),
            ]),
        Table(
            "destination_pauses",
            [Column("tenant", .text), Column("destination", .text), Column("paused_by", .text), Column("paused_at", .int64)]),
        Table(
            "streaming_changes",
            [
                Column("id", .int64), Column("tenant", .text), Column("at", .int64), Column("actor", .text),
                Column("action", .text), Column("kind", .text), Column("target", .text), Column("before", .nullableText),
                Column("after", .nullableText),
            ]),
    ]
}
