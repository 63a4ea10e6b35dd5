import Foundation
import HeraldJSON
import HeraldSinkSDK

/// Appends messages to a file as NDJSON, one line per message:
/// `{"headers": {...}, "key": "...", "body": "<the exact message body as a JSON string>"}`.
///
/// Synchronous: a batch is written (and fsynced when configured) before it completes. Every
/// instance of the process that writes to one file goes through one `SharedFile` (see `OpenFiles`):
/// a batch's lines reach the file in one write, and a failed or short write is truncated back to
/// the last whole line before the batch completes, its whole lines OK and the rest RETRY.
public final class FileSink: SinkPlugin {
    public static let name = "file"
    public static let version = "1.0.0"
    public static let summary = "Appends each message as one NDJSON line to a file (used by the demo)"
    public static let capabilities: SinkCapabilities = [.flush]
    public static var configSchema: String? { FileConfig.schema }

    public let config: FileConfig
    let host: SinkHost
    /// The files this instance holds, by path as spelled after `{destination}` is replaced.
    private var files: [String: SharedFile] = [:]
    private var writer = JSONWriter(capacity: 1 << 16)
    /// Where each line of the batch being written ends in `writer.bytes`, and its message's index.
    private var lineEnds: [Int] = []
    private var lineMessages: [Int] = []
    /// The last batch failed (its error was logged; the next success is logged too).
    private var failing = false
    private let lock = NSLock()

    public static func validate(config: String) throws {
        _ = try FileConfig.read(config)
    }

    public init(config: String, host: SinkHost) throws {
        self.config = try FileConfig.read(config) { host.log(.warning, $0) }
        self.host = host
    }

    public var limits: SinkPluginLimits {
        SinkPluginLimits(
            maxMessageBytes: config.maxMessageBytes, maxBatchMessages: 1000, maxBatchBytes: 16 << 20, maxInFlight: 1)
    }

    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        if !config.path.contains("{destination}") {
            _ = try file(for: "")
        }
        host.log(.info, "file sink writing to \(config.path)")
    }

    private func file(for destination: String) throws -> SharedFile {
        let path = config.path.replacingOccurrences(of: "{destination}", with: destination)
        if let f = files[path] { return f }
        do {
            let f = try OpenFiles.acquire(path)
            files[path] = f
            return f
        } catch {
            host.setHealth(false, error.description)
            throw SinkError(.retry, error.description)
        }
    }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        lock.lock()
        defer { lock.unlock() }
        let file = try file(for: batch.destination)
        writer.reset()
        lineEnds.removeAll(keepingCapacity: true)
        lineMessages.removeAll(keepingCapacity: true)
        var results: [SinkResult] = []
        results.reserveCapacity(batch.count)
        for i in 0..<batch.count {
            let message = batch[i]
            if UInt64(message.body.count) > config.maxMessageBytes {
                results.append(
                    SinkResult(
                        .tooLarge,
                        error: "message is \(message.body.count) bytes, the limit is \(config.maxMessageBytes)"))
                continue
            }
            writer.beginObject()
            writer.key("headers")
            writer.beginObject()
            for h in message.headers {
                writer.key(h.name)
                writer.string(h.value)
            }
            writer.endObject()
            writer.key("key")
            writer.string(message.key)
            writer.key("body")
            writer.string(utf8: message.body.bindMemory(to: UInt8.self))
            writer.endObject()
            writer.bytes.append(0x0A)
            writer.reset(keepingContent: true)
            lineEnds.append(writer.bytes.count)
            lineMessages.append(i)
            results.append(.ok)
        }
        guard !lineEnds.isEmpty else {
            completion.complete(results)
            return
        }
        let outcome = writer.bytes.withUnsafeBytes { file.append($0, lineEnds: lineEnds, durable: config.fsync) }
        if let error = outcome.error {
            for line in outcome.linesKept..<lineEnds.count {
                results[lineMessages[line]] = SinkResult(.retry, error: error)
            }
            host.setHealth(false, error)
            if !failing { host.log(.warning, error) }
            failing = true
        } else {
            host.setHealth(true)
            if failing { host.log(.info, "writing to \(file.path) works again") }
            failing = false
        }
        host.counter("lines_written", UInt64(outcome.linesKept))
        completion.complete(results)
    }

    public func flush(timeoutMs: UInt32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        // Lines are written unbuffered when their batch completes; only fsync is left to do.
        guard config.fsync else { return true }
        return files.values.map { $0.sync() }.allSatisfy { $0 }
    }

    public func stop(deadlineMs: UInt32) {
        lock.lock()
        defer { lock.unlock() }
        for f in files.values { OpenFiles.release(f) }
        files.removeAll()
    }
}
