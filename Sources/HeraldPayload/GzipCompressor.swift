import CZlib

/// gzip with one reused `z_stream` (a new stream per message measured 5× slower).
///
/// Not thread-safe: one compressor per worker.
public final class GzipCompressor {
    private var stream = z_stream()
    private var output: [UInt8] = []
    public let level: Int32

    /// - Parameter level: 1 (fastest, the default) … 9 (smallest).
    public init(level: Int32 = 1) {
        self.level = level
        let status = herald_deflate_init_gzip(&stream, level)
        precondition(status == Z_OK, "deflateInit2 failed: \(status)")
    }

    deinit {
        deflateEnd(&stream)
    }

    /// The gzip member for `input`.
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        withCompressed(input) { Array($0) }
    }

    /// Calls `body` with the gzip member for `input`, in the compressor's buffer (valid only during
    /// the call): for callers that transform it anyway (base64) and need no copy of it.
    public func withCompressed<R>(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        deflateReset(&stream)
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 32
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let produced: Int = output.withUnsafeMutableBufferPointer { out in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = out.baseAddress
            stream.avail_out = uInt(out.count)
            let status = deflate(&stream, Z_FINISH)
            precondition(status == Z_STREAM_END, "deflate did not finish: \(status)")
            return out.count - Int(stream.avail_out)
        }
        return output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
    }

    public func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// Decompresses a gzip member (tests and `herald` tooling).
    public static func decompress(_ input: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard herald_inflate_init_gzip(&stream) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        return input.withUnsafeBufferPointer { inBuffer -> [UInt8]? in
            stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress)
            stream.avail_in = uInt(inBuffer.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { c -> (Int32, Int) in
                    stream.next_out = c.baseAddress
                    stream.avail_out = uInt(c.count)
                    let s = inflate(&stream, Z_NO_FLUSH)
                    return (s, c.count - Int(stream.avail_out))
                }
                out.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return out }
                if status != Z_OK { return nil }
            }
        }
    }
}
