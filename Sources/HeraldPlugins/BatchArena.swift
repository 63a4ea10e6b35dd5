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
    /// Whether `bytes` is this arena's allocation (false: a frame in memory shared with the daemon).
    private var ownsBytes = true

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

        var w = RawWriter(bytes)
        let (destinationPointer, destinationLength) = w.text(destination)
        var headerIndex = 0
        input.withUnsafeBufferPointer { all in
            for i in all.indices {
                let (idPointer, idLength) = w.text(all[i].message.id)
                let (keyPointer, keyLength) = w.text(all[i].message.key)
                let (bodyStart, bodyLength) = w.bytes(all[i].message.body)
                let firstHeader = headerIndex
                for h in all[i].message.headers {
                    let (namePointer, nameLength) = w.text(h.name)
                    let (valuePointer, valueLength) = w.text(h.value)
                    (headers + headerIndex).initialize(
                        to: herald_sink_header(name: namePointer, name_len: nameLength, value: valuePointer, value_len: valueLength))
                    headerIndex += 1
                }
                (messages + i).initialize(
                    to: herald_sink_message(
                        struct_size: MemoryLayout<herald_sink_message>.size, id: idPointer, id_len: idLength, key: keyPointer,
                        key_len: keyLength, body: UnsafePointer(bodyStart.assumingMemoryBound(to: UInt8.self)),
                        body_len: bodyLength, headers: UnsafePointer(headers + firstHeader),
                        header_count: all[i].message.headers.count, attempt: all[i].attempt))
            }
        }
        batchPointer.initialize(
            to: herald_sink_batch(
                struct_size: MemoryLayout<herald_sink_batch>.size, batch_id: batchId, destination: destinationPointer,
                destination_len: destinationLength, messages: UnsafePointer(messages), message_count: input.count,
                flags: ordered ? UInt32(HERALD_SINK_BATCH_ORDERED) : 0))
    }

    /// The daemon's id of a batch read from a frame (the instance gives the plugin its own).
    private(set) var frameBatchId: UInt64 = 0
    var count: Int { messageCount }

    /// A batch from a `batch` frame (`herald sink-host`): the plugin's pointers point into the frame's bytes. With
    /// `owned` the arena owns them from here on (freed with it; also when the frame does not parse); without, they
    /// are a slot of the memory the daemon shares, which the daemon reuses once the batch's results arrive.
    init(frame: UnsafeMutableRawBufferPointer, owned: Bool = true) throws(FrameError) {
        // First pass: counts, and every length checked against the frame.
        var r = FrameReader(UnsafeRawBufferPointer(frame))
        var messageTotal = 0
        var headerTotal = 0
        do throws(FrameError) {
            _ = try r.u64()
            _ = try r.u32()
            _ = try r.raw()
            messageTotal = Int(try r.u32())
            guard messageTotal <= frame.count / 16 else { throw FrameError(description: "\(messageTotal) messages cannot fit") }
            for _ in 0..<messageTotal {
                _ = try r.u32()
                _ = try r.raw()
                _ = try r.raw()
                _ = try r.raw()
                let headers = Int(try r.u32())
                guard headers <= frame.count / 8 else { throw FrameError(description: "\(headers) headers cannot fit") }
                for _ in 0..<headers {
                    _ = try r.raw()
                    _ = try r.raw()
                }
                headerTotal += headers
            }
        } catch {
            if owned { frame.deallocate() }
            throw error
        }
        ownsBytes = owned || frame.baseAddress == nil
        bytes = frame.baseAddress ?? UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8)
        messages = UnsafeMutablePointer<herald_sink_message>.allocate(capacity: max(1, messageTotal))
        headers = UnsafeMutablePointer<herald_sink_header>.allocate(capacity: max(1, headerTotal))
        batchPointer = UnsafeMutablePointer<herald_sink_batch>.allocate(capacity: 1)
        messageCount = messageTotal
        headerCount = headerTotal

        // Second pass: the plugin's structs, pointing into the frame (cannot fail: the first pass read it all).
        r = FrameReader(UnsafeRawBufferPointer(frame))
        func text(_ b: UnsafeRawBufferPointer) -> UnsafePointer<CChar> {
            UnsafePointer((b.baseAddress ?? UnsafeRawPointer(bytes)).assumingMemoryBound(to: CChar.self))
        }
        frameBatchId = try! r.u64()
        let flags = try! r.u32()
        let destination = try! r.raw()
        _ = try! r.u32()
        var headerIndex = 0
        for i in 0..<messageTotal {
            let attempt = try! r.u32()
            let id = try! r.raw()
            let key = try! r.raw()
            let body = try! r.raw()
            let count = Int(try! r.u32())
            let first = headerIndex
            for _ in 0..<count {
                let name = try! r.raw()
                let value = try! r.raw()
                (headers + headerIndex).initialize(
                    to: herald_sink_header(name: text(name), name_len: name.count, value: text(value), value_len: value.count))
                headerIndex += 1
            }
            (messages + i).initialize(
                to: herald_sink_message(
                    struct_size: MemoryLayout<herald_sink_message>.size, id: text(id), id_len: id.count, key: text(key),
                    key_len: key.count,
                    body: UnsafePointer((body.baseAddress ?? UnsafeRawPointer(bytes)).assumingMemoryBound(to: UInt8.self)),
                    body_len: body.count, headers: UnsafePointer(headers + first), header_count: count, attempt: attempt))
        }
        batchPointer.initialize(
            to: herald_sink_batch(
                struct_size: MemoryLayout<herald_sink_batch>.size, batch_id: 0, destination: text(destination),
                destination_len: destination.count, messages: UnsafePointer(messages), message_count: messageTotal,
                flags: flags & UInt32(HERALD_SINK_BATCH_ORDERED)))
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
        if ownsBytes { bytes.deallocate() }
    }
}

/// Writes values one after another at a raw pointer (no bounds: the caller sized the memory). A struct with mutating
/// methods rather than local functions over a captured offset, which cost a dynamic exclusivity check per call.
struct RawWriter {
    var p: UnsafeMutableRawPointer

    init(_ p: UnsafeMutableRawPointer) { self.p = p }

    mutating func u32(_ v: UInt32) {
        p.storeBytes(of: v.littleEndian, as: UInt32.self)
        p += 4
    }

    mutating func u64(_ v: UInt64) {
        p.storeBytes(of: v.littleEndian, as: UInt64.self)
        p += 8
    }

    /// Copies the UTF-8 of `s`; returns where it starts and its length.
    @discardableResult
    mutating func text(_ s: String) -> (UnsafePointer<CChar>, Int) {
        let start = p
        let n = s.utf8.count
        if n > 0,
            s.utf8.withContiguousStorageIfAvailable({ p.copyMemory(from: $0.baseAddress!, byteCount: n) }) == nil
        {
            var copy = s
            copy.withUTF8 { p.copyMemory(from: $0.baseAddress!, byteCount: n) }
        }
        p += n
        return (UnsafePointer(start.assumingMemoryBound(to: CChar.self)), n)
    }

    /// Copies `b`; returns where it starts and its length.
    @discardableResult
    mutating func bytes(_ b: [UInt8]) -> (UnsafeMutableRawPointer, Int) {
        let start = p
        b.withUnsafeBytes { raw in
            if raw.count > 0 { p.copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
        }
        p += b.count
        return (start, b.count)
    }
}
