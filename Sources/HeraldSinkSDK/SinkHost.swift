import CHeraldSink
import Synchronization

/// Herald's functions for a plugin instance: logging, metrics, health. Safe from any thread.
public final class SinkHost: @unchecked Sendable {
    let api: UnsafePointer<herald_sink_host_api>

    /// The `name` of the destination the instance serves (what its batches carry), from a host of ABI 1.1 or
    /// later; nil from an older host.
    public let destinationName: String?

    init(api: UnsafePointer<herald_sink_host_api>) {
        self.api = api
        let end = MemoryLayout<herald_sink_host_api>.offset(of: \herald_sink_host_api.destination_name_len)!
            + MemoryLayout<Int>.size
        if api.pointee.struct_size >= end, let name = api.pointee.destination_name {
            destinationName = String(
                decoding: UnsafeRawBufferPointer(start: name, count: api.pointee.destination_name_len), as: UTF8.self)
        } else {
            destinationName = nil
        }
    }

    public enum LogLevel {
        case trace, debug, info, warning, error

        var raw: herald_sink_log_level {
            switch self {
            case .trace: return HERALD_SINK_LOG_TRACE
            case .debug: return HERALD_SINK_LOG_DEBUG
            case .info: return HERALD_SINK_LOG_INFO
            case .warning: return HERALD_SINK_LOG_WARNING
            case .error: return HERALD_SINK_LOG_ERROR
            }
        }
    }

    public func log(_ level: LogLevel, _ message: String) {
        var m = message
        m.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { c in api.pointee.callback_log(api.pointee.host, level.raw, c.baseAddress, c.count) }
        }
    }

    public func counter(_ name: String, _ delta: UInt64 = 1) {
        var n = name
        n.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { c in
                api.pointee.callback_metric_counter(api.pointee.host, c.baseAddress, c.count, delta)
            }
        }
    }

    public func gauge(_ name: String, _ value: Double) {
        var n = name
        n.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { c in
                api.pointee.callback_metric_gauge(api.pointee.host, c.baseAddress, c.count, value)
            }
        }
    }

    public func setHealth(_ healthy: Bool, _ reason: String = "") {
        var r = reason
        r.withUTF8 { u in
            u.withMemoryRebound(to: CChar.self) { c in
                api.pointee.callback_set_health(api.pointee.host, healthy ? 1 : 0, c.baseAddress, c.count)
            }
        }
    }
}

/// Completes one batch exactly once; later calls are ignored. Safe from any thread.
public final class SinkCompletion: @unchecked Sendable {
    let api: UnsafePointer<herald_sink_host_api>
    public let batchId: UInt64
    public let count: Int
    private let done = Atomic<Bool>(false)

    init(api: UnsafePointer<herald_sink_host_api>, batchId: UInt64, count: Int) {
        self.api = api
        self.batchId = batchId
        self.count = count
    }

    public var isCompleted: Bool { done.load(ordering: .acquiring) }

    /// Completes with one result per message (missing results count as RETRY).
    public func complete(_ results: [SinkResult]) {
        guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        var all = results
        if all.count < count {
            all += Array(repeating: SinkResult(.retry, error: "plugin gave no result for this message"), count: count - all.count)
        }
        if all.count > count { all.removeLast(all.count - count) }
        let texts: [[CChar]?] = all.map { r in r.error.map { Array($0.utf8CString) } }
        if texts.allSatisfy({ $0 == nil }) {
            let raw = all.map {
                herald_sink_result(
                    status: herald_sink_status(rawValue: $0.status.rawValue), retry_after_ms: $0.retryAfterMs, error: nil,
                    error_len: 0)
            }
            api.pointee.callback_complete_batch(api.pointee.host, batchId, raw, raw.count)
        } else {
            completeWithTexts(all, texts)
        }
    }

    private func completeWithTexts(_ all: [SinkResult], _ texts: [[CChar]?]) {
        // Copy every error text into one buffer so pointers stay valid for the whole call.
        var storage: [CChar] = []
        var offsets: [(Int, Int)?] = []
        for t in texts {
            if let t {
                offsets.append((storage.count, t.count - 1))
                storage.append(contentsOf: t)
            } else {
                offsets.append(nil)
            }
        }
        storage.withUnsafeBufferPointer { buffer in
            let raw = all.enumerated().map { (i, r) -> herald_sink_result in
                let text = offsets[i].map { buffer.baseAddress! + $0.0 }
                return herald_sink_result(
                    status: herald_sink_status(rawValue: r.status.rawValue), retry_after_ms: r.retryAfterMs,
                    error: text, error_len: offsets[i]?.1 ?? 0)
            }
            api.pointee.callback_complete_batch(api.pointee.host, batchId, raw, raw.count)
        }
    }

    /// Completes every message with the same result.
    public func completeAll(_ result: SinkResult) {
        complete(Array(repeating: result, count: count))
    }
}
