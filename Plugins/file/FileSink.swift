import Foundation
import HeraldJSON
import HeraldSinkSDK

/// Appends messages to a file as NDJSON, one line per message:
/// `{"headers": {...}, "key": "...", "body": "<the exact message body as a JSON string>"}`.
///
/// Synchronous: a batch is written (and fsynced when configured) before it completes.
final class FileSink: SinkPlugin {
    static let name = "file"
    static let version = "1.0.0"
    static let summary = "Appends each message as one NDJSON line to a file (used by the demo)"
    static let capabilities: SinkCapabilities = [.flush]
    static let configSchema: String? = """
        {"type": "object", "additionalProperties": false, "required": ["path"],
         "properties": {"path": {"type": "string", "description": "file to append to; {destination} is replaced by the destination name"},
                        "fsync": {"type": "boolean", "default": false},
                        "maxMessageBytes": {"type": "integer", "minimum": 1, "default": 1048576}}}
        """

    let config: FileSinkConfig
    let host: SinkHost
    private var files: [String: UnsafeMutablePointer<FILE>] = [:]
    private var writer = JSONWriter(capacity: 1 << 16)
    private let lock = NSLock()

    static func validate(config: String) throws {
        _ = try FileSinkConfig.parse(config)
    }

    init(config: String, host: SinkHost) throws {
        self.config = try FileSinkConfig.parse(config)
        self.host = host
    }

    var limits: SinkPluginLimits {
        SinkPluginLimits(maxMessageBytes: config.maxMessageBytes, maxBatchMessages: 1000, maxBatchBytes: 16 << 20, maxInFlight: 1)
    }

    func start() throws {
        if !config.path.contains("{destination}") {
            _ = try file(for: "")
        }
        host.log(.info, "file sink writing to \(config.path)")
    }

    private func file(for destination: String) throws -> UnsafeMutablePointer<FILE> {
        let path = config.path.replacingOccurrences(of: "{destination}", with: destination)
        if let f = files[path] { return f }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        guard let f = fopen(path, "a") else {
            let reason = String(cString: strerror(errno))
            host.setHealth(false, "cannot open \(path): \(reason)")
            throw SinkError(.retry, "cannot open \(path): \(reason)")
        }
        files[path] = f
        return f
    }

    func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        lock.lock()
        defer { lock.unlock() }
        let file = try file(for: batch.destination)
        writer.reset()
        var results: [SinkResult] = []
        results.reserveCapacity(batch.count)
        for i in 0..<batch.count {
            let message = batch[i]
            if UInt64(message.body.count) > config.maxMessageBytes {
                results.append(
                    SinkResult(.tooLarge, error: "message is \(message.body.count) bytes, the limit is \(config.maxMessageBytes)"))
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
            results.append(.ok)
        }
        let written = writer.bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
        var failed: String?
        if written != writer.bytes.count || fflush(file) != 0 {
            failed = "write failed: \(String(cString: strerror(errno)))"
        } else if config.fsync && fsync(fileno(file)) != 0 {
            failed = "fsync failed: \(String(cString: strerror(errno)))"
        }
        if let failed {
            host.setHealth(false, failed)
            completion.completeAll(SinkResult(.retry, error: failed))
            return
        }
        host.setHealth(true)
        host.counter("lines_written", UInt64(results.filter { $0.status == .ok }.count))
        completion.complete(results)
    }

    func flush(timeoutMs: UInt32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        for f in files.values {
            fflush(f)
            if config.fsync { fsync(fileno(f)) }
        }
        return true
    }

    func stop(deadlineMs: UInt32) {
        lock.lock()
        defer { lock.unlock() }
        for f in files.values { fclose(f) }
        files.removeAll()
    }
}

@_cdecl("herald_sink_entry")
public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: FileSink.self) }
