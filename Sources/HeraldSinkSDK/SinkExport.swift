#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHeraldSink

/// Builds the C descriptor of a Swift plugin and routes C calls to it.
public enum SinkExport {
    /// The plugin type of this library (one per .so: the SDK is linked into each plugin).
    nonisolated(unsafe) static var pluginType: (any SinkPlugin.Type)?
    nonisolated(unsafe) static var descriptorStorage: UnsafeMutablePointer<herald_sink_descriptor>?
    nonisolated(unsafe) static var strings: [UnsafeMutablePointer<CChar>] = []

    /// Returns the static descriptor for `type` (created on first call; never freed).
    public static func descriptor<P: SinkPlugin>(for type: P.Type) -> UnsafeRawPointer {
        if let existing = descriptorStorage { return UnsafeRawPointer(existing) }
        pluginType = type
        func keep(_ s: String?) -> UnsafePointer<CChar>? {
            guard let s else { return nil }
            let p = strdup(s)!
            strings.append(p)
            return UnsafePointer(p)
        }
        let d = UnsafeMutablePointer<herald_sink_descriptor>.allocate(capacity: 1)
        d.initialize(
            to: herald_sink_descriptor(
                magic: HERALD_SINK_MAGIC, struct_size: UInt32(MemoryLayout<herald_sink_descriptor>.size),
                abi_major: UInt16(HERALD_SINK_ABI_MAJOR), abi_minor: UInt16(HERALD_SINK_ABI_MINOR),
                name: keep(type.name), version: keep(type.version), description: keep(type.summary),
                config_schema: keep(type.configSchema), capabilities: type.capabilities.rawValue,
                on_validate_config: sdkValidate, on_create: sdkCreate, on_get_limits: sdkLimits, on_start: sdkStart,
                on_send_batch: sdkSend, on_flush: type.capabilities.contains(.flush) ? sdkFlush : nil, on_stop: sdkStop,
                on_destroy: sdkDestroy))
        descriptorStorage = d
        return UnsafeRawPointer(d)
    }
}

/// What the SDK keeps per instance behind the opaque `herald_sink_instance *`.
final class InstanceBox {
    let plugin: any SinkPlugin
    let api: UnsafePointer<herald_sink_host_api>

    init(plugin: any SinkPlugin, api: UnsafePointer<herald_sink_host_api>) {
        self.plugin = plugin
        self.api = api
    }
}

private func box(_ instance: OpaquePointer?) -> InstanceBox {
    Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance!)).takeUnretainedValue()
}

private func writeError(_ message: String, _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int) {
    guard let buffer, size > 0 else { return }
    let bytes = Array(message.utf8.prefix(size - 1))
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

private func configString(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
    guard let pointer else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}

private func describe(_ error: any Error) -> String {
    if let e = error as? SinkError { return e.message }
    return String(describing: error)
}

private let sdkValidate: @convention(c) (UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, Int) -> Int32 = {
    config, length, errorBuffer, size in
    do {
        try SinkExport.pluginType!.validate(config: configString(config, length))
        return 0
    } catch {
        writeError(describe(error), errorBuffer, size)
        return 1
    }
}

private let sdkCreate:
    @convention(c) (
        UnsafePointer<herald_sink_host_api>?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<CChar>?, Int
    ) -> OpaquePointer? = { api, config, length, errorBuffer, size in
        guard let api else {
            writeError("no host table", errorBuffer, size)
            return nil
        }
        do {
            let plugin = try SinkExport.pluginType!.init(config: configString(config, length), host: SinkHost(api: api))
            let box = InstanceBox(plugin: plugin, api: api)
            return OpaquePointer(Unmanaged.passRetained(box).toOpaque())
        } catch {
            writeError(describe(error), errorBuffer, size)
            return nil
        }
    }

/// herald_sink_limits up to `max_in_flight` (ABI 1.0), and up to `flags` (1.1).
private let limitsSize10 = MemoryLayout<herald_sink_limits>.offset(of: \herald_sink_limits.flags)!
private let limitsSize11 = limitsSize10 + MemoryLayout<UInt32>.size

private let sdkLimits: @convention(c) (OpaquePointer?, UnsafeMutablePointer<herald_sink_limits>?) -> Void = {
    instance, out in
    guard let out else { return }
    let l = box(instance).plugin.limits
    // The fields of each ABI minor only if the host's struct has them (fields are only ever appended).
    let size = out.pointee.struct_size
    if size >= limitsSize10 {
        out.pointee.max_message_bytes = l.maxMessageBytes
        out.pointee.max_batch_messages = l.maxBatchMessages
        out.pointee.max_batch_bytes = l.maxBatchBytes
        out.pointee.max_in_flight = l.maxInFlight
    }
    if size >= limitsSize11 { out.pointee.flags = l.requiresKeyOrder ? UInt32(HERALD_SINK_LIMIT_KEY_ORDER) : 0 }
}

private let sdkStart: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int) -> Int32 = {
    instance, errorBuffer, size in
    do {
        try box(instance).plugin.start()
        return 0
    } catch {
        writeError(describe(error), errorBuffer, size)
        return 1
    }
}

private let sdkSend: @convention(c) (OpaquePointer?, UnsafePointer<herald_sink_batch>?) -> Void = { instance, batch in
    guard let batch else { return }
    let b = box(instance)
    let completion = SinkCompletion(api: b.api, batchId: batch.pointee.batch_id, count: batch.pointee.message_count)
    do {
        try b.plugin.send(SinkBatch(raw: batch), completion: completion)
    } catch {
        let status = (error as? SinkError)?.status ?? .retry
        completion.completeAll(SinkResult(status, error: describe(error)))
    }
}

private let sdkFlush: @convention(c) (OpaquePointer?, UInt32) -> Int32 = { instance, timeout in
    box(instance).plugin.flush(timeoutMs: timeout) ? 0 : 1
}

private let sdkStop: @convention(c) (OpaquePointer?, UInt32) -> Void = { instance, deadline in
    box(instance).plugin.stop(deadlineMs: deadline)
}

private let sdkDestroy: @convention(c) (OpaquePointer?) -> Void = { instance in
    guard let instance else { return }
    box(instance).plugin.destroy()
    Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).release()
}
