import Foundation
import Synchronization

/// The frames the daemon and `herald sink-host` exchange over their Unix socket (decision 0013).
///
/// A frame is an 8-byte header, the payload's length and the frame's kind (both 32-bit little-endian), then
/// the payload: fixed-size integers little-endian, byte strings as a 32-bit length and the bytes. The daemon
/// trusts nothing the child sends: every frame is bounded (`maxChildFrameBytes`) and every read is checked, and
/// a frame that does not parse ends the child as a protocol fault.
enum SinkHostFrame: UInt32 {
    // Daemon → child.
    /// Library path, SHA-256, plugin name, alias, destination name, configuration, log level, heartbeat interval.
    case hello = 1
    /// Batch id, flags, destination, messages (attempt, id, key, body, headers).
    case batch = 2
    /// Timeout in ms.
    case flush = 3
    /// Deadline in ms: stop and destroy the instance, answer `stopped`, exit.
    case stop = 4
    /// A batch written into a slot of the shared memory: slot, length.
    case sharedBatch = 5

    // Child → daemon.
    /// Plugin version, capabilities, limits.
    case ready = 101
    /// Error code and message: the plugin did not load, create or start.
    case failed = 102
    /// Batch id, results, and the instance's diagnostics.
    case results = 103
    case log = 104
    case metric = 105
    case health = 106
    case heartbeat = 107
    case flushed = 108
    /// Diagnostics after on_stop and on_destroy returned.
    case stopped = 109
}

/// The most the daemon reads in one frame from a child (results of a batch of at most 100,000 messages with
/// error texts cut at 4 KiB each would not fit, so error texts are cut to 1 KiB by the child).
let maxChildFrameBytes = 64 << 20
/// The most a child reads in one frame from the daemon: a batch is at most the destination's `batch.maxBytes`
/// plus its framing, which the configuration bounds far below this.
let maxDaemonFrameBytes = 1 << 30
/// Error texts and log lines crossing the socket are cut to this many bytes.
let maxCrossingText = 1 << 10

struct FrameWriter {
    var bytes: [UInt8]

    init(_ kind: SinkHostFrame, capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity + 8)
        bytes.append(contentsOf: [0, 0, 0, 0])
        u32(kind.rawValue)
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func raw(_ v: UnsafeRawBufferPointer) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    mutating func string(_ v: String, max: Int = Int(UInt32.max)) {
        var v = v
        v.withUTF8 { utf8 in raw(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8).prefix(max))) }
    }
    mutating func bytes(_ v: [UInt8]) { v.withUnsafeBytes { raw($0) } }

    /// The frame with its length filled in.
    mutating func finish() -> [UInt8] {
        let length = UInt32(bytes.count - 8).littleEndian
        withUnsafeBytes(of: length) { l in
            for i in 0..<4 { bytes[i] = l[i] }
        }
        return bytes
    }
}

struct FrameError: Error, CustomStringConvertible {
    var description: String
}

/// Reads a payload; every read is bounds-checked.
struct FrameReader {
    let base: UnsafeRawBufferPointer
    var offset = 0

    init(_ base: UnsafeRawBufferPointer) { self.base = base }

    var atEnd: Bool { offset == base.count }

    mutating func take(_ n: Int) throws(FrameError) -> UnsafeRawBufferPointer {
        guard n >= 0, n <= base.count - offset else {
            throw FrameError(description: "frame ends after \(base.count) bytes, \(n) more wanted at offset \(offset)")
        }
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: base[offset..<(offset + n)])
    }
    mutating func u8() throws(FrameError) -> UInt8 { try take(1)[0] }
    mutating func u32() throws(FrameError) -> UInt32 { UInt32(littleEndian: try take(4).loadUnaligned(as: UInt32.self)) }
    mutating func u64() throws(FrameError) -> UInt64 { UInt64(littleEndian: try take(8).loadUnaligned(as: UInt64.self)) }
    mutating func f64() throws(FrameError) -> Double { Double(bitPattern: try u64()) }
    mutating func raw() throws(FrameError) -> UnsafeRawBufferPointer { try take(Int(try u32())) }
    mutating func string() throws(FrameError) -> String { String(decoding: try raw(), as: UTF8.self) }
    /// A string cut to `max` bytes: what a child sends is kept no longer than the daemon needs it.
    mutating func string(max: Int) throws(FrameError) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: try raw().prefix(max)), as: UTF8.self)
    }
}

