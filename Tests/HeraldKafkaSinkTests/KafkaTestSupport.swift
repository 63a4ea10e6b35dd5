import Foundation
import HeraldJSON
import HeraldKafkaSinkCore
import HeraldSinkSDK
import HeraldTestSupport
import Synchronization

struct KafkaTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// librdkafka's mock cluster (Tests/Fixtures/kafka-mock/mock_cluster.c) as a separate process on
/// 127.0.0.1, with fault injection through its standard input. Stopped by PID (SIGTERM) on
/// `stop()` or deinit; it also exits when this process goes away (its stdin closes).
final class MockKafkaCluster: @unchecked Sendable {
    static let source = BuildProducts.packageRoot + "/Tests/Fixtures/kafka-mock/mock_cluster.c"

    /// Compiled with `cc … -lrdkafka` once per version of the source, into the temporary directory
    /// (built under a unique name, then renamed: parallel test processes never see half a binary).
    static let binary: Result<String, KafkaTestError> = {
        let header = "/usr/include/librdkafka/rdkafka_mock.h"
        guard FileManager.default.fileExists(atPath: header) else {
            return .failure(
                KafkaTestError(
                    "\(header) is missing: the Kafka sink tests need librdkafka-dev and kcat (apt-get install -y librdkafka-dev kcat)"
                ))
        }
        guard let text = FileManager.default.contents(atPath: source) else {
            return .failure(KafkaTestError("cannot read \(source)"))
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in text {
            hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3
        }
        let dir = NSTemporaryDirectory() + "herald-kafka-mock"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let out = dir + "/mock_cluster-\(String(hash, radix: 16))"
        if FileManager.default.isExecutableFile(atPath: out) { return .success(out) }
        let partial = out + ".\(getpid()).tmp"
        do {
            let r = try runCommand("/usr/bin/cc", ["-O1", "-o", partial, source, "-lrdkafka"])
            if r.status != 0 {
                return .failure(
                    KafkaTestError(
                        "cc could not build the Kafka mock cluster (is librdkafka-dev installed?): \(r.stderr)"))
            }
        } catch {
            return .failure(KafkaTestError("cannot run cc to build the Kafka mock cluster: \(error)"))
        }
        guard rename(partial, out) == 0 else {
            return .failure(KafkaTestError("cannot rename \(partial): errno \(errno)"))
        }
        return .success(out)
    }()

    let process: Process
    let input: FileHandle
    let output: FileHandle
    private(set) var bootstrap: String
    private var buffer = Data()
    private let lock = NSLock()

    /// Starts a cluster of `brokers` with the given topics (name → partitions).
    init(brokers: Int = 1, topics: [String: Int] = [:]) throws {
        let binary = try MockKafkaCluster.binary.get()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments =
            ["--brokers", String(brokers), "--exit-on-eof"]
            + topics.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        input = stdinPipe.fileHandleForWriting
        output = stdoutPipe.fileHandleForReading
        bootstrap = ""
        let first = try readLine()
        guard first.contains(":") else {
            throw KafkaTestError("the mock cluster printed '\(first)' instead of its bootstrap servers")
        }
        bootstrap = first
    }

    private func readLine() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...nl)
                return line
            }
            let chunk = output.availableData
            if chunk.isEmpty { throw KafkaTestError("the mock cluster closed its output (exited?)") }
            buffer.append(chunk)
        }
    }

    /// Sends one command ("down 1", "error Produce 3 NOT_ENOUGH_REPLICAS", …) and returns its answer;
    /// throws unless the answer starts with "ok".
    @discardableResult
    func command(_ line: String) throws -> String {
        try lock.withLock {
            input.write(Data((line + "\n").utf8))
            let answer = try readLine()
            guard answer.hasPrefix("ok") else { throw KafkaTestError("mock cluster: '\(line)' → \(answer)") }
            return answer
        }
    }

    /// Closing its stdin ends it (--exit-on-eof); SIGTERM too; SIGKILL if it is still there after 5 s.
    func stop() {
        guard process.isRunning else { return }
        try? input.close()
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit {
        stop()
    }
}

/// One record read back from a topic.
struct ConsumedRecord {
    var partition: Int
    var offset: Int64
    var key: String
    var headers: [(String, String)]
    var payload: String

    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
}

