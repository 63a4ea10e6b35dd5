import GRDB
import HeraldModel
import HeraldStorage

extension SQLiteStore {
    /// Events of `tenant` that `query` selects, in ascending `seq` order. A type filter reads `events_type` and stops
    /// after `limit` rows; one object's events scan at most `EventQuery.objectScanLimit` of the newest events.
    public func events(tenant: String, _ query: EventQuery) async throws -> [EventRecord] {
        try await read { db in
            let (sql, arguments) = SQLiteStore.eventQuerySQL(tenant: tenant, query)
            let records = try SQLiteStore.decodeEvents(
                db.cachedStatement(sql: sql), arguments: arguments, tenant: tenant)
            return query.newest ? records.reversed() : records
        }
    }

    private static let eventColumns = "seq, type, object_uri, object_version, time, snapshot, delta, uris, details"

    /// The statement for `query` and its arguments. Its text depends only on the query's shape and its number of
    /// types, so the cached statements stay few. Parameters: ?1 tenant, ?2 after, ?3 limit, then the rest.
    static func eventQuerySQL(tenant: String, _ query: EventQuery) -> (String, StatementArguments) {
        let order = query.newest ? "DESC" : "ASC"
        var arguments: StatementArguments = [tenant, query.after, query.limit]
        var next = 4
        func parameter(_ value: some DatabaseValueConvertible) -> String {
            arguments += [value]
            defer { next += 1 }
            return "?\(next)"
        }
        if let uri = query.objectURI {
            // The object's own events, and merge events naming it in `uris`, among the tenant's newest
            // `objectScanLimit` events after `after` (read backwards through `events_tenant_seq`).
            let u = parameter(uri)
            let scan = parameter(EventQuery.objectScanLimit)
            let merges = EventQuery.mergeTypes.map { parameter($0.rawValue) }.joined(separator: ", ")
            var typeCondition = ""
            if query.types != nil {
                typeCondition =
                    " AND type IN (\(query.typeList.map { parameter($0.rawValue) }.joined(separator: ", ")))"
            }
            return (
                """
                SELECT \(eventColumns) FROM events WHERE tenant = ?1 AND seq IN (
                    SELECT seq FROM (
                        SELECT seq, type, object_uri, uris FROM events INDEXED BY events_tenant_seq
                        WHERE tenant = ?1 AND seq > ?2 ORDER BY seq DESC LIMIT \(scan))
                    WHERE object_uri = \(u)
                        OR (type IN (\(merges)) AND instr(' ' || uris || ' ', ' ' || \(u) || ' ') > 0))\(typeCondition)
                ORDER BY seq \(order) LIMIT ?3
                """, arguments
            )
        }
        if query.types != nil {
            // One index range per type, each cut at `limit`, then the first `limit` of their union.
            let parts = query.typeList.map { type in
                """
                SELECT seq FROM (SELECT seq FROM events INDEXED BY events_type
                    WHERE tenant = ?1 AND type = \(parameter(type.rawValue)) AND seq > ?2 ORDER BY seq \(order) LIMIT ?3)
                """
            }
            return (
                """
                SELECT \(eventColumns) FROM events WHERE tenant = ?1 AND seq IN (
                \(parts.joined(separator: "\nUNION ALL\n")))
                ORDER BY seq \(order) LIMIT ?3
                """, arguments
            )
        }
        return (
            "SELECT \(eventColumns) FROM events WHERE tenant = ?1 AND seq > ?2 ORDER BY seq \(order) LIMIT ?3",
            arguments
        )
    }
}

extension SQLiteStore {
    /// The merges in effect that involve `id`, oldest first: the one it lost, and the losers merged into it (and
    /// theirs, `MergeRecord.maxDepth` deep), through `merges_winner`.
    public func mergeHistory(tenant: String, id: String, limit: Int) async throws -> [MergeRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        WITH RECURSIVE tree(loser, depth) AS (
                            SELECT loser, 1 FROM merges WHERE tenant = ?1 AND winner = ?2
                            UNION
                            SELECT m.loser, t.depth + 1 FROM merges m JOIN tree t ON m.tenant = ?1 AND m.winner = t.loser
                            WHERE t.depth < ?3)
                        SELECT winner, loser, time, merged_by, match_rules FROM merges
                        WHERE tenant = ?1 AND (loser = ?2 OR loser IN (SELECT loser FROM tree))
                        ORDER BY time, loser LIMIT ?4
                        """), arguments: [tenant, id, MergeRecord.maxDepth, limit]
            ).map { row in
                let rules: String = row[4]
                return MergeRecord(
                    winner: row[0], loser: row[1], time: row[2], user: row[3],
                    matchRules: rules.split(separator: " ").map(String.init))
            }
        }
    }
}