/// A blocking, whole-frame socket reader and writer over one file descriptor, which it owns when `owned` (closed
/// with the last reference: a write still queued keeps the descriptor, so it can never reach a number reused since).
final class FrameSocket: @unchecked Sendable {
    let fd: Int32
    private let owned: Bool
    private let writeLock = NSLock()

    init(fd: Int32, owned: Bool = false) {
        self.fd = fd
        self.owned = owned
    }

    deinit {
        if owned { close(fd) }
    }

    /// Writes every byte (MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE). False when the peer is gone.
    @discardableResult
    func write(_ frame: [UInt8]) -> Bool {
        writeLock.lock()
        defer { writeLock.unlock() }
        return frame.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// Reads exactly `count` bytes into `into`. False at end of stream or on an error.
    func readFully(_ into: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let n = Glibc.read(fd, into + offset, count - offset)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    enum Incoming {
        case frame(SinkHostFrame, UnsafeMutableRawBufferPointer)
        case end
        case invalid(String)
    }

    /// The next frame; its payload is a fresh allocation the caller owns (deallocate it, or hand it on).
    func next(maxBytes: Int) -> Incoming {
        var header = (UInt32(0), UInt32(0))
        guard withUnsafeMutableBytes(of: &header, { readFully($0.baseAddress!, 8) }) else { return .end }
        let length = Int(UInt32(littleEndian: header.0))
        guard let kind = SinkHostFrame(rawValue: UInt32(littleEndian: header.1)) else {
            return .invalid("unknown frame kind \(UInt32(littleEndian: header.1))")
        }
        guard length <= maxBytes else { return .invalid("\(kind) frame of \(length) bytes is over the \(maxBytes) allowed") }
        let payload = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, length), alignment: 8)
        guard readFully(payload.baseAddress!, length) else {
            payload.deallocate()
            return .end
        }
        return .frame(kind, UnsafeMutableRawBufferPointer(rebasing: payload[0..<length]))
    }
}

extension SinkLimits {
    func write(to w: inout FrameWriter) {
        w.u64(UInt64(maxMessageBytes))
        w.u32(UInt32(clamping: maxBatchMessages))
        w.u64(UInt64(maxBatchBytes))
        w.u32(UInt32(clamping: maxInFlight))
        w.u8(requiresKeyOrder ? 1 : 0)
    }

    static func read(from r: inout FrameReader) throws(FrameError) -> SinkLimits {
        let maxMessage = Int(clamping: try r.u64())
        let maxMessages = Int(try r.u32())
        let maxBytes = Int(clamping: try r.u64())
        let inFlight = Int(try r.u32())
        let keyOrder = try r.u8() != 0
        return SinkLimits(
            maxMessageBytes: maxMessage, maxBatchMessages: max(1, maxMessages), maxBatchBytes: maxBytes,
            maxInFlight: max(1, min(inFlight, 1024)), requiresKeyOrder: keyOrder)
    }
}

extension SinkDiagnostics {
    func write(to w: inout FrameWriter) {
        for v in [
            unknownCompletions, resultCountMismatches, completionsAfterStop, completedInsideSend, completedAfterSendReturned,
            completedOnOtherThread,
        ] {
            w.u32(UInt32(clamping: v))
        }
    }

    static func read(from r: inout FrameReader) throws(FrameError) -> SinkDiagnostics {
        var d = SinkDiagnostics()
        d.unknownCompletions = Int(try r.u32())
        d.resultCountMismatches = Int(try r.u32())
        d.completionsAfterStop = Int(try r.u32())
        d.completedInsideSend = Int(try r.u32())
        d.completedAfterSendReturned = Int(try r.u32())
        d.completedOnOtherThread = Int(try r.u32())
        return d
    }
}

/// A batch's frame: encoded straight into memory (a shared slot or a socket frame), the same bytes an arena holds,
/// in the order `BatchArena(frame:)` reads them back.
struct BatchEncoding {
    let batchId: UInt64
    let destination: String
    let ordered: Bool
    let messages: [OutboundMessage]
    /// The payload's size (without the 8-byte frame header).
    let size: Int

