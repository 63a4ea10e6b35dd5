import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// `herald store migrate`: a SQLite store filled by the real daemon (merges, a potential match, a not-match, a
/// relation, two destinations whose cursors are in the middle of the queue, replayed dead letters waiting in the
/// retry schedule, a dead letter left) is copied into PostgreSQL, and herald started on PostgreSQL continues from
/// there: the same entities and events, every destination continues from its cursor with no event lost or
/// repeated, sequence numbers and dead-letter ids continue after the copied ones.
///
/// Without PostgreSQL the suite is skipped with the install hint, except in CI (`CI` set), where it fails.
@Suite(
    .blocking,
    .timeLimit(.minutes(10)),
    .enabled(
        if: PostgresCluster.isAvailable || PostgresCluster.isRequired,
        Comment(rawValue: PostgresCluster.requireOrSkipMessage() ?? "")))
struct StoreMigrationTests {
    static let individual = "configuration/entityTypes/Individual"

    let dir = TemporaryDirectory(prefix: "herald-migrate")

    // MARK: configuration

    /// The tenant: an automatic rule (same e-mail merges), a suspect rule (similar names), a relation type, and two
    /// destinations: `files/audit` (the file sink) and `flaky/q` (the test sink, `flaky` its configuration).
    func tenant(streamingEnabled: Bool, flaky: String) -> String {
        """
        {
          "id": "t1",
          "entityTypes": [
            {"uri": "\(Self.individual)",
             "attributes": [{"name": "FirstName"}, {"name": "LastName"}, {"name": "Email", "type": "Email"}],
             "matchGroups": [
               {"uri": "\(Self.individual)/matchGroups/SameEmail", "type": "automatic", "rule": {"exact": ["Email"]}},
               {"uri": "\(Self.individual)/matchGroups/SimilarName", "type": "suspect",
                "rule": {"fuzzy": ["FirstName", "LastName"]}}
             ]},
            {"uri": "configuration/entityTypes/Organization", "attributes": [{"name": "Name"}]}
          ],
          "relationTypes": [
            {"uri": "configuration/relationTypes/Employment", "attributes": [{"name": "Title"}],
             "startObject": {"objectTypeURI": "\(Self.individual)"},
             "endObject": {"objectTypeURI": "configuration/entityTypes/Organization"}}
          ],
          "sources": [{"uri": "configuration/sources/CRM"}, {"uri": "configuration/sources/ERP"}],
          "streamingConfig": {
            "streamingEnabled": \(streamingEnabled),
            "messaging": {
              "providers": {
                "files": {"plugin": "file", "config": {"path": "\(dir.file("{destination}.ndjson"))"}},
                "flaky": {"plugin": "test", "config": \(flaky)}
              },
              "destinations": [
                {"provider": "files", "name": "audit"},
                {"provider": "flaky", "name": "q", "retry": {"maxAttempts": 1}}
              ]
            }
          }
        }
        """
    }

