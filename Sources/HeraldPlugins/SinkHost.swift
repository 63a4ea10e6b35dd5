import CHeraldSink
import Foundation
import Logging
import Synchronization

/// The child side of `isolation: "process"`: `herald sink-host` runs this on the socket the daemon gave it as
/// file descriptor 3. It loads the plugin the daemon names (pinned to the daemon's SHA-256), runs one
/// `SinkInstance` exactly as the daemon would in process, and forwards batches, results, logs, metrics and health
/// across the socket. The plugin cannot tell the difference: it gets the same host table from the same code.
///
/// The child ends when the daemon says stop, or as soon as the socket reaches its end: the daemon is gone (also
/// after a `kill -9`), and a sink host never outlives it. A thread of its own reads the socket, so a plugin that
/// spins in `on_send_batch` does not keep the child alive either.
public enum SinkHost {
    /// Exit statuses of the child (besides a plugin's own).
    public static let exitProtocolError: Int32 = 65
    public static let exitDaemonGone: Int32 = 70

    public static func run(fd: Int32 = 3) -> Never {
        signal(SIGPIPE, SIG_IGN)
        let socket = FrameSocket(fd: fd)
        guard case .frame(.hello, let payload) = socket.next(maxBytes: maxDaemonFrameBytes) else {
            FileHandle.standardError.write(Data("herald sink-host: expected a hello frame on fd \(fd); this command is run by herald serve\n".utf8))
            _exit(exitProtocolError)
        }
        var r = FrameReader(UnsafeRawBufferPointer(payload))
        guard let library = try? r.string(), let sha = try? r.string(), let image = try? Data(r.raw()), let name = try? r.string(),
            let alias = try? r.string(), let destination = try? r.string(), let config = try? r.string(),
            let level = try? r.u8(), let heartbeatMs = try? r.u32(), let slotCount = try? r.u32(), let slotSize = try? r.u32()
        else { _exit(exitProtocolError) }
        payload.deallocate()
        // The daemon's batch slots, read-only here (the ABI's batches are const).
        var shared: UnsafeMutableRawPointer?
        if slotCount > 0 {
            let size = Int(slotCount) * Int(slotSize)
            guard let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, 4, 0), mapped != MAP_FAILED else { _exit(exitProtocolError) }
            shared = mapped
            close(4)
        }

        let logLevel = Logger.Level.allCases[min(Int(level), Logger.Level.allCases.count - 1)]
        var logger = Logger(label: "herald.sink-host") { _ in ChannelLogHandler(socket: socket, logLevel: logLevel) }
        logger.logLevel = logLevel

        let instance: SinkInstance
        do throws(PluginLoadError) {
            let manifest = PluginManifest(
                name: name, library: library, abiMajor: PluginLoader.hostABIMajor, abiMinor: 0, description: "", sha256: sha,
                manifestPath: "(given by herald serve)")
            let plugin = try PluginLoader.load(manifest, image: image, sha256: sha256Hex(of: image))
            instance = try SinkInstance(
                plugin: plugin, alias: alias, destination: destination, config: config, logger: logger,
                metrics: { name, value, isCounter in
                    var w = FrameWriter(.metric)
                    w.u8(isCounter ? 1 : 0)
                    w.string(name, max: 256)
                    w.f64(value)
                    socket.write(w.finish())
                },
                health: { healthy, reason in
                    var w = FrameWriter(.health)
                    w.u8(healthy ? 1 : 0)
                    w.string(reason, max: maxCrossingText)
                    socket.write(w.finish())
                })
            do {
                try instance.start()
            } catch {
                instance.destroy()
                throw error
            }
            var w = FrameWriter(.ready)
            w.string(plugin.version)
            w.u64(plugin.capabilities)
            instance.limits.write(to: &w)
            socket.write(w.finish())
        } catch {
            var w = FrameWriter(.failed)
            w.string(error.code.rawValue)
            w.string(error.message, max: 8 * maxCrossingText)
            socket.write(w.finish())
            _exit(0)
        }

        // Heartbeats, from a thread the plugin does not run on.
        let beat = Thread {
            let interval = max(10, Int(heartbeatMs))
            while true {
                socket.write(FrameWriter(.heartbeat).finishing())
                usleep(UInt32(interval) * 1000)
            }
        }
        beat.stackSize = 256 << 10
        beat.start()

