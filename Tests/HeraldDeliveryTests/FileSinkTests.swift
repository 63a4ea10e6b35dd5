import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// The file sink's writes end to end (issue 13): the real daemon writing through the file sink
/// onto a file system that fills up, and two destinations writing one file under load.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct FileSinkTests {
    /// An NDJSON file read whole: its lines parsed, and whether it ends with a complete line.
    struct Contents {
        var lines: [JSONValue] = []
        /// Lines that are not valid JSON (torn or glued lines), shortened for messages.
        var broken: [String] = []
        var endsWithNewline = true
        var bytes = 0

        init(_ path: String) {
            guard let data = FileManager.default.contents(atPath: path) else { return }
            bytes = data.count
            endsWithNewline = data.isEmpty || data.last == 0x0A
            for line in data.split(separator: 0x0A) {
                if let value = try? JSONParser.parse(Array(line)), value["headers"]?["messageId"]?.stringValue != nil {
                    lines.append(value)
                } else {
                    broken.append(String(decoding: line.prefix(120), as: UTF8.self) + " … (\(line.count) bytes)")
                }
            }
        }

        func messageIds(destination: String? = nil) -> [String] {
            lines.compactMap { line -> String? in
                guard let id = line["headers"]?["messageId"]?.stringValue else { return nil }
                if let destination, !id.hasSuffix("-" + StreamingTestSupport.idSuffix(destination)) { return nil }
                return id
            }
        }
    }

    func start(_ dir: TemporaryDirectory, streaming: String) throws -> (HeraldProcess, TestClient) {
        try StreamingTestSupport.start(dir, streaming: streaming)
    }

    /// Posts `count` people with three attributes of ~40 bytes each (lines of ~1.2 KB).
    func postPeople(_ client: TestClient, count: Int, prefix: String) throws {
        let pad = String(repeating: "x", count: 30)
        for start in stride(from: 0, to: count, by: 100) {
            let items = (start..<min(count, start + 100)).map { i in
                TestConfiguration.person(
                    id: "\(prefix)\(i)", first: "First\(i)\(pad)", last: "Last\(i)\(pad)",
                    email: "p\(i)\(pad)@example.com")
            }
            let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
            guard r.status == 200 else { throw HeraldProcessError(message: "post failed: \(r.status) \(r.text)") }
        }
    }

    func status(_ client: TestClient, _ id: String) -> JSONValue? {
        try? StreamingTestSupport.destinationStatus(client, id: id)
    }

    func number(_ value: JSONValue?) -> Int64 { value?.int64Value ?? -1 }

    /// With and without `"fsync": true` (the whole lines of a failed write are fsynced before they complete OK).
    @Test(arguments: [false, true])
    func aFullDiskLeavesOnlyWholeLinesAndEveryEventArrivesOnceThereIsSpace(fsync: Bool) throws {
        let dir = TemporaryDirectory()
        let disk = try TmpfsMount(sizeKB: 256)
        defer { disk.unmount() }
        let out = disk.path + "/events.ndjson"
        func streaming(enabled: Bool) -> String {
            """
            {"messaging": {"providers": {"files": {"plugin": "file", "config": {"path": "\(out)", "fsync": \(fsync)}}},
              "destinations": [{"provider": "files", "name": "full", "enabled": \(enabled),
                                "batch": {"maxMessages": 20, "lingerMs": 0},
                                "retry": {"initialDelayMs": 50, "multiplier": 2, "maxDelayMs": 400, "maxAttempts": 100000}}]}}
            """
        }
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming(enabled: true))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        defer { server.stop() }
        let client = TestClient(baseURL: server.baseURL)
        let people = 600
        try postPeople(client, count: people, prefix: "f")

        // The disk fills up: every event has been read, some are waiting to be retried.
        let full = StreamingTestSupport.eventually(timeout: 60) {
            let s = status(client, "files/full")
            // Lag counts the retry schedule: every event read means lag == what waits to be retried.
            return number(s?["lagEvents"]) == number(s?["retryBacklog"]) && number(s?["retried"]) > 0
                && number(s?["retryBacklog"]) > 0
        }
        #expect(full, "the 256 KB disk never filled: \(String(describing: status(client, "files/full")))")
        let whileFull = status(client, "files/full")
        let sent = number(whileFull?["sent"])
        #expect(whileFull?["healthy"] == .bool(false))
        #expect(
            whileFull?["reason"]?.stringValue?.contains("No space left on device") == true,
            "\(String(describing: whileFull))")

        // Stop writing (disable the destination) to look at the file at rest.
        _ = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming(enabled: false))
        kill(server.process.processIdentifier, SIGHUP)
        #expect(StreamingTestSupport.eventually { status(client, "files/full")?["state"] == .string("DISABLED") })
        let atFull = Contents(out)
        #expect(atFull.bytes > 128 * 1024, "the file filled the disk (\(atFull.bytes) bytes)")
        let endsWhole = atFull.endsWithNewline
        let brokenAtFull = atFull.broken
        #expect(endsWhole, "a failed write left a partial line at the end of the file")
        #expect(brokenAtFull.isEmpty, "lines that are not JSON: \(brokenAtFull.prefix(3))")
        #expect(sent > 0)
        #expect(
            Int64(Set(atFull.messageIds()).count) >= sent,
            "\(sent) messages completed OK, the file holds \(Set(atFull.messageIds()).count)")

        // Free space; enable the destination again: the retries go through.
        try disk.resize(sizeKB: 16 * 1024)
        _ = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming(enabled: true))
        kill(server.process.processIdentifier, SIGHUP)
        let drained = StreamingTestSupport.eventually(timeout: 60) {
            let s = status(client, "files/full")
            return s?["state"] == .string("RUNNING") && number(s?["lagEvents"]) == 0 && number(s?["retryBacklog"]) == 0
        }
        #expect(drained, "\(String(describing: status(client, "files/full")))")
        #expect(status(client, "files/full")?["healthy"] == .bool(true))
        let after = Contents(out)
        let afterEndsWhole = after.endsWithNewline
        let brokenAfter = after.broken
        #expect(afterEndsWhole)
        #expect(brokenAfter.isEmpty, "lines that are not JSON: \(brokenAfter.prefix(3))")
        let uris = Set(after.lines.compactMap { $0["headers"]?["sourceObjectUri"]?.stringValue })
        #expect(uris.count == people, "every entity's event is in the file (at least once)")
        #expect(Set(after.messageIds()).count == people)
        #expect(after.lines.count >= people)
        let letters = try client.get("/api/t1/streaming/dlq").json?["deadLetters"]?.arrayValue ?? []
        #expect(letters.isEmpty)
        server.stop()
    }

    @Test func twoDestinationsWritingOneFileUnderLoadNeverInterleaveLines() throws {
        let dir = TemporaryDirectory()
        let shared = dir.file("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("alias"), withDestinationPath: shared)
        // One file, three spellings: the plain path, one through a symlink with a "./", one with "..".
        let out = shared + "/out.ndjson"
        let aliased = dir.file("alias") + "/./out.ndjson"
        let dotted = shared + "/../shared/out.ndjson"
        func streaming(enabled: Bool, bMaxMessages: Int) -> String {
            """
            {"messaging": {"providers": {"pa": {"plugin": "file", "config": {"path": "\(out)"}},
                                         "pb": {"plugin": "file", "config": {"path": "\(aliased)"}},
                                         "pc": {"plugin": "file", "config": {"path": "\(dotted)"}}},
              "destinations": [
                {"provider": "pa", "name": "a", "enabled": \(enabled), "batch": {"maxMessages": 10, "lingerMs": 0}},
                {"provider": "pb", "name": "b", "enabled": \(enabled), "batch": {"maxMessages": \(bMaxMessages), "lingerMs": 0}},
                {"provider": "pc", "name": "c", "enabled": \(enabled), "batch": {"maxMessages": 10, "lingerMs": 0}}]}}
            """
        }
        func reload(enabled: Bool, bMaxMessages: Int) {
            _ = StreamingTestSupport.writeConfig(
                in: dir, plugins: plugins, streaming: streaming(enabled: enabled, bMaxMessages: bMaxMessages))
            kill(server.process.processIdentifier, SIGHUP)
        }
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins, streaming: streaming(enabled: false, bMaxMessages: 10))
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        defer { server.stop() }
        let client = TestClient(baseURL: server.baseURL)
        let people = 3_000
        let destinations = ["pa/a", "pb/b", "pc/c"]
        // A backlog, then all three destinations at once: batches of 500 lines (~600 KB) in flight together.
        try postPeople(client, count: people / 2, prefix: "a")
        reload(enabled: true, bMaxMessages: 10)
        try postPeople(client, count: people / 4, prefix: "b")
        // A reload while lines flow: b's new instance opens the file before its old one closes it.
        reload(enabled: true, bMaxMessages: 7)
        try postPeople(client, count: people / 4, prefix: "c")
        let drained = StreamingTestSupport.eventually(timeout: 120) {
            destinations.allSatisfy { id in
                let s = status(client, id)
                return number(s?["lagEvents"]) == 0 && number(s?["retryBacklog"]) == 0
                    && number(s?["cursor"]) >= Int64(people)
            }
        }
        #expect(drained, "\(destinations.map { String(describing: status(client, $0)) })")
        #expect(destinations.allSatisfy { number(status(client, $0)?["retried"]) == 0 }, "nothing failed: no retries")
        let contents = Contents(out)
        let endsWhole = contents.endsWithNewline
        let torn = contents.broken
        #expect(endsWhole)
        #expect(torn.isEmpty, "\(torn.count) torn lines, e.g. \(torn.prefix(2))")
        for destination in destinations {
            let ids = contents.messageIds(destination: destination)
            #expect(Set(ids).count == people, "\(destination): \(Set(ids).count) distinct messages of \(people)")
            #expect(
                ids.count == people,
                "\(destination): \(ids.count) lines for \(people) messages (nothing failed: no retries)")
        }
        let lineCount = contents.lines.count
        #expect(lineCount == destinations.count * people)
    }
}