    /// Writes `name` and returns its path: the SQLite store in `data`, or the PostgreSQL store at `postgresURL`.
    func writeConfig(_ name: String, postgresURL: String? = nil, streamingEnabled: Bool, flaky: String) throws -> String {
        let store =
            postgresURL.map { #""store": {"backend": "postgres", "url": "\#($0)"},"# } ?? #""dataDirectory": "data","#
        let text = """
            {
              "server": {"host": "127.0.0.1", "port": 0, "tokens": []},
              \(store)
              "pluginDirectories": ["\(StreamingTestSupport.pluginDirectory(in: dir))"],
              "tenants": [\(tenant(streamingEnabled: streamingEnabled, flaky: flaky))]
            }
            """
        let path = dir.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: data

    func person(_ source: String, _ id: String, _ first: String, _ last: String, email: String) -> String {
        """
        {"type": "\(Self.individual)", "attributes": {"FirstName": ["\(first)"], "LastName": ["\(last)"], \
        "Email": ["\(email)"]}, "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"}]}
        """
    }

    /// Posts entities; returns each result's (uri, status).
    @discardableResult
    func post(_ client: TestClient, _ items: [String]) throws -> [(uri: String, status: String)] {
        let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
        #expect(r.status == 200, "\(r.text)")
        return (r.json?.arrayValue ?? []).map { ($0["uri"]?.stringValue ?? "", $0["status"]?.stringValue ?? "") }
    }

    static let names = [
        ("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra"), ("Barbara", "Liskov"),
        ("Donald", "Knuth"), ("Margaret", "Hamilton"), ("John", "McCarthy"), ("Frances", "Allen"), ("Niklaus", "Wirth"),
        ("Tony", "Hoare"), ("Leslie", "Lamport"), ("Ken", "Thompson"), ("Dennis", "Ritchie"), ("Radia", "Perlman"),
        ("Shafi", "Goldwasser"), ("Judea", "Pearl"), ("Robin", "Milner"), ("Butler", "Lampson"), ("Fernando", "Corbato"),
        ("Ivan", "Sutherland"), ("Adele", "Goldberg"), ("Vinton", "Cerf"), ("Whitfield", "Diffie"), ("Martin", "Hellman"),
        ("Ronald", "Rivest"), ("Adi", "Shamir"), ("Leonard", "Adleman"), ("Silvio", "Micali"), ("Michael", "Stonebraker"),
    ]

    func people(_ range: Range<Int>) -> [String] {
        range.map { i in
            let (first, last) = Self.names[i]
            return person("CRM", "c\(i)", first, last, email: "\(first.lowercased())@example.com")
        }
    }

    // MARK: delivery state

    func status(_ client: TestClient, _ id: String) throws -> JSONValue? {
        try StreamingTestSupport.destinationStatus(client, id: id)
    }

    /// Waits until both destinations have passed every event and nothing waits for a retry.
    func waitForDelivery(_ client: TestClient, through seq: Int64) throws {
        let done = try StreamingTestSupport.eventually(timeout: 60) {
            let audit = try status(client, "files/audit")
            let flaky = try status(client, "flaky/q")
            return audit?["cursor"]?.int64Value == seq && flaky?["cursor"]?.int64Value == seq
                && flaky?["retryBacklog"]?.int64Value == 0 && flaky?["inFlight"]?.int64Value == 0
        }
        if !done {
            let audit = try status(client, "files/audit")
            let flaky = try status(client, "flaky/q")
            Issue.record(
                "destinations did not catch up to \(seq): \(String(describing: audit))\n\(String(describing: flaky))")
        }
    }

    /// The sequence number in a message id (`{seq}-{hash}`).
    func seq(ofMessage id: String?) -> Int64? {
        id.flatMap { $0.split(separator: "-").first }.flatMap { Int64($0) }
    }

    /// Sequence numbers the file sink wrote, in file order.
    func auditSeqs() -> [Int64] {
        StreamingTestSupport.readLines(dir.file("audit.ndjson")).compactMap {
            seq(ofMessage: $0["headers"]?["messageId"]?.stringValue)
        }
    }

    /// (seq, attempt) of each message the test sink delivered, in file order.
    func flakyDeliveries() -> [(seq: Int64, attempt: Int64)] {
        StreamingTestSupport.readLines(dir.file("flaky.ndjson")).compactMap { line in
            seq(ofMessage: line["id"]?.stringValue).map { ($0, line["attempt"]?.int64Value ?? 0) }
        }
    }

    /// The tenant's dead letters (only `flaky/q` makes any). Not by destination: with streaming off the tenant has
    /// no destination to name.
    func deadLetters(_ client: TestClient) throws -> [JSONValue] {
        let r = try client.get("/api/t1/streaming/dlq?limit=1000")
        #expect(r.status == 200, "\(r.text)")
        return r.json?["deadLetters"]?.arrayValue ?? []
    }

    func migrate(_ url: String, _ extra: [String] = []) throws -> CommandResult {
        try runCommand(
            BuildProducts.herald, ["store", "migrate", "--from", dir.file("data"), "--to", url, "--progress", "lines"] + extra)
    }

    // MARK: the test

    @Test func aMigratedStoreContinuesOnPostgresWhereSQLiteLeftOff() throws {
        if let message = PostgresCluster.requireOrSkipMessage() {
            Issue.record(Comment(rawValue: message))
            return
        }
        let pg = try PostgresCluster.start()

        // 1. SQLite, streaming on. Every 4th message the test sink receives fails once, and with maxAttempts 1 it
        //    is dead-lettered (RETRIES_EXHAUSTED); a body with POISON fails for good (PERMANENT).
        let flakyAtFirst = #"{"output": "\#(dir.file("flaky.ndjson"))", "retryEveryNth": 4, "permanentMarker": "POISON"}"#
        var server = try HeraldProcess(
            configPath: try writeConfig("sqlite-1.json", streamingEnabled: true, flaky: flakyAtFirst),
            logPath: dir.file("serve-1.log"))
        var client = TestClient(baseURL: server.baseURL)
        var uris: [String] = []
        uris += try post(client, people(0..<12)).map(\.uri)
        // Same e-mail as Ada and Grace, from another source: merged into them.
        let merged = try post(
            client,
            [
                person("ERP", "e0", "Augusta", "King", email: "ada@example.com"),
                person("ERP", "e1", "Grace", "Murray", email: "grace@example.com"),
            ])
        #expect(merged.map(\.uri) == [uris[0], uris[1]], "automatic matches merge into the existing entities")
        uris += try post(client, [person("CRM", "poison-1", "POISON", "Pill", email: "poison1@example.com")]).map(\.uri)
        let org = try client.post(
            "/api/t1/entities",
            #"[{"type": "configuration/entityTypes/Organization", "attributes": {"Name": ["Analytical Engines"]}, "crosswalks": [{"type": "configuration/sources/CRM", "value": "org-1"}]}]"#)
        #expect(org.status == 200, "\(org.text)")
        uris += (org.json?.arrayValue ?? []).compactMap { $0["uri"]?.stringValue }
        let relation = try client.post(
            "/api/t1/relations",
            """
            [{"type": "configuration/relationTypes/Employment", "startObject": {"objectURI": "\(uris[0])"},
              "endObject": {"crosswalks": [{"type": "configuration/sources/CRM", "value": "org-1"}]},
              "attributes": {"Title": ["Programmer"]},
              "crosswalks": [{"type": "configuration/sources/CRM", "value": "rel-1"}]}]
            """)
        #expect(relation.status == 200, "\(relation.text)")
        let relationURI = relation.json?.arrayValue?.first?["uri"]?.stringValue ?? ""
        let firstPart = try client.events(tenant: "t1")
        let firstLast = firstPart.last?["seq"]?.int64Value ?? 0
        try waitForDelivery(client, through: firstLast)
        let deadAfterFirst = try deadLetters(client)
        #expect(!deadAfterFirst.isEmpty, "some messages are dead-lettered")
        #expect(server.stop() == 0)
        #expect(Set(auditSeqs()) == Set(firstPart.compactMap { $0["seq"]?.int64Value }))

        // 2. SQLite, streaming off: new events queue up behind both cursors; the RETRIES_EXHAUSTED dead letters are
        //    replayed into the retry schedule (due now, attempt_base 1), where they wait for delivery to resume.
        server = try HeraldProcess(
            configPath: try writeConfig("sqlite-2.json", streamingEnabled: false, flaky: flakyAtFirst),
            logPath: dir.file("serve-2.log"))
        client = TestClient(baseURL: server.baseURL)
        uris += try post(client, people(12..<20)).map(\.uri)
        #expect(
            try post(client, [person("ERP", "e2", "Eddie", "Dijkstra", email: "edsger@example.com")]).first?.uri
                == uris[3])
        // A suspect pair stays a potential match; another is declared not a match.
        let suspects = try post(
            client,
            [
                person("CRM", "s1", "Jonathan", "Smith", email: "js1@example.com"),
                person("ERP", "s2", "Jonathon", "Smith", email: "js2@example.com"),
                person("CRM", "s3", "Katherine", "Jones", email: "kj1@example.com"),
                person("ERP", "s4", "Katharine", "Jones", email: "kj2@example.com"),
            ]
        ).map(\.uri)
        uris += suspects
        #expect(try client.get("/api/t1/\(suspects[0])/_potentialMatches").json?.arrayValue?.count == 1)
        #expect(try client.post("/api/t1/\(suspects[2])/_notMatch?uri=\(suspects[3])", "").status == 200)
        let exhausted = deadAfterFirst.filter { $0["status"]?.stringValue == "RETRIES_EXHAUSTED" }
        let replayedIds = exhausted.compactMap { $0["id"]?.int64Value }
        let replayedSeqs = Set(exhausted.compactMap { $0["seq"]?.int64Value })
        #expect(!replayedIds.isEmpty)
        let replay = try client.post(
            "/api/t1/streaming/dlq/_replay?ids=\(replayedIds.map(String.init).joined(separator: ","))", "")
        #expect(replay.json?["replayed"]?.int64Value == Int64(replayedIds.count), "\(replay.text)")
        let leftDead = try deadLetters(client)
        // A destination created and paused through the management API (its settings live in the store).
        let extra = try client.post(
            "/api/t1/streaming/destinations", #"{"provider": "files", "name": "extra", "typeFilter": ["ENTITY_REMOVED"]}"#)
        #expect(extra.status == 201, "\(extra.text)")
        #expect(try client.request("POST", "/api/t1/streaming/destinations/files%2Fextra/_pause").status == 200)

        // While herald has the store open, the migration refuses.
        let busy = try migrate(pg.url)
        #expect(busy.status == 2, "\(busy.stderr)")
        #expect(busy.stderr.contains("is open in another process (a running herald?)"), "\(busy.stderr)")

        // What the API shows before the move.
        let eventsBefore = try client.events(tenant: "t1")
        let lastBefore = eventsBefore.last?["seq"]?.int64Value ?? 0
        let entitiesBefore = try uris.map { try client.get("/api/t1/\($0)").json }
        let relationBefore = try client.get("/api/t1/\(relationURI)").json
        let potentialBefore = try client.get("/api/t1/\(suspects[0])/_potentialMatches").json
        #expect(server.stop() == 0)
        #expect(auditSeqs().count == firstPart.count, "nothing was delivered with streaming off")

        // 3. A failure midway leaves nothing behind, and the next run starts again from nothing.
        try pg.psql(#"CREATE DATABASE "second""#, database: "postgres")
        let secondURL = String(pg.url.dropLast(pg.database.count)) + "second"
        let prepared = try migrate(secondURL)
        #expect(prepared.status == 0, "\(prepared.stderr)")
        try pg.psql(
            """
            TRUNCATE herald.entities, herald.crosswalks, herald.match_keys, herald.match_key_sets,
                herald.potential_matches, herald.not_matches, herald.merges, herald.relations,
                herald.relation_crosswalks, herald.events, herald.delivery_cursors, herald.delivery_retries,
                herald.dead_letters, herald.streaming_overrides, herald.destination_pauses, herald.streaming_changes;
            CREATE FUNCTION herald.injected_failure() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
            CREATE TRIGGER fail BEFORE INSERT ON herald.delivery_cursors
                FOR EACH STATEMENT EXECUTE FUNCTION herald.injected_failure();
            """, database: "second")
        let failed = try migrate(secondURL)
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("rolled back") && failed.stderr.contains("injected failure"), "\(failed.stderr)")
        #expect(
            try pg.psql("SELECT (SELECT count(*) FROM herald.entities) + (SELECT count(*) FROM herald.events)", database: "second")
                == "0", "the tables copied before the failure were rolled back too")
        try pg.psql("DROP TRIGGER fail ON herald.delivery_cursors", database: "second")
        let again = try migrate(secondURL)
        #expect(again.status == 0, "\(again.stderr)")

        // 4. The migration.
        let migrated = try migrate(pg.url)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("row counts verified on both sides"), "\(migrated.stdout)")
        #expect(migrated.stderr.contains("progress: 100%"), "\(migrated.stderr)")
        #expect(try pg.psql("SELECT last FROM herald.event_counter") == String(lastBefore))
        #expect(try pg.psql("SELECT count(*) FROM herald.events") == String(eventsBefore.count))
        #expect(
            try pg.psql("SELECT count(*), min(attempt_base), max(attempt_base) FROM herald.delivery_retries")
                == "\(replayedIds.count)|1|1", "the replayed messages wait in the retry schedule")
        #expect(try pg.psql("SELECT count(*) FROM herald.not_matches") == "1")
        #expect(
            try pg.psql("SELECT destination, seq FROM herald.delivery_cursors ORDER BY destination")
                == "files/audit|\(firstLast)\nflaky/q|\(firstLast)")
        let entityCount = try pg.psql("SELECT count(*) FROM herald.entities")