    init(batchId: UInt64, destination: String, ordered: Bool, messages: [OutboundMessage]) {
        self.batchId = batchId
        self.destination = destination
        self.ordered = ordered
        self.messages = messages
        var total = 8 + 4 + 4 + destination.utf8.count + 4
        messages.withUnsafeBufferPointer { all in
            for i in all.indices {
                total += 4 + 4 + all[i].message.id.utf8.count + 4 + all[i].message.key.utf8.count + 4 + all[i].message.body.count + 4
                for h in all[i].message.headers { total += 8 + h.name.utf8.count + h.value.utf8.count }
            }
        }
        size = total
    }

    /// Writes the payload at `base`, which has room for `size` bytes.
    func write(to base: UnsafeMutableRawPointer) {
        var w = RawWriter(base)
        w.u64(batchId)
        w.u32(ordered ? 1 : 0)
        w.u32(UInt32(destination.utf8.count))
        w.text(destination)
        w.u32(UInt32(messages.count))
        messages.withUnsafeBufferPointer { all in
            for i in all.indices {
                w.u32(all[i].attempt)
                w.u32(UInt32(all[i].message.id.utf8.count))
                w.text(all[i].message.id)
                w.u32(UInt32(all[i].message.key.utf8.count))
                w.text(all[i].message.key)
                w.u32(UInt32(all[i].message.body.count))
                w.bytes(all[i].message.body)
                w.u32(UInt32(all[i].message.headers.count))
                for h in all[i].message.headers {
                    w.u32(UInt32(h.name.utf8.count))
                    w.text(h.name)
                    w.u32(UInt32(h.value.utf8.count))
                    w.text(h.value)
                }
            }
        }
        assert(w.p - base == size)
    }

    /// The whole socket frame: header and payload.
    func frame() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: 8 + size) { buffer, count in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            base.storeBytes(of: UInt32(size).littleEndian, as: UInt32.self)
            (base + 4).storeBytes(of: SinkHostFrame.batch.rawValue.littleEndian, as: UInt32.self)
            write(to: base + 8)
            count = 8 + size
        }
    }
}

/// Memory shared with one child for batches (a memfd the child maps read-only as fd 4): `count` slots of `slotSize`
/// bytes. A batch that fits is encoded into a free slot once, and the child's plugin reads it there: the socket then
/// carries 16 bytes instead of the batch, which saves the kernel's copy in and out and the child's allocation. The
/// slot is free again when the batch's results arrive (the plugin may not touch a batch after completing it) or
/// with the child. The daemon only writes this memory, never reads it: what a child writes there reaches nothing.
final class SharedBatchSlots: @unchecked Sendable {
    let fd: Int32
    let base: UnsafeMutableRawPointer
    let slotSize: Int
    let count: Int
    private let free: Mutex<[Int]>

    init?(count: Int, slotSize: Int) {
        guard let create = memfdCreate else { return nil }
        var fd = create("herald-sink-batches", UInt32(1))  // MFD_CLOEXEC
        guard fd >= 0 else { return nil }
        if fd < 5 {
            // Not one of the numbers the child gets (3: the socket, 4: this), which spawning would overwrite.
            let high = fcntl(fd, F_DUPFD_CLOEXEC, 10)
            close(fd)
            guard high >= 0 else { return nil }
            fd = high
        }
        guard ftruncate(fd, off_t(count * slotSize)) == 0,
            let mapped = mmap(nil, count * slotSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED
        else {
            close(fd)
            return nil
        }
        self.fd = fd
        base = mapped
        self.slotSize = slotSize
        self.count = count
        free = Mutex(Array((0..<count).reversed()))
    }

    func take() -> Int? { free.withLock { $0.popLast() } }
    func give(_ slot: Int) { free.withLock { $0.append(slot) } }
    func address(_ slot: Int) -> UnsafeMutableRawPointer { base + slot * slotSize }

    deinit {
        munmap(base, count * slotSize)
        close(fd)
    }
}

private typealias MemfdCreate = @convention(c) (UnsafePointer<CChar>, UInt32) -> Int32
private let memfdCreate: MemfdCreate? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memfd_create").map {
    unsafeBitCast($0, to: MemfdCreate.self)
}
