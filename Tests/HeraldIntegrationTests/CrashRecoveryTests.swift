import Foundation
import HeraldJSON
import HeraldModel
import HeraldPostgres
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Logging
import Testing

/// `kill -9` the server while `herald load` runs, restart, and check the outbox invariants; on each store backend.
@Suite(.timeLimit(.minutes(10)))
struct CrashRecoveryTests {
    @Test(arguments: TestStoreBackend.allCases)
    func killDuringLoadLosesNothingAcknowledged(_ backend: TestStoreBackend) async throws {
        let dir = TemporaryDirectory()
        let store = try TestStore(backend, name: "crash")
        let config = TestConfiguration.write(in: dir.path, tenants: CrashRecoveryTests.demoTenant, store: store)
        let input = dir.file("people.ndjson")
        // PostgreSQL ingests the demo tenant about 8 times slower than SQLite (a round trip per statement on the
        // writer's connection; ~50-65 records/s in a debug build on 2 busy cores): a quarter of the load keeps it
        // near SQLite's time, with the same number of kills landing mid-load.
        let people = backend == .postgres ? 2000 : 8000
        let generated = try runCommand(
            BuildProducts.herald, ["sample-data", "--people", String(people), "--seed", "11", "-o", input])
        #expect(generated.status == 0)
        let totalLines = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n").count

        var startLine = 1
        var committedThrough = 0
        var kills = 0
        var interrupted = 0
        var round = 0
        while startLine <= totalLines && round < 8 {
            round += 1
            let server = try HeraldProcess(configPath: config, logPath: dir.file("serve-\(round).log"))
            let loader = Process()
            loader.executableURL = URL(fileURLWithPath: BuildProducts.herald)
            loader.arguments = [
                "load", input, "--tenant", "demo", "--url", server.baseURL, "--batch", "50", "--parallel", "3",
                "--retries", "0", "--progress", "none", "--start-line", String(startLine),
            ]
            let errPipe = Pipe()
            loader.standardError = errPipe
            loader.standardOutput = FileHandle.nullDevice
            try loader.run()
            let killThisRound = round <= 4
            if killThisRound {
                // Kill once a random share of this round's lines has been committed, while the load runs.
                // The watcher is a thread of its own: a task could wait for a busy cooperative pool
                // (tests run in parallel) while the load finishes.
                let remaining = totalLines - startLine + 1
                let target = committedThrough + Int.random(in: remaining / 10...remaining / 2)
                let watched = LoadWatch(server: server, loader: loader)
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    Thread {
                        let probe = TestClient(baseURL: watched.server.baseURL)
                        while watched.loader.isRunning {
                            let r = try? probe.get("/api/demo/events?after=\(target)&limit=1")
                            if let events = r?.json?["events"]?.arrayValue, !events.isEmpty { break }
                            usleep(2_000)
                        }
                        watched.server.kill9()
                        done.resume()
                    }.start()
                }
                kills += 1
            }
            // Waiting for the loader blocks for the rest of the round: off the cooperative pool (`offPool`).
            let stderr = try await offPool { () -> String in
                let text = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                loader.waitUntilExit()
                return text
            }
            if loader.terminationStatus == 0 {
                committedThrough = totalLines
                startLine = totalLines + 1
            } else {
                #expect(loader.terminationStatus == 1, "\(stderr)")
                interrupted += 1
                let marker = "every line up to "
                let range = try #require(stderr.range(of: marker), "no resume hint in: \(stderr)")
                let number = Int(stderr[range.upperBound...].prefix { $0.isNumber }) ?? -1
                #expect(number >= committedThrough, "the committed prefix never shrinks")
                committedThrough = number
                startLine = number + 1
            }
            if !killThisRound { server.stop() }
            try await verifyInvariants(store, dataDirectory: dir.file("data"), input: input, committedThrough: committedThrough)
        }
        #expect(kills >= 3)
        #expect(interrupted >= 2, "the kills must land while the load is running")
        #expect(committedThrough == totalLines)
    }

    /// The store the server used, opened by the test (SQLite: its data directory; PostgreSQL: its database).
    func open(_ store: TestStore, dataDirectory: String) async throws -> any Store {
        guard let cluster = store.cluster, let database = store.database else {
            return try SQLiteStore(directory: dataDirectory)
        }
        return try await PostgresStore.open(
            PostgresSettings(host: cluster.host, port: cluster.port, user: cluster.user, database: database, poolSize: 2),
            logger: Logger(label: "test"))
    }

    /// Every acknowledged line is stored with its events; versions are contiguous; every event's entity exists.
    func verifyInvariants(_ testStore: TestStore, dataDirectory: String, input: String, committedThrough: Int) async throws {
        let store = try await open(testStore, dataDirectory: dataDirectory)
        do {
            try await verifyInvariants(store, input: input, committedThrough: committedThrough)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    func verifyInvariants(_ store: any Store, input: String, committedThrough: Int) async throws {
        let entities = try await store.entityVersions(tenant: "demo")
        let events = try await store.events(tenant: "demo", after: 0, limit: 10_000_000)

        var versions: [String: [Int64]] = [:]
        var crosswalksSeen = Set<String>()
        // Versions count the events that change an entity (merge summaries and potential matches repeat
        // the version they describe).
        let changing: Set<EventType> = [.entityCreated, .entityChanged, .entityRemoved, .entityLostMerge]
        for record in events {
            if changing.contains(record.type) {
                versions[record.event.objectURI, default: []].append(record.event.objectVersion)
            }
            for c in try record.event.entity().crosswalks { crosswalksSeen.insert(c.value) }
        }
        for (uri, list) in versions {
            #expect(list == Array(1...Int64(list.count)), "\(uri) has versions \(list)")
            let id = String(uri.dropFirst("entities/".count))
            #expect(entities[id]?.version == Int64(list.count), "entity \(id) is at the version of its last event")
        }
        for (id, state) in entities {
            #expect(versions["entities/\(id)"] != nil, "entity \(id) (v\(state.version)) has events")
        }
        // Every line up to the committed prefix is in the store.
        let lines = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n")
        for line in lines.prefix(committedThrough) {
            let json = try JSONParser.parse(String(line))
            let crosswalk = json["crosswalks"]?.arrayValue?.first?["value"]?.stringValue ?? "?"
            #expect(crosswalksSeen.contains(crosswalk), "acknowledged record \(crosswalk) is missing")
        }
    }

    /// The server and loader of one round, handed to the watcher thread.
    struct LoadWatch: @unchecked Sendable {
        let server: HeraldProcess
        let loader: Process
    }

    /// The demo tenant (its data model and match rules) without its streamingConfig: this test is about the
    /// store, and the demo's file sink is not in this test's plugin directories.
    static var demoTenant: String {
        let path = BuildProducts.packageRoot + "/examples/demo/herald.json"
        let json = try! JSONParser.parse(Array(FileManager.default.contents(atPath: path)!))
        guard case .object(var tenant) = json["tenants"]!.arrayValue![0] else { fatalError("demo tenant") }
        tenant.removeAll { $0.key == "streamingConfig" }
        return JSONValue.object(tenant).serializedString()
    }
}