        // Once there is data, it refuses.
        let twice = try migrate(pg.url)
        #expect(twice.status == 2, "\(twice.stderr)")
        #expect(
            twice.stderr.contains(
                "already holds Herald data (\(entityCount) entities, \(eventsBefore.count) events); migrate into an "
                    + "empty database"),
            "\(twice.stderr)")

        // 5. PostgreSQL, streaming on; the test sink no longer fails (POISON still does).
        let flakyLater = #"{"output": "\#(dir.file("flaky.ndjson"))", "permanentMarker": "POISON"}"#
        server = try HeraldProcess(
            configPath: try writeConfig("postgres.json", postgresURL: pg.url, streamingEnabled: true, flaky: flakyLater),
            logPath: dir.file("serve-3.log"))
        client = TestClient(baseURL: server.baseURL)
        defer { server.stop() }
        #expect(server.log.contains("store: postgres"), "\(server.log)")

        // The same data through the API.
        #expect(try client.events(tenant: "t1") == eventsBefore)
        #expect(try uris.map { try client.get("/api/t1/\($0)").json } == entitiesBefore)
        #expect(try client.get("/api/t1/\(relationURI)").json == relationBefore)
        #expect(try client.get("/api/t1/\(suspects[0])/_potentialMatches").json == potentialBefore)
        let managed = try client.get("/api/t1/streaming/destinations").json?["managed"]?["files/extra"]
        #expect(managed?["origin"] == .string("api") && managed?["paused"] == .bool(true), "\(managed?.serializedString() ?? "none")")
        #expect(
            try client.get("/api/t1/streaming/changes").json?["changes"]?.arrayValue?.compactMap { $0["action"]?.stringValue }
                == ["pause", "create"])
        #expect(!leftDead.isEmpty)
        #expect(try deadLetters(client) == leftDead, "dead letters keep their ids")

        // Writing goes on: crosswalks and match keys came along (an update, a merge into a migrated entity),
        // sequence numbers and dead-letter ids continue after the copied ones.
        let update = try post(client, [person("CRM", "c2", "Alan", "Turing", email: "alan@example.org")])
        #expect(update.first?.uri == uris[2] && update.first?.status == "updated", "\(update)")
        #expect(
            try post(client, [person("ERP", "e3", "Babs", "Liskov", email: "barbara@example.com")]).first?.uri == uris[4])
        uris += try post(client, people(20..<30)).map(\.uri)
        try post(client, [person("CRM", "poison-2", "POISON", "Again", email: "poison2@example.com")])
        let eventsAfter = try client.events(tenant: "t1")
        let lastAfter = eventsAfter.last?["seq"]?.int64Value ?? 0
        #expect(Array(eventsAfter.prefix(eventsBefore.count)) == eventsBefore)
        #expect(
            eventsAfter.dropFirst(eventsBefore.count).compactMap { $0["seq"]?.int64Value }
                == Array((lastBefore + 1)...lastAfter), "new events continue after the migrated ones, without a gap")
        try waitForDelivery(client, through: lastAfter)

        // Every destination continued from its cursor: each event delivered exactly once over both stores.
        let allSeqs = eventsAfter.compactMap { $0["seq"]?.int64Value }
        let audit = auditSeqs()
        #expect(audit.count == Set(audit).count, "the file sink got no event twice")
        #expect(Set(audit) == Set(allSeqs), "the file sink got every event")
        let flaky = flakyDeliveries()
        let delivered = flaky.map(\.seq)
        let dead = try deadLetters(client)
        let deadSeqs = dead.compactMap { $0["seq"]?.int64Value }
        #expect(delivered.count == Set(delivered).count, "the test sink got no event twice")
        #expect(Set(delivered).isDisjoint(with: deadSeqs))
        #expect(Set(delivered).union(deadSeqs) == Set(allSeqs), "every event was delivered or dead-lettered")
        // The replayed messages went out from PostgreSQL's retry schedule, numbered after their first attempt.
        for (seq, attempt) in flaky where replayedSeqs.contains(seq) {
            #expect(attempt == 2, "message \(seq) was replayed after 1 attempt")
        }
        #expect(replayedSeqs.isSubset(of: Set(delivered).union(deadSeqs)))
        let oldIds = leftDead.compactMap { $0["id"]?.int64Value } + replayedIds
        let newIds = dead.compactMap { $0["id"]?.int64Value }.filter { !oldIds.contains($0) }
        #expect(!newIds.isEmpty && newIds.allSatisfy { $0 > (oldIds.max() ?? 0) }, "new dead letters get new ids")
    }
}