enum KafkaConsumer {
    static let kcat = ["/usr/bin/kcat", "/usr/local/bin/kcat"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Every record of `topic` from the beginning to the current end, through kcat (`-C -e -J`).
    static func consume(bootstrap: String, topic: String) throws -> [ConsumedRecord] {
        guard let kcat else { throw KafkaTestError("kcat is not installed (apt-get install -y kcat)") }
        let r = try runCommand(
            "/usr/bin/timeout", ["60", kcat, "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J"])
        guard r.status == 0 else { throw KafkaTestError("kcat failed (\(r.status)): \(r.stderr)") }
        var out: [ConsumedRecord] = []
        for line in r.stdout.split(separator: "\n") {
            let json = try JSONParser.parse(String(line))
            var headers: [(String, String)] = []
            let flat = json["headers"]?.arrayValue ?? []
            var i = 0
            while i + 1 < flat.count {
                headers.append((flat[i].stringValue ?? "", flat[i + 1].stringValue ?? ""))
                i += 2
            }
            out.append(
                ConsumedRecord(
                    partition: Int(json["partition"]?.int64Value ?? -1), offset: json["offset"]?.int64Value ?? -1,
                    key: json["key"]?.stringValue ?? "", headers: headers, payload: json["payload"]?.stringValue ?? ""))
        }
        return out
    }

    /// Polls until `topic` holds at least `count` records (or the timeout passes); returns what it read last.
    static func consume(bootstrap: String, topic: String, atLeast count: Int, timeout: Double = 30) throws
        -> [ConsumedRecord]
    {
        let deadline = Date().addingTimeInterval(timeout)
        var records = try consume(bootstrap: bootstrap, topic: topic)
        while records.count < count && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.3)
            records = try consume(bootstrap: bootstrap, topic: topic)
        }
        return records
    }
}

/// What a producer under test reported, and a synchronous way to send through it.
final class ProducerHarness: @unchecked Sendable {
    struct Observed {
        var health: [(Bool, String)] = []
        var counters: [String: UInt64] = [:]
        var logs: [String] = []
        var completions: [UInt64: Int] = [:]
        var completionThreads: [UInt] = []
    }

    let observed = Locked(Observed())
    private(set) var producer: KafkaProducer!

    init(_ config: KafkaConfig) throws {
        let observed = self.observed
        producer = try KafkaProducer(
            config: config,
            events: KafkaProducerEvents(
                log: { _, line in observed.withLock { $0.logs.append(line) } },
                health: { h, reason in observed.withLock { $0.health.append((h, reason)) } },
                counter: { name, delta in observed.withLock { $0.counters[name, default: 0] += delta } }))
        producer.start()
    }

    /// Sends through a producer made elsewhere (its events are not observed here).
    init(wrapping producer: KafkaProducer) {
        self.producer = producer
    }

    /// A message in Swift memory, kept alive for the duration of `send`.
    struct Message {
        var key: String
        var value: [UInt8]
        var headers: [(name: String, value: String)] = []

        init(key: String, value: String, headers: [(name: String, value: String)] = []) {
            self.key = key
            self.value = Array(value.utf8)
            self.headers = headers
        }

        init(key: String, bytes: [UInt8], headers: [(name: String, value: String)] = []) {
            self.key = key
            self.value = bytes
            self.headers = headers
        }
    }

    private let nextBatch = Atomic<UInt64>(1)

    /// Sends a batch and returns without waiting; `done` gets the results.
    func sendAsync(topic: String, _ messages: [Message], done: @escaping @Sendable ([SinkResult]) -> Void) {
        let id = nextBatch.wrappingAdd(1, ordering: .relaxed).oldValue
        let observed = self.observed
        // Copies in memory of our own, released as soon as `send` returns (librdkafka copies).
        func copy(_ bytes: [UInt8]) -> UnsafeMutableRawBufferPointer {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            b.copyBytes(from: bytes)
            return UnsafeMutableRawBufferPointer(rebasing: b[0..<bytes.count])
        }
        let keys = messages.map { copy(Array($0.key.utf8)) }
        let values = messages.map { copy($0.value) }
        defer {
            for b in keys + values {
                UnsafeMutableRawBufferPointer(start: b.baseAddress, count: max(1, b.count)).deallocate()
            }
        }
        producer.send(
            topic: topic, count: messages.count,
            record: { i in
                KafkaRecord(
                    key: UnsafeRawBufferPointer(keys[i]), value: UnsafeRawBufferPointer(values[i]),
                    headers: messages[i].headers)
            },
            completion: { results in
                observed.withLock {
                    $0.completions[id, default: 0] += 1
                    $0.completionThreads.append(UInt(pthread_self()))
                }
                done(results)
            })
    }

    /// Sends a batch and waits for its completion.
    func send(topic: String, _ messages: [Message], timeout: Double = 30) throws -> [SinkResult] {
        let box = Locked<[SinkResult]?>(nil)
        let done = DispatchSemaphore(value: 0)
        sendAsync(topic: topic, messages) { results in
            box.withLock { $0 = results }
            done.signal()
        }
        guard done.wait(timeout: .now() + timeout) == .success else {
            throw KafkaTestError("the batch was not completed within \(timeout) s")
        }
        return box.withLock { $0 }!
    }
}

/// A value behind a lock, shareable between threads (unlike `Mutex`, it can be captured).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
