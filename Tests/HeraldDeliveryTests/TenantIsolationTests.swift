import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Tenants that share every name that can be shared (provider aliases, destination names and ids, crosswalk
/// values, entity types, filter texts) stay apart: each tenant's sinks get exactly that tenant's events, no API
/// answer for one tenant shows another's data, and no action on one tenant touches another.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct TenantIsolationTests {
    static let names = ["alpha", "beta", "gamma"]
    static let rootToken = "root-admin-token-0123456789"
    static func token(_ tenant: String) -> String { "\(tenant)-admin-token-0123456789" }

    /// One daemon with the three tenants. Each has three test-sink providers `q`, `r`, `s` (one output file per
    /// tenant and provider) and the destinations:
    /// - `q/events`: every event; the first attempt of every 3rd message is RETRY, of every 7th THROTTLED;
    ///   a body with POISON completes PERMANENT (dead letter);
    /// - `r/events`: every event, `ordering: perEntity`, every 2nd first attempt RETRY (later versions are held);
    /// - `s/once`: ENTITY_CREATED of first names starting with 'P'; one attempt allowed and every 2nd first
    ///   attempt RETRY, so half go to the dead-letter queue as RETRIES_EXHAUSTED (a replay can deliver them).
    final class World: @unchecked Sendable {
        let dir = TemporaryDirectory(prefix: "herald-tenants")
        let configPath: String
        let server: HeraldProcess
        let root: TestClient
        var clients: [String: TestClient] = [:]
        /// The latest entity URI each tenant's posts returned, by crosswalk value.
        var uris: [String: [String: String]] = [:]
        /// Every entity URI a tenant's posts ever returned (a removed entity's crosswalk can get a new one).
        var known: [String: Set<String>] = [:]
        /// URIs of entities whose first name holds POISON.
        var poison: [String: Set<String>] = [:]

        init(gammaBatch: Int = 10) throws {
            let plugins = StreamingTestSupport.pluginDirectory(in: dir)
            configPath = dir.file("herald.json")
            try World.writeConfig(dir: dir, plugins: plugins, gammaBatch: gammaBatch)
            server = try HeraldProcess(configPath: configPath, logPath: dir.file("serve.log"))
            root = TestClient(baseURL: server.baseURL, token: TenantIsolationTests.rootToken)
            for t in TenantIsolationTests.names {
                clients[t] = TestClient(baseURL: server.baseURL, token: TenantIsolationTests.token(t))
                uris[t] = [:]
                known[t] = []
                poison[t] = []
            }
        }

        static func output(_ dir: TemporaryDirectory, _ tenant: String, _ provider: String) -> String {
            dir.file("\(tenant)-\(provider).ndjson")
        }

        func output(_ tenant: String, _ provider: String) -> String { World.output(dir, tenant, provider) }

        static func writeConfig(dir: TemporaryDirectory, plugins: String, gammaBatch: Int) throws {
            let retry = #"{"initialDelayMs": 20, "maxDelayMs": 100, "maxAttempts": 8}"#
            let tenants = TenantIsolationTests.names.map { t in
                StreamingTestSupport.tenant(
                    id: t,
                    streaming: """
                        {"messaging": {
                          "providers": {
                            "q": {"plugin": "test", "config": {"output": "\(output(dir, t, "q"))", "retryEveryNth": 3,
                                  "throttleEveryNth": 7, "retryAfterMs": 20, "permanentMarker": "POISON"}},
                            "r": {"plugin": "test", "config": {"output": "\(output(dir, t, "r"))", "retryEveryNth": 2}},
                            "s": {"plugin": "test", "config": {"output": "\(output(dir, t, "s"))", "retryEveryNth": 2}}},
                          "destinations": [
                            {"provider": "q", "name": "events", "retry": \(retry),
                             "batch": {"maxMessages": \(t == "gamma" ? gammaBatch : 10), "lingerMs": 0}},
                            {"provider": "r", "name": "events", "ordering": "perEntity", "retry": \(retry),
                             "batch": {"maxMessages": 10, "lingerMs": 0}},
                            {"provider": "s", "name": "once", "typeFilter": ["ENTITY_CREATED"],
                             "objectFilter": "startsWith(attributes.FirstName, 'P')", "retry": {"maxAttempts": 1},
                             "batch": {"maxMessages": 10, "lingerMs": 0}}]}}
                        """)
            }
            var tokens = TenantIsolationTests.names.map {
                #"{"name": "\#($0)-admin", "token": "\#(TenantIsolationTests.token($0))", "role": "admin", "tenants": ["\#($0)"]}"#
            }
            tokens.append(#"{"name": "root", "token": "\#(TenantIsolationTests.rootToken)", "role": "admin", "tenants": "*"}"#)
            _ = TestConfiguration.write(
                in: dir.path, tokens: "[\(tokens.joined(separator: ","))]", tenants: tenants.joined(separator: ",\n"),
                extra: "\"pluginDirectories\": [\"\(plugins)\"],")
        }

        /// Rewrites the configuration (gamma's `q/events` batch size changes) and reloads it.
        func reload(gammaBatch: Int) throws {
            try World.writeConfig(dir: dir, plugins: dir.file("plugins.d"), gammaBatch: gammaBatch)
            let r = try root.post("/api/admin/_reload", "")
            guard r.status == 200 else { throw HeraldProcessError(message: "reload failed: \(r.status) \(r.text)") }
        }

        /// Posts people with crosswalk values `ids` (the same values in every tenant); returns their URIs.
        @discardableResult
        func post(_ tenant: String, ids: [Int], version: Int = 1) throws -> [String] {
            let items = ids.map { i in TestConfiguration.person(id: "\(i)", first: World.firstName(i), last: "V\(version)") }
            let r = try clients[tenant]!.post("/api/\(tenant)/entities", "[\(items.joined(separator: ","))]")
            guard r.status == 200, let results = r.json?.arrayValue, results.count == ids.count else {
                throw HeraldProcessError(message: "post to \(tenant) failed: \(r.status) \(r.text)")
            }
            var out: [String] = []
            for (i, result) in zip(ids, results) {
                guard let uri = result["uri"]?.stringValue else { throw HeraldProcessError(message: "no uri: \(r.text)") }
                uris[tenant]![String(i)] = uri
                known[tenant]!.insert(uri)
                if World.firstName(i).hasPrefix("POISON") { poison[tenant]!.insert(uri) }
                out.append(uri)
            }
            return out
        }

        /// Every 10th person (from the 4th) is POISON, every 4th (from the 2nd) a Kim (left out by `s/once`).
        static func firstName(_ i: Int) -> String {
            if i % 10 == 3 { return "POISON\(i)" }
            if i % 4 == 1 { return "Kim\(i)" }
            return "Pat\(i)"
        }

        func status(_ tenant: String) throws -> [String: JSONValue] {
            let r = try clients[tenant]!.get("/api/\(tenant)/streaming/status")
            var out: [String: JSONValue] = [:]
            for d in r.json?["destinations"]?.arrayValue ?? [] { out[d["id"]?.stringValue ?? ""] = d }
            return out
        }

        /// Waits until every destination of every tenant has read the whole queue and emptied its retry schedule.
        func drained(timeout: Double = 60) -> Bool {
            StreamingTestSupport.eventually(timeout: timeout) {
                TenantIsolationTests.names.allSatisfy { t in
                    guard let s = try? status(t), s.count == 3 else { return false }
                    return s.values.allSatisfy { $0["lagEvents"] == .number("0") && $0["retryBacklog"] == .number("0") }
                }
            }
        }

        func events(_ tenant: String) throws -> [JSONValue] { try clients[tenant]!.events(tenant: tenant) }

        func deadLetters(_ tenant: String, _ destination: String? = nil) throws -> [JSONValue] {
            let query = destination.map { "?destination=\($0)&limit=10000" } ?? "?limit=10000"
            return try clients[tenant]!.get("/api/\(tenant)/streaming/dlq\(query)").json?["deadLetters"]?.arrayValue ?? []
        }

        /// The lines a destination's sink wrote (one per message completed OK), with their sequence numbers.
        func delivered(_ tenant: String, _ provider: String) -> [JSONValue] {
            StreamingTestSupport.readLines(output(tenant, provider))
        }

        func allURIs(except tenant: String) -> [String] {
            known.filter { $0.key != tenant }.flatMap { $0.value }
        }

        /// Replays a tenant's dead letters of `destination` until none is left (each round delivers about half).
        func replayUntilEmpty(_ tenant: String, _ destination: String) throws -> Bool {
            for _ in 0..<16 {
                if try deadLetters(tenant, destination).isEmpty { return true }
                let r = try clients[tenant]!.post("/api/\(tenant)/streaming/dlq/_replay?destination=\(destination)", "")
                guard r.status == 200 else { throw HeraldProcessError(message: "replay: \(r.status) \(r.text)") }
                guard drained() else { return false }
            }
            return try deadLetters(tenant, destination).isEmpty
        }
    }

    static func seqs(_ lines: [JSONValue]) -> [Int64] { lines.compactMap(DeliveryTests.seq) }

    /// The reproduction of the report: alpha's sink retries, beta's accepts; 19 of alpha's 20 events were
    /// delivered by beta's sink when the retry schedule was keyed by destination id alone.
    @Test func retriesOfOneTenantAreNeverDeliveredByAnotherTenantsSink() throws {
        let dir = TemporaryDirectory()
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        let tenants = [("alpha", #""retryEveryNth": 1, "#), ("beta", "")].map { t, behaviour in
            StreamingTestSupport.tenant(
                id: t,
                streaming: """
                    {"messaging": {
                      "providers": {"q": {"plugin": "test", "config": {\(behaviour)"output": "\(dir.file("\(t).ndjson"))"}}},
                      "destinations": [{"provider": "q", "name": "events", "retry": {"initialDelayMs": 20, "maxDelayMs": 50},
                                        "batch": {"lingerMs": 0}}]}}
                    """)
        }
        let config = TestConfiguration.write(
            in: dir.path, tenants: tenants.joined(separator: ","), extra: "\"pluginDirectories\": [\"\(plugins)\"],")
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        let items = (0..<20).map { TestConfiguration.person(id: "\($0)", first: "P\($0)") }
        let r = try client.post("/api/alpha/entities", "[\(items.joined(separator: ","))]")
        #expect(r.status == 200)
        let delivered = StreamingTestSupport.eventually(timeout: 30) {
            Set(StreamingTestSupport.readLines(dir.file("alpha.ndjson")).compactMap(DeliveryTests.seq)).count == 20
        }
        #expect(delivered, "alpha's sink got \(StreamingTestSupport.readLines(dir.file("alpha.ndjson")).count) lines")
        let alpha = StreamingTestSupport.readLines(dir.file("alpha.ndjson"))
        #expect(alpha.allSatisfy { $0["attempt"]?.int64Value == 2 }, "every first attempt was RETRY; the retry delivered it")
        #expect(alpha.allSatisfy { $0["headers"]?["tenantId"] == .string("alpha") })
        Thread.sleep(forTimeInterval: 0.3)
        let betaLines = StreamingTestSupport.readLines(dir.file("beta.ndjson")).count
        #expect(betaLines == 0, "beta's sink must get nothing of alpha's")
        let beta = try StreamingTestSupport.destinationStatus(client, tenant: "beta", id: "q/events")
        #expect(beta?["sent"] == .number("0"))
        #expect(beta?["retryBacklog"] == .number("0"))
    }

    @Test func threeTenantsSharingEveryNameStayApart() throws {
        let world = try World()
        let names = TenantIsolationTests.names
        // Interleaved posts, then second versions of the first ten people (not the poison one).
        for round in 0..<3 {
            for t in names { try world.post(t, ids: Array((round * 10)..<(round * 10 + 10))) }
        }
        for t in names { try world.post(t, ids: [0, 1, 2, 4, 5, 6, 7, 8, 9], version: 2) }
        #expect(world.drained(), "not drained:\n\(world.server.log.suffix(3000))")

        // A tenant's token reaches nothing of another tenant, existing or not.
        let alpha = world.clients["alpha"]!
        for path in ["/api/beta/events", "/api/beta/streaming/status", "/api/nosuch/events"] {
            let r = try alpha.get(path)
            #expect(r.status == 403, "\(path): \(r.status)")
            #expect(r.json?["errorCode"] == .string("FORBIDDEN"))
        }
        #expect(try alpha.post("/api/beta/streaming/dlq/_purge?all=true", "").status == 403)
        #expect(try world.root.get("/api/nosuch/events").status == 404, "the root token learns that a tenant is missing")

        // Replaying beta's dead-letter ids through alpha replays nothing, and beta's stay.
        let betaLetters = try world.deadLetters("beta")
        #expect(!betaLetters.isEmpty)
        let betaIds = betaLetters.compactMap { $0["id"]?.int64Value }.map(String.init).joined(separator: ",")
        let foreign = try alpha.post("/api/alpha/streaming/dlq/_replay?ids=\(betaIds)", "")
        #expect(foreign.json?["replayed"] == .number("0"))
        #expect(try world.deadLetters("beta").count == betaLetters.count)

        // alpha replays s/once until delivered, and its poison once (dead again); beta purges s/once; gamma keeps.
        #expect(try world.replayUntilEmpty("alpha", "s/once"))
        let alphaPoison = try world.deadLetters("alpha", "q/events").count
        #expect(try alpha.post("/api/alpha/streaming/dlq/_replay?destination=q/events", "").json?["replayed"] == .number("\(alphaPoison)"))
        let purged = try world.clients["beta"]!.post("/api/beta/streaming/dlq/_purge?destination=s/once", "")
        let betaOnce = betaLetters.filter { $0["destination"] == .string("s/once") }.count
        #expect(purged.json?["purged"] == .number("\(betaOnce)"))
        #expect(world.drained())

        // A reload that changes only gamma's q/events replaces only that worker: the others keep their counts.
        let before = try names.map { try world.status($0) }
        try world.reload(gammaBatch: 5)
        try world.post("gamma", ids: [40, 41, 42])
        #expect(world.drained())
        for (t, old) in zip(names, before) {
            let now = try world.status(t)
            for (id, s) in old {
                let kept = (now[id]?["sent"]?.int64Value ?? -1) >= (s["sent"]?.int64Value ?? 0)
                #expect(kept == !(t == "gamma" && id == "q/events"), "\(t) \(id): \(s["sent"]!) then \(now[id]?["sent"] ?? .null)")
            }
        }

        try TenantIsolationTests.checkIsolation(world, purgedOnce: ["beta": Set(betaLetters.filter { $0["destination"] == .string("s/once") }.compactMap { $0["seq"]?.int64Value })])
        try TenantIsolationTests.checkMetrics(world)
        // The dead-letter counters saw alpha's poison twice (first attempts and the replay).
        let metrics = try world.root.get("/metrics").text
        #expect(
            TenantIsolationTests.metric(metrics, "herald_destination_dead_lettered_total", tenant: "alpha", destination: "q/events")
                == Double(alphaPoison * 2))
        #expect((TenantIsolationTests.metric(metrics, "herald_destination_retried_total", tenant: "gamma", destination: "q/events") ?? 0) > 0)
        #expect((TenantIsolationTests.metric(metrics, "herald_destination_throttled_total", tenant: "beta", destination: "q/events") ?? 0) > 0)
    }

    /// Random operations on random tenants (posts, updates, removals, replays, purges by id with foreign ids
    /// mixed in, reloads, reads), then the same final check. The seed is printed with any failure;
    /// `HERALD_TEST_SEED` repeats a run.
    @Test func randomOperationsOnRandomTenantsStayApart() throws {
        let seed = ProcessInfo.processInfo.environment["HERALD_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let world = try World()
        let names = TenantIsolationTests.names
        var nextId = 0
        var purged: [String: Set<Int64>] = [:]
        var gammaBatch = 10
        for step in 0..<60 {
            let t = names[Int(rng.next() % 3)]
            let client = world.clients[t]!
            switch rng.next() % 8 {
            case 0, 1, 2:
                let count = 1 + Int(rng.next() % 8)
                try world.post(t, ids: Array(nextId..<(nextId + count)))
                nextId += count
            case 3:
                // A second version of a random person of this tenant (same crosswalk value).
                guard let value = world.uris[t]!.keys.randomElement(using: &rng), let i = Int(value) else { continue }
                try world.post(t, ids: [i], version: 2 + step)
            case 4:
                guard let uri = world.uris[t]!.values.randomElement(using: &rng) else { continue }
                let r = try client.request("DELETE", "/api/\(t)/\(uri)")
                #expect(r.status == 200 || r.status == 404, "seed \(seed) step \(step): delete \(r.status) \(r.text)")
            case 5:
                let r = try client.post("/api/\(t)/streaming/dlq/_replay?destination=s/once", "")
                #expect(r.status == 200, "seed \(seed) step \(step): replay \(r.status)")
            case 6:
                // Purge some of this tenant's s/once dead letters by id, with other tenants' ids mixed in.
                let own = try world.deadLetters(t, "s/once").prefix(3)
                let other = names.filter { $0 != t }.randomElement(using: &rng)!
                let foreign = try world.deadLetters(other).prefix(3)
                let ids = (own + foreign).compactMap { $0["id"]?.int64Value }
                guard !ids.isEmpty else { continue }
                let before = try world.deadLetters(other).count
                let r = try client.post("/api/\(t)/streaming/dlq/_purge?ids=\(ids.map(String.init).joined(separator: ","))", "")
                #expect(r.json?["purged"] == .number("\(own.count)"), "seed \(seed) step \(step): \(r.text)")
                purged[t, default: []].formUnion(own.compactMap { $0["seq"]?.int64Value })
                #expect(try world.deadLetters(other).count >= before, "seed \(seed) step \(step): \(t) purged \(other)'s")
            default:
                if rng.next() % 4 == 0 {
                    gammaBatch = gammaBatch == 10 ? 5 : 10
                    try world.reload(gammaBatch: gammaBatch)
                } else {
                    try TenantIsolationTests.checkAnswers(world, t)
                }
            }
        }
        #expect(world.drained(), "seed \(seed): not drained:\n\(world.server.log.suffix(3000))")
        try TenantIsolationTests.checkIsolation(world, purgedOnce: purged, seed: seed)
        try TenantIsolationTests.checkMetrics(world, seed: seed)
    }

    // MARK: checks

    /// No answer of tenant `t`'s read API names another tenant or holds another tenant's URIs.
    static func checkAnswers(_ world: World, _ t: String, seed: UInt64 = 0) throws {
        let client = world.clients[t]!
        let others = world.allURIs(except: t)
        var answers = [
            try client.get("/api/\(t)/events?limit=10000").text, try client.get("/api/\(t)/streaming/status").text,
            try client.get("/api/\(t)/streaming/dlq?limit=10000").text,
        ]
        for letter in try world.deadLetters(t).prefix(5) {
            answers.append(try client.get("/api/\(t)/streaming/dlq/\(letter["id"]!.int64Value!)").text)
        }
        for uri in world.uris[t]!.values.prefix(5) { answers.append(try client.get("/api/\(t)/\(uri)").text) }
        for text in answers {
            for other in names where other != t {
                let named = text.contains("\"\(other)\"")
                #expect(!named, "seed \(seed): \(t)'s answer names \(other): \(text.prefix(300))")
            }
            let leaked = others.filter { text.contains($0) }
            #expect(leaked.isEmpty, "seed \(seed): \(t)'s answer holds \(leaked.prefix(3)) of another tenant")
        }
    }

    /// Each tenant's sinks hold exactly what its own events and actions call for.
    static func checkIsolation(_ world: World, purgedOnce: [String: Set<Int64>], seed: UInt64 = 0) throws {
        for t in names {
            try checkAnswers(world, t, seed: seed)
            let events = try world.events(t)
            let seqOf = { (e: JSONValue) in e["seq"]!.int64Value! }
            let all = Set(events.map(seqOf))
            let poisonURIs = world.poison[t]!
            let poisoned = Set(events.filter { poisonURIs.contains($0["objectUri"]?.stringValue ?? "") }.map(seqOf))
            let ownURIs = world.known[t]!
            for provider in ["q", "r", "s"] {
                for line in world.delivered(t, provider) {
                    let tenantId = line["headers"]?["tenantId"]?.stringValue ?? "?"
                    let key = line["key"]?.stringValue ?? "?"
                    #expect(tenantId == t && ownURIs.contains(key), "seed \(seed): \(t)'s sink \(provider) got \(key) of \(tenantId)")
                }
            }
            let letters = try world.deadLetters(t)
            let foreignLetters = letters.filter { !all.contains($0["seq"]?.int64Value ?? -1) }.count
            #expect(foreignLetters == 0, "seed \(seed): \(t)'s DLQ holds \(foreignLetters) foreign events")

            // q/events: everything but the poison is delivered; the poison is dead-lettered.
            let q = Set(seqs(world.delivered(t, "q")))
            let qDead = Set(letters.filter { $0["destination"] == .string("q/events") }.compactMap { $0["seq"]?.int64Value })
            #expect(q == all.subtracting(poisoned), "seed \(seed): \(t) q/events missing \(all.subtracting(poisoned).subtracting(q).sorted().prefix(10))")
            #expect(qDead == poisoned, "seed \(seed): \(t) q/events dead letters")

            // r/events: everything, and each entity's versions in order.
            let rLines = world.delivered(t, "r")
            #expect(Set(seqs(rLines)) == all, "seed \(seed): \(t) r/events missing \(all.subtracting(seqs(rLines)).sorted().prefix(10))")
            var lastVersion: [String: Int64] = [:]
            for line in rLines {
                let key = line["key"]?.stringValue ?? ""
                let version = Int64(line["headers"]?["objectVersion"]?.stringValue ?? "") ?? 0
                let previous = lastVersion[key, default: 0]
                #expect(version >= previous, "seed \(seed): \(t) r/events sent \(key) v\(version) after v\(previous)")
                lastVersion[key] = max(previous, version)
            }

            // s/once: created people named P…: delivered, dead-lettered or purged by this tenant.
            let wanted = Set(
                events.filter {
                    $0["type"] == .string("ENTITY_CREATED")
                        && ($0["object"]?["attributes"]?["FirstName"]?.arrayValue?.first?["value"]?.stringValue ?? "").hasPrefix("P")
                }.map(seqOf))
            let s = Set(seqs(world.delivered(t, "s")))
            let sDead = Set(letters.filter { $0["destination"] == .string("s/once") }.compactMap { $0["seq"]?.int64Value })
            let sPurged = purgedOnce[t] ?? []
            #expect(s.union(sDead).union(sPurged) == wanted, "seed \(seed): \(t) s/once accounts for \(s.count)+\(sDead.count)+\(sPurged.count) of \(wanted.count)")
            #expect(s.isDisjoint(with: sDead), "seed \(seed): \(t) s/once delivered and dead")
        }
    }

    /// `herald_destination_sent_total` of every (tenant, destination) equals what its sink wrote.
    static func checkMetrics(_ world: World, seed: UInt64 = 0) throws {
        let text = try world.root.get("/metrics").text
        for t in names {
            for (provider, destination) in [("q", "q/events"), ("r", "r/events"), ("s", "s/once")] {
                let lines = world.delivered(t, provider).count
                let sent = metric(text, "herald_destination_sent_total", tenant: t, destination: destination)
                #expect(sent == Double(lines), "seed \(seed): \(t) \(destination): metric \(sent ?? -1), sink wrote \(lines)")
            }
        }
    }

    /// The value of `name{tenant=…,destination=…}` in Prometheus text.
    static func metric(_ text: String, _ name: String, tenant: String, destination: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard let close = line.lastIndex(of: "}") else { continue }
            let labels = line[line.index(after: line.firstIndex(of: "{")!)..<close]
            if labels.contains("tenant=\"\(tenant)\"") && labels.contains("destination=\"\(destination)\"") {
                return Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }
}
