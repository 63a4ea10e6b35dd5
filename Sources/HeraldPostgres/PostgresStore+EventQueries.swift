import HeraldModel
import HeraldStorage
import PostgresNIO

extension PostgresStore {
    /// Events of `tenant` that `query` selects, in ascending `seq` order. A narrowed query reads its sequence
    /// numbers first (a type filter from `events_type`, each type cut at `limit`; one object's events from a scan of
    /// the newest `EventQuery.objectScanLimit` events), then the rows by primary key: read in one statement, the planner walked the whole queue in `seq` order
    /// (a merge join over `events_pkey`, 150 ms for 200,000 events) instead of 2 ms. Sequence numbers are assigned at
    /// commit, so a snapshot never shows an event while a lower one can still commit.
    public func events(tenant: String, _ query: EventQuery) async throws -> [EventRecord] {
        let (after, limit) = (query.after, query.limit)
        let types = query.typeList.map(\.rawValue)
        var seqs: [Int64]
        if let uri = query.objectURI {
            // The object's own events, and merge events naming it in `uris`, among the tenant's newest
            // `objectScanLimit` events after `after` (read backwards through `events_tenant_seq`).
            let merges = EventQuery.mergeTypes.map(\.rawValue)
            let scan = Int64(EventQuery.objectScanLimit)
            let rows = try await self.rows(
                """
                SELECT seq FROM (
                    SELECT seq, type, object_uri, uris FROM events WHERE tenant = \(tenant) AND seq > \(after)
                    ORDER BY seq DESC LIMIT \(scan)) w
                WHERE type = ANY(\(types)::text[])
                  AND (object_uri = \(uri)
                       OR (type = ANY(\(merges)::text[]) AND position(' ' || \(uri) || ' ' IN ' ' || uris || ' ') > 0))
                """)
            seqs = try rows.map { try $0.decode(Int64.self) }
        } else if query.types != nil {
            // One index range per type (a lateral scan of `events_type`), each cut at `limit`.
            let rows: [PostgresRow]
            if query.newest {
                rows = try await self.rows(
                    """
                    SELECT s.seq FROM unnest(\(types)::text[]) AS t(type), LATERAL (
                        SELECT seq FROM events WHERE tenant = \(tenant) AND type = t.type AND seq > \(after)
                        ORDER BY seq DESC LIMIT \(limit)) s
                    """)
            } else {
                rows = try await self.rows(
                    """
                    SELECT s.seq FROM unnest(\(types)::text[]) AS t(type), LATERAL (
                        SELECT seq FROM events WHERE tenant = \(tenant) AND type = t.type AND seq > \(after)
                        ORDER BY seq LIMIT \(limit)) s
                    """)
            }
            seqs = try rows.map { try $0.decode(Int64.self) }
        } else if query.newest {
            let rows = try await self.rows(
                """
                SELECT \(unescaped: Self.eventColumns) FROM events WHERE tenant = \(tenant) AND seq > \(after)
                ORDER BY seq DESC LIMIT \(limit)
                """)
            return try rows.reversed().map { try PostgresStore.decodeEvent($0, tenant: tenant) }
        } else {
            return try await events(tenant: tenant, after: after, limit: limit)
        }
        seqs.sort()
        seqs = query.newest ? Array(seqs.suffix(limit)) : Array(seqs.prefix(limit))
        if seqs.isEmpty { return [] }
        return try await rows(
            """
            SELECT \(unescaped: Self.eventColumns) FROM events WHERE tenant = \(tenant) AND seq = ANY(\(seqs)::int8[])
            ORDER BY seq
            """
        ).map { try PostgresStore.decodeEvent($0, tenant: tenant) }
    }

    static let eventColumns = "seq, type, object_uri, object_version, time, snapshot, delta, uris, details"

    /// The merges in effect that involve `id`, oldest first: the one it lost, and the losers merged into it (and
    /// theirs, `MergeRecord.maxDepth` deep), through `merges_winner`.
    public func mergeHistory(tenant: String, id: String, limit: Int) async throws -> [MergeRecord] {
        try await rows(
            """
            WITH RECURSIVE tree(loser, depth) AS (
                SELECT loser, 1 FROM merges WHERE tenant = \(tenant) AND winner = \(id)
                UNION
                SELECT m.loser, t.depth + 1 FROM merges m JOIN tree t ON m.tenant = \(tenant) AND m.winner = t.loser
                WHERE t.depth < \(MergeRecord.maxDepth))
            SELECT winner, loser, time, merged_by, match_rules FROM merges
            WHERE tenant = \(tenant) AND (loser = \(id) OR loser IN (SELECT loser FROM tree))
            ORDER BY time, loser LIMIT \(limit)
            """
        ).map { row in
            let (winner, loser, time, user, rules) = try row.decode((String, String, Int64, String, String).self)
            return MergeRecord(
                winner: winner, loser: loser, time: time, user: user,
                matchRules: rules.split(separator: " ").map(String.init))
        }
    }
}
