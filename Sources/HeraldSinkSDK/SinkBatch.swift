import CHeraldSink

/// A batch as the host lent it: valid until the batch is completed.
public struct SinkBatch: @unchecked Sendable {
    let raw: UnsafePointer<herald_sink_batch>

    /// The destination's name (queue, topic…).
    public var destination: String {
        bytesToString(raw.pointee.destination, raw.pointee.destination_len)
    }

    public var count: Int { raw.pointee.message_count }

    /// The destination asked for per-key order (`ordering: perEntity`): use keys as ordering keys / session ids.
    public var isOrdered: Bool {
        raw.pointee.struct_size >= MemoryLayout<herald_sink_batch>.size
            && raw.pointee.flags & UInt32(HERALD_SINK_BATCH_ORDERED) != 0
    }

    public subscript(index: Int) -> SinkMessage {
        precondition(index >= 0 && index < count, "message index out of range")
        return SinkMessage(raw: raw.pointee.messages + index)
    }

    public var messages: [SinkMessage] { (0..<count).map { self[$0] } }
}

/// One message of a batch; the byte views are borrowed from the host.
public struct SinkMessage: @unchecked Sendable {
    let raw: UnsafePointer<herald_sink_message>

    public var id: String { bytesToString(raw.pointee.id, raw.pointee.id_len) }
    public var key: String { bytesToString(raw.pointee.key, raw.pointee.key_len) }
    public var attempt: UInt32 { raw.pointee.attempt }
    public var body: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.pointee.body, count: raw.pointee.body_len)
    }
    public var bodyBytes: [UInt8] { Array(body) }
    public var bodyString: String { String(decoding: body, as: UTF8.self) }
    public var idBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: raw.pointee.id, count: raw.pointee.id_len) }
    public var keyBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: raw.pointee.key, count: raw.pointee.key_len)
    }

    public var headers: [(name: String, value: String)] {
        (0..<raw.pointee.header_count).map { i in
            let h = raw.pointee.headers[i]
            return (bytesToString(h.name, h.name_len), bytesToString(h.value, h.value_len))
        }
    }

    /// The headers as borrowed bytes, for hot paths that pass them on without making `String`s.
    public var headerCount: Int { raw.pointee.header_count }
    public func headerName(_ i: Int) -> UnsafeRawBufferPointer {
        let h = raw.pointee.headers[i]
        return UnsafeRawBufferPointer(start: h.name, count: h.name_len)
    }
    public func headerValue(_ i: Int) -> UnsafeRawBufferPointer {
        let h = raw.pointee.headers[i]
        return UnsafeRawBufferPointer(start: h.value, count: h.value_len)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }
}

func bytesToString(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
    guard let pointer, length > 0 else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}