        /// Hands the batch in `frame` (a frame read from the socket, or a shared slot) to the instance; its results go
        /// back under the daemon's batch id.
        func send(_ frame: UnsafeMutableRawBufferPointer, owned: Bool) {
            let arena: BatchArena
            do {
                arena = try BatchArena(frame: frame, owned: owned)
            } catch {
                logger.error("sink host: batch does not parse: \(error)")
                _exit(exitProtocolError)
            }
            let id = arena.frameBatchId
            instance.send(arena: arena, count: arena.count, timeout: nil) { results in
                socket.write(resultsFrame(id, results, instance.diagnostics))
            }
        }

        while true {
            switch socket.next(maxBytes: maxDaemonFrameBytes) {
            case .end:
                // The daemon is gone (or closed its end after a stop): nothing may outlive it.
                _exit(exitDaemonGone)
            case .invalid(let why):
                logger.error("sink host: \(why)")
                _exit(exitProtocolError)
            case .frame(let kind, let payload):
                switch kind {
                case .batch:
                    send(payload, owned: true)
                case .sharedBatch:
                    var r = FrameReader(UnsafeRawBufferPointer(payload))
                    let slot = (try? r.u32()).map(Int.init) ?? -1
                    let length = (try? r.u32()).map(Int.init) ?? -1
                    payload.deallocate()
                    guard let shared, slot >= 0, slot < Int(slotCount), length >= 0, length <= Int(slotSize) else {
                        logger.error("sink host: shared batch frame out of bounds (slot \(slot), \(length) bytes)")
                        _exit(exitProtocolError)
                    }
                    send(UnsafeMutableRawBufferPointer(start: shared + slot * Int(slotSize), count: length), owned: false)
                case .flush:
                    var r = FrameReader(UnsafeRawBufferPointer(payload))
                    let timeout = (try? r.u32()) ?? 0
                    payload.deallocate()
                    Thread {
                        let ok = instance.flush(timeoutMs: timeout)
                        var w = FrameWriter(.flushed)
                        w.u8(ok ? 1 : 0)
                        socket.write(w.finish())
                    }.start()
                case .stop:
                    var r = FrameReader(UnsafeRawBufferPointer(payload))
                    let deadline = (try? r.u32()) ?? 5000
                    let linger = (try? r.u32()) ?? 0
                    payload.deallocate()
                    Thread {
                        instance.stop(deadlineMs: deadline)
                        instance.destroy()
                        if linger > 0 { usleep(min(linger, 10_000) * 1000) }
                        var w = FrameWriter(.stopped)
                        instance.diagnostics.write(to: &w)
                        socket.write(w.finish())
                        _exit(0)
                    }.start()
                default:
                    payload.deallocate()
                    logger.error("sink host: unexpected \(kind) frame from the daemon")
                    _exit(exitProtocolError)
                }
            }
        }
    }

    static func resultsFrame(_ id: UInt64, _ results: [MessageResult], _ diagnostics: SinkDiagnostics) -> [UInt8] {
        var w = FrameWriter(.results, capacity: 32 + results.count * 16)
        w.u64(id)
        w.u32(UInt32(results.count))
        // The usual answer, every message OK without a text, in one byte.
        let allOK = results.allSatisfy { $0.status == .ok && $0.error == nil && $0.retryAfterMs == 0 }
        w.u8(allOK ? 1 : 0)
        for r in results where !allOK {
            w.u32(UInt32(bitPattern: r.status.rawValue))
            w.u32(r.retryAfterMs)
            if let e = r.error {
                w.u8(1)
                w.string(e, max: maxCrossingText)
            } else {
                w.u8(0)
            }
        }
        diagnostics.write(to: &w)
        return w.finish()
    }
}

extension FrameWriter {
    /// A frame without payload.
    consuming func finishing() -> [UInt8] { finish() }
}

/// Sends the child's log lines to the daemon, which logs them under the destination's logger.
struct ChannelLogHandler: LogHandler {
    let socket: FrameSocket
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var w = FrameWriter(.log)
        w.u8(UInt8(Logger.Level.allCases.firstIndex(of: event.level) ?? 6))
        w.string("\(event.message)", max: 8 * maxCrossingText)
        socket.write(w.finish())
    }
}
