import Foundation
import HeraldJSON
import HeraldModel
import HeraldStorage
import NIOCore
import PostgresNIO

/// The store's operations inside one PostgreSQL write transaction (`StoreTransaction`).
///
/// Runs on the writer thread, one statement at a time on the writer's connection (each waits for its answer).
/// Events are kept in the session until commit, when they get their sequence numbers.
struct PostgresTransaction: StoreTransaction {
    let session: WriterSession

    /// A statement that only reads.
    private func rows(_ query: PostgresQuery) throws -> PostgresQueryResult { try session.query(query) }
    /// A statement that writes (inside the job's savepoint).
    private func run(_ query: PostgresQuery) throws { try session.writeStatement(query) }
    private func count(_ query: PostgresQuery) throws -> Int { try session.writeStatement(query).metadata.rows ?? 0 }

    static func bytes(_ buffer: ByteBuffer) -> [UInt8] { Array(buffer.readableBytesView) }

    static func decodeEntity(_ bytes: [UInt8]) throws -> Entity {
        do { return try Entity(storedBytes: bytes) } catch {
            throw StoreError(.corruptRow, "stored entity does not parse: \(error)")
        }
    }

    private func key(_ tenant: String, _ id: String) -> WriteOverlay.EntityKey { .init(tenant: tenant, id: id) }

    static func storedEntity(_ row: PostgresRow) throws -> StoredEntity {
        let (version, removed, body, mergedInto) = try row.decode((Int64, Bool, ByteBuffer, String?).self)
        do {
            return StoredEntity(
                entity: try Entity(storedBytes: bytes(body)), version: version, removed: removed, mergedInto: mergedInto)
        } catch {
            throw StoreError(.corruptRow, "stored entity does not parse: \(error)")
        }
    }

    // MARK: entities and crosswalks

    /// The reads below join each wanted row to its entity's row, key set and pair flags with `LATERAL … LIMIT 1`
    /// subqueries: PostgreSQL then looks each one up by its primary key. As plain joins, a table that grew since
    /// it was last analyzed got planned as a hash join over all of the tenant's rows (measured: 7 ms instead of
    /// 0.3 ms per read at 28,000 crosswalks, growing with the table).
    ///
    /// The columns, for an entity id `x` (an expression of the query) in `tenant`: its version, removed, body (only
    /// `withBody`), merged_into, match-key set, whether it is in a not-a-match pair, whether it has potential matches.
    private static func entityLaterals(_ x: String, withBody: Bool) -> (columns: String, joins: String) {
        (
            "e.version, e.removed, \(withBody ? "e.body" : "NULL::bytea"), e.merged_into, ks.keys, "
                + "na.yes IS NOT NULL OR nb.yes IS NOT NULL, pm.yes IS NOT NULL",
            """
            LEFT JOIN LATERAL (SELECT version, removed, \(withBody ? "body, " : "")merged_into FROM entities
                WHERE tenant = $1 AND id = \(x) LIMIT 1) e ON true
            LEFT JOIN LATERAL (SELECT keys FROM match_key_sets WHERE tenant = $1 AND entity_id = \(x) LIMIT 1) ks ON true
            LEFT JOIN LATERAL (SELECT true AS yes FROM not_matches WHERE tenant = $1 AND a = \(x) LIMIT 1) na ON true
            LEFT JOIN LATERAL (SELECT true AS yes FROM not_matches WHERE tenant = $1 AND b = \(x) LIMIT 1) nb ON true
            LEFT JOIN LATERAL (SELECT true AS yes FROM potential_matches WHERE tenant = $1 AND entity_id = \(x) LIMIT 1) pm
                ON true
            """
        )
    }

    /// Decodes the columns of `entityLaterals` from `offset` on and remembers the entity (when it exists).
    private func learnEntity(_ row: PostgresRandomAccessRow, at offset: Int, tenant: String, id: String) throws {
        let version = try row[offset].decode(Int64?.self)
        guard let version else { return }
        let removed = try row[offset + 1].decode(Bool.self)
        let body = try row[offset + 2].decode(ByteBuffer?.self)
        let mergedInto = try row[offset + 3].decode(String?.self)
        let keys = try row[offset + 4].decode(ByteBuffer?.self)
        let k = key(tenant, id)
        let known = session.readAhead.entities[k]
        session.readAhead.entities[k] = ReadAhead.EntityRow(
            version: version, removed: removed, mergedInto: mergedInto, body: body.map(Self.bytes) ?? known?.body,
            keys: keys.map { MatchKey.decode(Self.bytes($0)) } ?? [])
        session.readAhead.learn(
            k, hasNotMatches: try row[offset + 5].decode(Bool.self), hasPotentialMatches: try row[offset + 6].decode(Bool.self))
    }

