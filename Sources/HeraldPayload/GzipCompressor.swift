import CLibDeflate

/// gzip with libdeflate: one reused compressor and output buffer per instance.
///
/// libdeflate compresses a whole buffer in one call (no stream to reset), which is what a message body
/// is. On the benchmark's 9 KB bodies its level 1 takes about half the time of zlib's level 1 and
/// its output is 4% smaller; level 2 is up to 3% smaller again but costs 15–24% of the ZIP renders'
/// throughput (docs/performance.md). The output is a standard gzip member (RFC 1952) that zlib's inflate,
/// Python's `gzip` and `gunzip` read.
///
/// Not thread-safe: one compressor per worker.
public final class GzipCompressor {
    private let compressor: OpaquePointer
    private var output: [UInt8] = []
    public let level: Int32

    /// - Parameter level: 1 (fastest, the default) … 12 (smallest), libdeflate's scale.
    public init(level: Int32 = 1) {
        self.level = level
        guard let compressor = libdeflate_alloc_compressor(level) else {
            preconditionFailure("libdeflate_alloc_compressor(\(level)) failed: level out of 0…12 or out of memory")
        }
        self.compressor = compressor
    }

    deinit {
        libdeflate_free_compressor(compressor)
    }

    /// The gzip member for `input`.
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        withCompressed(input) { Array($0) }
    }

    /// Calls `body` with the gzip member for `input`, in the compressor's buffer (valid only during
    /// the call): for callers that transform it anyway (base64) and need no copy of it.
    public func withCompressed<R>(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let bound = libdeflate_gzip_compress_bound(compressor, input.count)
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let produced = output.withUnsafeMutableBytes { out in
            libdeflate_gzip_compress(compressor, input.baseAddress, input.count, out.baseAddress, out.count)
        }
        // Only 0 when the output does not fit, and the buffer holds the bound.
        precondition(produced > 0, "libdeflate_gzip_compress: \(input.count) bytes did not fit in their bound \(bound)")
        return output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
    }

    public func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }
}
