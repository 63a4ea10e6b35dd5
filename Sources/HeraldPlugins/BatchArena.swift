import CHeraldSink
import HeraldModel

/// The C memory of one batch: every message, header and string in one allocation, plus the
/// message and header arrays. Owned by the host until the plugin completes the batch.
final class BatchArena: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    let messages: UnsafeMutablePointer<herald_sink_message>
    let headers: UnsafeMutablePointer<herald_sink_header>
    let batchPointer: UnsafeMutablePointer<herald_sink_batch>
    private let messageCount: Int
    private let headerCount: Int
    private var freed = false

    var batch: UnsafePointer<herald_sink_batch> { UnsafePointer(batchPointer) }

    init(batchId: UInt64, destination: String, ordered: Bool, messages input: [OutboundMessage]) {
        var total = destination.utf8.count
        var headerTotal = 0
        for m in input {
            total += m.message.id.utf8.count + m.message.key.utf8.count + m.message.body.count
            for h in m.message.headers { total += h.name.utf8.count + h.value.utf8.count }
            headerTotal += m.message.headers.count
        }
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, total), alignment: 8)
        messages = UnsafeMutablePointer<herald_sink_message>.allocate(capacity: max(1, input.count))
        headers = UnsafeMutablePointer<herald_sink_header>.allocate(capacity: max(1, headerTotal))
        batchPointer = UnsafeMutablePointer<herald_sink_batch>.allocate(capacity: 1)
        messageCount = input.count
        headerCount = headerTotal

        var offset = 0
        func copy(_ string: String) -> (UnsafePointer<CChar>, Int) {
            var s = string
            return s.withUTF8 { utf8 in
                let start = bytes + offset
                if utf8.count > 0 { start.copyMemory(from: utf8.baseAddress!, byteCount: utf8.count) }
                offset += utf8.count
                return (UnsafePointer(start.assumingMemoryBound(to: CChar.self)), utf8.count)
            }
        }
        let (destinationPointer, destinationLength) = copy(destination)
        var headerIndex = 0
        for (i, m) in input.enumerated() {
            let (idPointer, idLength) = copy(m.message.id)
            let (keyPointer, keyLength) = copy(m.message.key)
            let bodyStart = bytes + offset
            m.message.body.withUnsafeBytes { raw in
                if raw.count > 0 { bodyStart.copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            }
            offset += m.message.body.count
            let firstHeader = headerIndex
            for h in m.message.headers {
                let (namePointer, nameLength) = copy(h.name)
                let (valuePointer, valueLength) = copy(h.value)
                (headers + headerIndex).initialize(
                    to: herald_sink_header(name: namePointer, name_len: nameLength, value: valuePointer, value_len: valueLength))
                headerIndex += 1
            }
            (messages + i).initialize(
                to: herald_sink_message(
                    struct_size: MemoryLayout<herald_sink_message>.size, id: idPointer, id_len: idLength, key: keyPointer,
                    key_len: keyLength, body: UnsafePointer(bodyStart.assumingMemoryBound(to: UInt8.self)),
                    body_len: m.message.body.count, headers: UnsafePointer(headers + firstHeader),
                    header_count: m.message.headers.count, attempt: m.attempt))
        }
        batchPointer.initialize(
            to: herald_sink_batch(
                struct_size: MemoryLayout<herald_sink_batch>.size, batch_id: batchId, destination: destinationPointer,
                destination_len: destinationLength, messages: UnsafePointer(messages), message_count: input.count,
                flags: ordered ? UInt32(HERALD_SINK_BATCH_ORDERED) : 0))
    }

    /// Releases the memory; safe to call more than once.
    func free() {
        if freed { return }
        freed = true
        messages.deinitialize(count: messageCount)
        headers.deinitialize(count: headerCount)
        batchPointer.deinitialize(count: 1)
        messages.deallocate()
        headers.deallocate()
        batchPointer.deallocate()
        bytes.deallocate()
    }
}