    func prefetch(tenant: String, crosswalks keys: [CrosswalkKey]) throws {
        let wanted = keys.filter { session.readAhead.crosswalks[.init(tenant: tenant, key: $0)] == nil }
        guard !wanted.isEmpty else { return }
        for key in wanted { session.readAhead.crosswalks[.init(tenant: tenant, key: key)] = .some(nil) }
        let types = wanted.map(\.type), values = wanted.map(\.value), tables = wanted.map(\.sourceTable)
        let entity = Self.entityLaterals("c.entity_id", withBody: true)
        var bindings = PostgresBindings()
        bindings.append(tenant)
        bindings.append(types)
        bindings.append(values)
        bindings.append(tables)
        for row in try rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT k.type, k.value, k.source_table, c.entity_id, \(entity.columns)
                    FROM unnest($2::text[], $3::text[], $4::text[]) AS k(type, value, source_table)
                    CROSS JOIN LATERAL (SELECT entity_id FROM crosswalks WHERE tenant = $1 AND type = k.type
                        AND value = k.value AND source_table = k.source_table LIMIT 1) c
                    \(entity.joins)
                    """, binds: bindings))
        {
            let r = row.makeRandomAccess()
            let (type, value, table, entityId) = (
                try r[0].decode(String.self), try r[1].decode(String.self), try r[2].decode(String.self),
                try r[3].decode(String.self)
            )
            session.readAhead.crosswalks[.init(tenant: tenant, key: CrosswalkKey(type: type, value: value, sourceTable: table))] =
                .some(entityId)
            try learnEntity(r, at: 4, tenant: tenant, id: entityId)
        }
    }

    func prefetch(tenant: String, entities ids: [String]) throws {
        let wanted = ids.filter {
            session.readAhead.entities[key(tenant, $0)]?.body == nil && session.overlay.entities[key(tenant, $0)]?.isInsert != true
        }
        guard !wanted.isEmpty else { return }
        for row in try rows(
            """
            SELECT u.id, e.version, e.removed, e.body, e.merged_into FROM unnest(\(wanted)::text[]) AS u(id)
            CROSS JOIN LATERAL (SELECT version, removed, body, merged_into FROM entities WHERE tenant = \(tenant) AND id = u.id
                LIMIT 1) e
            """)
        {
            let (id, version, removed, body, mergedInto) = try row.decode((String, Int64, Bool, ByteBuffer, String?).self)
            let k = key(tenant, id)
            session.readAhead.entities[k] = ReadAhead.EntityRow(
                version: version, removed: removed, mergedInto: mergedInto, body: Self.bytes(body),
                keys: session.readAhead.entities[k]?.keys)
        }
    }

    func entityId(tenant: String, crosswalk key: CrosswalkKey) throws -> String? {
        let row = WriteOverlay.CrosswalkRow(tenant: tenant, key: key)
        if let written = session.overlay.crosswalk(row) { return written }
        if let known = session.readAhead.crosswalks[row] { return known }
        return try rows(
            "SELECT entity_id FROM crosswalks WHERE tenant = \(tenant) AND type = \(key.type) AND value = \(key.value) AND source_table = \(key.sourceTable)"
        ).first?.decode(String.self)
    }

    func entity(tenant: String, id: String) throws -> StoredEntity? {
        let k = key(tenant, id)
        let written = session.overlay.entities[k]
        if let written, written.isInsert { return try WriteOverlay.stored(written) }
        if let written, let body = written.body, let row = session.readAhead.entities[k] {
            // Rewritten in this transaction: the database's row adds only what the write did not set.
            var mergedInto = row.mergedInto
            if let merged = written.mergedInto { mergedInto = merged }
            return StoredEntity(
                entity: try Self.decodeEntity(body), version: written.version ?? row.version,
                removed: written.removed ?? row.removed, mergedInto: mergedInto)
        }
        var stored = try session.readAhead.storedEntity(k)
        if stored == nil {
            guard
                let row = try rows("SELECT version, removed, body, merged_into FROM entities WHERE tenant = \(tenant) AND id = \(id)")
                    .first
            else { return nil }
            let (version, removed, body, mergedInto) = try row.decode((Int64, Bool, ByteBuffer, String?).self)
            let bytes = Self.bytes(body)
            stored = StoredEntity(entity: try Self.decodeEntity(bytes), version: version, removed: removed, mergedInto: mergedInto)
            let known = session.readAhead.entities[k]
            session.readAhead.entities[k] = ReadAhead.EntityRow(
                version: version, removed: removed, mergedInto: mergedInto, body: bytes, keys: known?.keys)
        }
        guard let stored, let written else { return stored }
        return try WriteOverlay.apply(written, to: stored)
    }

    func entityVersion(tenant: String, id: String) throws -> (version: Int64, removed: Bool, mergedInto: String?)? {
        let k = key(tenant, id)
        let written = session.overlay.entities[k]
        if let written, written.isInsert {
            return (written.version ?? 1, written.removed ?? false, written.mergedInto ?? nil)
        }
        var (v, r, m): (Int64, Bool, String?)
        if let known = session.readAhead.entities[k] {
            (v, r, m) = (known.version, known.removed, known.mergedInto)
        } else {
            guard
                let row = try rows("SELECT version, removed, merged_into FROM entities WHERE tenant = \(tenant) AND id = \(id)").first
            else { return nil }
            (v, r, m) = try row.decode((Int64, Bool, String?).self)
            session.readAhead.entities[k] = ReadAhead.EntityRow(version: v, removed: r, mergedInto: m)
        }
        if let written {
            v = written.version ?? v
            r = written.removed ?? r
            if let merged = written.mergedInto { m = merged }
        }
        return (v, r, m)
    }

    func entityExists(tenant: String, id: String) throws -> Bool {
        if let written = session.overlay.entities[key(tenant, id)], written.isInsert { return true }
        if session.readAhead.entities[key(tenant, id)] != nil { return true }
        return try rows("SELECT 1 FROM entities WHERE tenant = \(tenant) AND id = \(id)").first != nil
    }

    /// Answered from the overlay and the rows read ahead only: the insert at commit verifies it (a random 8-character
    /// id is taken by another entity about once in 10^14 / n tries), and a collision there re-runs the job.
    func isGeneratedEntityIdTaken(tenant: String, id: String) throws -> Bool {
        if let written = session.overlay.entities[key(tenant, id)], written.isInsert { return true }
        return session.readAhead.entities[key(tenant, id)] != nil
    }

    func insertEntity(tenant: String, entity: Entity, body: [UInt8]) throws {
        // A new entity is in no pair and no relation yet (its generated id is verified at commit).
        session.readAhead.created(key(tenant, entity.id))
        session.overlay.change(key(tenant, entity.id), insert: true) { w in
            w.type = entity.type
            w.version = 1
            w.removed = false
            w.updatedTime = entity.updatedTime
            w.body = body
        }
    }

    /// The version the database row had when this transaction read it (checked by the update at commit).
    private func baseVersion(_ k: WriteOverlay.EntityKey) -> Int64? { session.readAhead.entities[k]?.version }

    func updateEntity(tenant: String, entity: Entity, version: Int64, body: [UInt8], removed: Bool) throws {
        let k = key(tenant, entity.id)
        session.overlay.change(k, baseVersion: baseVersion(k)) { w in
            w.version = version
            w.removed = removed
            w.updatedTime = entity.updatedTime
            w.body = body
        }
    }

    func insertCrosswalk(tenant: String, key: CrosswalkKey, entityId: String) throws {
        session.overlay.setCrosswalk(.init(tenant: tenant, key: key), to: entityId, created: true)
    }

    func deleteCrosswalk(tenant: String, key: CrosswalkKey) throws {
        session.overlay.setCrosswalk(.init(tenant: tenant, key: key), to: nil)
    }

    func repointCrosswalk(tenant: String, key: CrosswalkKey, entityId: String) throws {
        session.overlay.setCrosswalk(.init(tenant: tenant, key: key), to: entityId)
    }

    // MARK: merges

    func setMergedInto(tenant: String, id: String, winner: String?, version: Int64, body: [UInt8]) throws {
        let k = key(tenant, id)
        session.overlay.change(k, baseVersion: baseVersion(k)) { w in
            w.mergedInto = .some(winner)
            w.version = version
            w.body = body
        }
    }

    func recordMerge(tenant: String, loser: Entity, winner: String, time: Int64, user: String, matchRules: [String]) throws {
        let keys = loser.crosswalks.map { "\($0.type)\u{1F}\($0.value)\u{1F}\($0.sourceTable ?? "")" }
            .joined(separator: "\u{1E}")
        session.overlay.setMerge(
            key(tenant, loser.id),
            WriteOverlay.MergeWrite(
                winner: winner, snapshot: loser.storedBytes(), crosswalkKeys: keys, time: time, user: user,
                matchRules: matchRules.joined(separator: " ")))
    }

    static func crosswalkKeys(_ text: String) -> Set<CrosswalkKey> {
        var keys = Set<CrosswalkKey>()
        for item in text.split(separator: "\u{1E}") {
            let parts = item.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3 { keys.insert(CrosswalkKey(type: parts[0], value: parts[1], sourceTable: parts[2])) }
        }
        return keys
    }

    func mergeRecord(tenant: String, loser: String) throws -> (winner: String, snapshot: Entity, crosswalks: Set<CrosswalkKey>)? {
        if let written = session.overlay.merges[key(tenant, loser)] {
            guard let written else { return nil }
            return (written.winner, try Self.decodeEntity(written.snapshot), Self.crosswalkKeys(written.crosswalkKeys))
        }
        guard
            let row = try rows(
                "SELECT winner, loser_snapshot, crosswalk_keys FROM merges WHERE tenant = \(tenant) AND loser = \(loser)"
            ).first
        else { return nil }
        let (winner, body, text) = try row.decode((String, ByteBuffer, String).self)
        return (winner, try Entity(storedBytes: Self.bytes(body)), Self.crosswalkKeys(text))
    }

    func deleteMergeRecord(tenant: String, loser: String) throws {
        session.overlay.setMerge(key(tenant, loser), nil)
    }

    func losers(tenant: String, winner: String) throws -> [String] {
        var out = try rows("SELECT loser FROM merges WHERE tenant = \(tenant) AND winner = \(winner)").map { try $0.decode(String.self) }
            .filter { session.overlay.merges[key(tenant, $0)] == nil }
        for (loser, write) in session.overlay.merges where loser.tenant == tenant && write?.winner == winner {
            out.append(loser.id)
        }
        return out.sorted()
    }

    // MARK: relations

    func relation(tenant: String, id: String) throws -> StoredEntity? {
        try rows("SELECT version, removed, body, NULL::text FROM relations WHERE tenant = \(tenant) AND id = \(id)")
            .first.map(Self.storedEntity)
    }

    func relationExists(tenant: String, id: String) throws -> Bool {
        try rows("SELECT 1 FROM relations WHERE tenant = \(tenant) AND id = \(id)").first != nil
    }

    func relationId(tenant: String, crosswalk key: CrosswalkKey) throws -> String? {
        try rows(
            """
            SELECT relation_id FROM relation_crosswalks
            WHERE tenant = \(tenant) AND type = \(key.type) AND value = \(key.value) AND source_table = \(key.sourceTable)
            """
        ).first?.decode(String.self)
    }

    func insertRelation(tenant: String, relation: Entity, body: [UInt8]) throws {
        guard let ends = relation.endpoints else { return }
        session.readAhead.relationsChanged(key(tenant, ends.startId))
        session.readAhead.relationsChanged(key(tenant, ends.endId))
        try run(
            """
            INSERT INTO relations (tenant, id, type, start_id, end_id, version, removed, updated_time, body)
            VALUES (\(tenant), \(relation.id), \(relation.type), \(ends.startId), \(ends.endId), 1, false,
                \(relation.updatedTime), \(ByteBuffer(bytes: body)))
            """)
    }

    func updateRelation(tenant: String, relation: Entity, version: Int64, body: [UInt8], removed: Bool) throws {
        guard let ends = relation.endpoints else { return }
        session.readAhead.relationsChanged(key(tenant, ends.startId))
        session.readAhead.relationsChanged(key(tenant, ends.endId))
        try run(
            """
            UPDATE relations SET start_id = \(ends.startId), end_id = \(ends.endId), version = \(version),
                removed = \(removed), updated_time = \(relation.updatedTime), body = \(ByteBuffer(bytes: body))
            WHERE tenant = \(tenant) AND id = \(relation.id)
            """)
    }

    func insertRelationCrosswalk(tenant: String, key: CrosswalkKey, relationId: String) throws {
        try run(
            """
            INSERT INTO relation_crosswalks (tenant, type, value, source_table, relation_id)
            VALUES (\(tenant), \(key.type), \(key.value), \(key.sourceTable), \(relationId))
            """)
    }

    func deleteRelationCrosswalk(tenant: String, key: CrosswalkKey) throws {
        try run(
            """
            DELETE FROM relation_crosswalks
            WHERE tenant = \(tenant) AND type = \(key.type) AND value = \(key.value) AND source_table = \(key.sourceTable)
            """)
    }

    func relationIds(tenant: String, touching entityId: String) throws -> [String] {
        if session.readAhead.withoutRelations.contains(key(tenant, entityId)) { return [] }
        return try rows(
            """
            SELECT id FROM relations WHERE tenant = \(tenant) AND NOT removed AND (start_id = \(entityId) OR end_id = \(entityId))
            ORDER BY id
            """
        ).map { try $0.decode(String.self) }
    }

    // MARK: match index

    func replaceMatchKeys(tenant: String, entityId: String, keys: Set<Int64>) throws {
        let k = key(tenant, entityId)
        let existing: Set<Int64>
        if let written = session.overlay.keySets[k] {
            existing = written
        } else if let known = session.readAhead.entities[k]?.keys {
            existing = known
        } else if session.overlay.entities[k]?.isInsert == true {
            existing = []  // created in this transaction
        } else {
            existing =
                try rows("SELECT keys FROM match_key_sets WHERE tenant = \(tenant) AND entity_id = \(entityId)")
                .first.map { MatchKey.decode(Self.bytes(try $0.decode(ByteBuffer.self))) } ?? []
        }
        if existing == keys { return }
        session.overlay.replaceMatchKeys(tenant: tenant, entityId: entityId, existing: existing, keys: keys)
    }

    func entitiesSharing(tenant: String, key: Int64, limit: Int) throws -> [String] {
        try entitiesSharing(tenant: tenant, limits: [key: limit])[key] ?? []
    }

    /// The entities holding each key, from what this transaction read ahead, else in one statement.
    func entitiesSharing(tenant: String, limits: [Int64: Int]) throws -> [Int64: [String]] {
        guard !limits.isEmpty else { return [:] }
        // Read as many more as this transaction removed, so that the limit is still filled after removing them.
        var wanted: [Int64: Int] = [:]
        for (k, limit) in limits {
            let count = limit + session.overlay.removals(tenant: tenant, key: k)
            if session.readAhead.matchKey(.init(tenant: tenant, key: k), count: count) == nil { wanted[k] = count }
        }
        try readMatchKeys(tenant: tenant, counts: wanted)
        var out: [Int64: [String]] = [:]
        for (k, limit) in limits {
            let fromDatabase = session.readAhead.matchKeys[.init(tenant: tenant, key: k)]?.ids ?? []
            out[k] = Array(session.overlay.sharing(tenant: tenant, key: k, fromDatabase: fromDatabase).prefix(limit))
        }
        return out
    }

    func prefetch(tenant: String, matchKeys limits: [Int64: Int]) throws {
        var wanted: [Int64: Int] = [:]
        for (k, limit) in limits {
            let count = limit + session.overlay.removals(tenant: tenant, key: k)
            if session.readAhead.matchKey(.init(tenant: tenant, key: k), count: count) == nil { wanted[k] = count }
        }
        try readMatchKeys(tenant: tenant, counts: wanted)
    }

    /// Takes the transaction-level advisory lock of each match key before its entities are read, so that two
    /// writers (nodes) matching entities that share a key do it one after the other: the second reads after the
    /// first committed, sees its entity, and merges with it. Every key an entity gets is read by its own match
    /// run in the same transaction, so the writer of a key holds its lock until commit. (A separate statement:
    /// in READ COMMITTED a statement reads the snapshot from its start, before a lock wait inside it ended.)
    /// Keys are locked in ascending order within a statement; two writers can still deadlock across statements,
    /// which PostgreSQL detects (after `deadlock_timeout`) and the job runs again (a conflict).
    private func lockMatchKeys(tenant: String, _ keys: [Int64]) throws {
        let wanted = keys.filter { !session.lockedMatchKeys.contains(.init(tenant: tenant, key: $0)) }
        guard !wanted.isEmpty else { return }
        let salt = MatchKey.of("herald match key lock\u{0}" + tenant)
        let ids = wanted.map { $0 ^ salt }.sorted()
        try rows("SELECT pg_advisory_xact_lock(k) FROM unnest(\(ids)::int8[]) AS k")
        for key in wanted { session.lockedMatchKeys.insert(.init(tenant: tenant, key: key)) }
    }

    /// One statement: the database's entities under each key (at most its count), with the state of each
    /// (version and merge, not the body): they are the match stage's candidates, and it asks for their state next.
    /// The match keys in the database do not change until this transaction commits (the overlay holds its
    /// changes), so what is read stays true.
    private func readMatchKeys(tenant: String, counts: [Int64: Int]) throws {
        guard !counts.isEmpty else { return }
        let keys = Array(counts.keys)
        try lockMatchKeys(tenant: tenant, keys)
        let limits = keys.map { Int64(counts[$0]!) }
        var found: [Int64: [String]] = [:]
        let entity = Self.entityLaterals("m.entity_id", withBody: false)
        var bindings = PostgresBindings()
        bindings.append(tenant)
        bindings.append(keys)
        bindings.append(limits)
        for row in try rows(
            PostgresQuery(
                unsafeSQL: """
                    SELECT k.key, m.entity_id, \(entity.columns)
                    FROM unnest($2::int8[], $3::int8[]) AS k(key, n)
                    CROSS JOIN LATERAL (SELECT entity_id FROM match_keys WHERE tenant = $1 AND key = k.key LIMIT k.n) m
                    \(entity.joins)
                    """, binds: bindings))
        {
            let r = row.makeRandomAccess()
            let (k, id) = (try r[0].decode(Int64.self), try r[1].decode(String.self))
            found[k, default: []].append(id)
            if session.readAhead.entities[key(tenant, id)] == nil { try learnEntity(r, at: 2, tenant: tenant, id: id) }
        }
        for k in keys { session.readAhead.matchKeys[.init(tenant: tenant, key: k)] = (counts[k]!, found[k] ?? []) }
    }

    func potentialMatches(tenant: String, entityId: String) throws -> [String: [String]] {
        if session.readAhead.withoutPotentialMatches.contains(key(tenant, entityId)) { return [:] }
        var out: [String: [String]] = [:]
        for row in try rows("SELECT other_id, match_rules FROM potential_matches WHERE tenant = \(tenant) AND entity_id = \(entityId)") {
            let (other, rules) = try row.decode((String, String).self)
            out[other] = rules.split(separator: " ").map(String.init)
        }
        return out
    }

    func setPotentialMatch(tenant: String, _ a: String, _ b: String, rules: [String]) throws {
        let text = rules.joined(separator: " ")
        session.readAhead.potentialMatchesChanged(key(tenant, a))
        session.readAhead.potentialMatchesChanged(key(tenant, b))
        try run(
            """
            INSERT INTO potential_matches (tenant, entity_id, other_id, match_rules)
            VALUES (\(tenant), \(a), \(b), \(text)), (\(tenant), \(b), \(a), \(text))
            ON CONFLICT (tenant, entity_id, other_id) DO UPDATE SET match_rules = excluded.match_rules
            """)
    }

    func removePotentialMatch(tenant: String, _ a: String, _ b: String) throws {
        try run(
            """
            DELETE FROM potential_matches WHERE tenant = \(tenant)
            AND ((entity_id = \(a) AND other_id = \(b)) OR (entity_id = \(b) AND other_id = \(a)))
            """)
    }

    /// From the partners of `a` or `b` read in this transaction; else reads all of `a`'s (matching asks about one
    /// entity against each of its candidates).
    func isNotMatch(tenant: String, _ a: String, _ b: String) throws -> Bool {
        if let partners = session.readAhead.notMatchPartners[key(tenant, a)] { return partners.contains(b) }
        if let partners = session.readAhead.notMatchPartners[key(tenant, b)] { return partners.contains(a) }
        var partners = Set<String>()
        for row in try rows(
            """
            SELECT b FROM not_matches WHERE tenant = \(tenant) AND a = \(a)
            UNION ALL SELECT a FROM not_matches WHERE tenant = \(tenant) AND b = \(a)
            """)
        {
            partners.insert(try row.decode(String.self))
        }
        session.readAhead.notMatchPartners[key(tenant, a)] = partners
        return partners.contains(b)
    }

    func addNotMatch(tenant: String, _ a: String, _ b: String) throws {
        session.readAhead.notMatchesChanged(key(tenant, a))
        session.readAhead.notMatchesChanged(key(tenant, b))
        let (x, y) = a < b ? (a, b) : (b, a)
        try run("INSERT INTO not_matches (tenant, a, b) VALUES (\(tenant), \(x), \(y)) ON CONFLICT DO NOTHING")
    }

    func removeNotMatch(tenant: String, _ a: String, _ b: String) throws {
        session.readAhead.notMatchesChanged(key(tenant, a))
        session.readAhead.notMatchesChanged(key(tenant, b))
        let (x, y) = a < b ? (a, b) : (b, a)
        try run("DELETE FROM not_matches WHERE tenant = \(tenant) AND a = \(x) AND b = \(y)")
    }

    // MARK: event log

    func appendEvent(tenant: String, _ event: NewEvent) throws {
        session.pendingEvents.append((tenant, event))
    }

    func deleteEvents(tenant: String, upTo seq: Int64, olderThan time: Int64, limit: Int) throws -> Int {
        try count(
            """
            DELETE FROM events WHERE seq IN (
                SELECT seq FROM events WHERE tenant = \(tenant) AND seq <= \(seq) AND time < \(time) ORDER BY seq LIMIT \(limit))
            """)
    }

    // MARK: delivery ledger

    func setCursor(_ key: DestinationKey, seq: Int64, now: Int64) throws {
        try run(
            """
            INSERT INTO delivery_cursors (tenant, destination, seq, updated_time) VALUES (\(key.tenant), \(key.destination), \(seq), \(now))
            ON CONFLICT (tenant, destination) DO UPDATE SET seq = excluded.seq, updated_time = excluded.updated_time
            """)
    }

    func scheduleRetry(_ key: DestinationKey, _ entry: RetryEntry) throws {
        let m = entry.message
        try run(
            """
            INSERT INTO delivery_retries (tenant, destination, seq, message_id, message_key, event_type, object_uri,
                headers, body, attempts, next_attempt, first_attempt, last_attempt, last_status, last_error, attempt_base)
            VALUES (\(key.tenant), \(key.destination), \(m.seq), \(m.id), \(m.key), \(m.eventType), \(m.objectURI),
                \(HeaderCoding.encode(m.headers)), \(ByteBuffer(bytes: m.body)), \(Int32(entry.attempts)), \(entry.nextAttempt),
                \(entry.firstAttempt), \(entry.lastAttempt), \(entry.lastStatus), \(entry.lastError), \(Int32(entry.attemptBase)))
            ON CONFLICT (tenant, destination, seq) DO UPDATE SET attempts = excluded.attempts,
                next_attempt = excluded.next_attempt, last_attempt = excluded.last_attempt,
                last_status = excluded.last_status, last_error = excluded.last_error
            """)
    }

    func deleteRetry(_ key: DestinationKey, seq: Int64) throws {
        try run(
            "DELETE FROM delivery_retries WHERE tenant = \(key.tenant) AND destination = \(key.destination) AND seq = \(seq)")
    }

    func releaseHeld(_ key: DestinationKey, messageKey: String, at: Int64) throws {
        try run(
            """
            UPDATE delivery_retries SET next_attempt = \(at)
            WHERE tenant = \(key.tenant) AND destination = \(key.destination) AND next_attempt = 0 AND seq = (
                SELECT MIN(seq) FROM delivery_retries
                WHERE tenant = \(key.tenant) AND destination = \(key.destination) AND message_key = \(messageKey))
            """)
    }

    @discardableResult
    func deadLetter(_ letter: DeadLetter) throws -> Int64 {
        let m = letter.message
        return try session.writeStatement(
            """
            INSERT INTO dead_letters (tenant, destination, seq, message_id, message_key, event_type, object_uri,
                headers, body, status, reason, attempts, first_attempt, last_attempt, plugin, plugin_version, created)
            VALUES (\(letter.key.tenant), \(letter.key.destination), \(m.seq), \(m.id), \(m.key), \(m.eventType),
                \(m.objectURI), \(HeaderCoding.encode(m.headers)), \(ByteBuffer(bytes: m.body)), \(letter.status),
                \(letter.reason), \(Int32(letter.attempts)), \(letter.firstAttempt), \(letter.lastAttempt), \(letter.plugin),
                \(letter.pluginVersion), \(letter.created))
            RETURNING id
            """
        ).first?.decode(Int64.self) ?? 0
    }

    @discardableResult
    func replayDeadLetters(_ scope: DeliveryScope, ids: [Int64]?, now: Int64) throws -> Int {
        let letters = try rows(PostgresDeadLetterQuery.select(scope, ids: ids)).map(PostgresDeadLetterQuery.decode)
        for letter in letters {
            try scheduleRetry(
                letter.key,
                RetryEntry(
                    message: letter.message, attempts: 0, attemptBase: letter.attempts, nextAttempt: now,
                    firstAttempt: now, lastAttempt: now,
                    lastStatus: "REPLAYED", lastError: "replayed from the dead-letter queue (was: \(letter.reason))"))
            try run("DELETE FROM dead_letters WHERE id = \(letter.id)")
        }
        return letters.count
    }

    @discardableResult
    func purgeDeadLetters(_ scope: DeliveryScope, ids: [Int64]?) throws -> Int {
        try count(PostgresDeadLetterQuery.delete(scope, ids: ids))
    }

    // MARK: savepoints

    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        try session.inSavepoint(body)
    }
}

/// Every dead-letter selection: always the tenant, then the destination and ids if given.
enum PostgresDeadLetterQuery {
    static let columns = """
        id, tenant, destination, seq, message_id, message_key, event_type, object_uri, headers, body, status, reason,
        attempts, first_attempt, last_attempt, plugin, plugin_version, created
        """

    static func select(_ scope: DeliveryScope, ids: [Int64]?, afterId: Int64? = nil, limit: Int? = nil) -> PostgresQuery {
        var q = filter("SELECT \(columns) FROM dead_letters", scope, ids: ids)
        if let afterId { q.append(" AND id > ", afterId) }
        q.append(" ORDER BY id")
        if let limit { q.append(" LIMIT ", Int64(limit)) }
        return q.query
    }

    static func delete(_ scope: DeliveryScope, ids: [Int64]?) -> PostgresQuery {
        filter("DELETE FROM dead_letters", scope, ids: ids).query
    }

    private static func filter(_ head: String, _ scope: DeliveryScope, ids: [Int64]?) -> QueryBuilder {
        var q = QueryBuilder(head)
        q.append(" WHERE tenant = ", scope.tenant)
        if let destination = scope.destination { q.append(" AND destination = ", destination) }
        if let ids { q.append(" AND id = ANY(", ids, ")") }
        return q
    }

    static func decode(_ row: PostgresRow) throws -> DeadLetter {
        let r = row.makeRandomAccess()
        let body = try r["body"].decode(ByteBuffer.self)
        return DeadLetter(
            id: try r["id"].decode(Int64.self),
            key: DestinationKey(tenant: try r["tenant"].decode(String.self), destination: try r["destination"].decode(String.self)),
            message: DeliveryMessage(
                seq: try r["seq"].decode(Int64.self), id: try r["message_id"].decode(String.self),
                key: try r["message_key"].decode(String.self), eventType: try r["event_type"].decode(String.self),
                objectURI: try r["object_uri"].decode(String.self),
                headers: HeaderCoding.decode(try r["headers"].decode(String.self)), body: PostgresTransaction.bytes(body)),
            status: try r["status"].decode(String.self), reason: try r["reason"].decode(String.self),
            attempts: Int(try r["attempts"].decode(Int32.self)), firstAttempt: try r["first_attempt"].decode(Int64.self),
            lastAttempt: try r["last_attempt"].decode(Int64.self), plugin: try r["plugin"].decode(String.self),
            pluginVersion: try r["plugin_version"].decode(String.self), created: try r["created"].decode(Int64.self))
    }

    static func decodeRetry(_ row: PostgresRow) throws -> RetryEntry {
        let r = row.makeRandomAccess()
        let body = try r["body"].decode(ByteBuffer.self)
        return RetryEntry(
            message: DeliveryMessage(
                seq: try r["seq"].decode(Int64.self), id: try r["message_id"].decode(String.self),
                key: try r["message_key"].decode(String.self), eventType: try r["event_type"].decode(String.self),
                objectURI: try r["object_uri"].decode(String.self),
                headers: HeaderCoding.decode(try r["headers"].decode(String.self)), body: PostgresTransaction.bytes(body)),
            attempts: Int(try r["attempts"].decode(Int32.self)), attemptBase: Int(try r["attempt_base"].decode(Int32.self)),
            nextAttempt: try r["next_attempt"].decode(Int64.self), firstAttempt: try r["first_attempt"].decode(Int64.self),
            lastAttempt: try r["last_attempt"].decode(Int64.self), lastStatus: try r["last_status"].decode(String.self),
            lastError: try r["last_error"].decode(String.self))
    }
}

/// A statement built piece by piece, every value bound (never spliced into the SQL text).
struct QueryBuilder {
    private var sql: String
    private var bindings = PostgresBindings()

    init(_ head: String) { sql = head }

    mutating func append(_ text: String) { sql += text }

    mutating func append<V: PostgresNonThrowingEncodable>(_ text: String, _ value: V, _ tail: String = "") {
        bindings.append(value, context: .default)
        sql += text + "$\(bindings.count)" + tail
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}
