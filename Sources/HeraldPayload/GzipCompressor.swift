import CIsal

/// gzip with ISA-L's igzip (Intel's Intelligent Storage Acceleration Library): one reused stream, level
/// buffer and output buffer per instance.
///
/// A message body is compressed whole, in one stateless call. On the benchmark's 9 KB bodies igzip's level 2
/// writes the same size as libdeflate's level 1 (which Herald used before, and zlib's before that) in about
/// 70% of its time, using the SIMD routines of the machine it runs on (docs/performance.md). The output is a
/// standard gzip member (RFC 1952) that zlib's inflate, Python's `gzip` and `gunzip` read.
///
/// Not thread-safe: one compressor per worker.
public final class GzipCompressor {
    /// igzip's level: 0 (fastest, largest) … 3; 2 is the default.
    public let level: UInt32
    private var stream = isal_zstream()
    private let levelBuffer: UnsafeMutablePointer<UInt8>
    private let levelBufferSize: UInt32
    private var output: [UInt8] = []
    /// A byte to point an empty input at (igzip reads no byte of it).
    private var empty: UInt8 = 0

    public init(level: UInt32 = 2) {
        precondition(level <= 3, "igzip levels are 0…3, not \(level)")
        self.level = level
        levelBufferSize = UInt32(herald_isal_level_buffer_size(level))
        levelBuffer = .allocate(capacity: Int(max(levelBufferSize, 1)))
    }

    deinit {
        levelBuffer.deallocate()
    }

    /// The gzip member for `input`.
    public func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        withCompressed(input) { Array($0) }
    }

    public func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// Calls `body` with the gzip member for `input`, in the compressor's buffer (valid only during
    /// the call): for callers that transform it anyway (base64) and need no copy of it.
    public func withCompressed<R>(_ input: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(input.count < Int(UInt32.max / 2), "gzip input of \(input.count) bytes: bodies are far smaller")
        // Room for the worst case (stored blocks, header and trailer); a larger buffer if it still overflows.
        var capacity = input.count + input.count / 8 + Int(ISAL_DEF_MAX_HDR_SIZE) + 64
        while true {
            if output.count < capacity { output = [UInt8](repeating: 0, count: capacity) }
            let (code, produced) = output.withUnsafeMutableBytes { out -> (Int32, Int) in
                withUnsafeMutablePointer(to: &empty) { emptyByte in
                    isal_deflate_stateless_init(&stream)
                    stream.gzip_flag = UInt16(IGZIP_GZIP)
                    stream.level = level
                    stream.level_buf = levelBuffer
                    stream.level_buf_size = levelBufferSize
                    stream.next_in = input.count > 0
                        ? UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self)) : emptyByte
                    stream.avail_in = UInt32(input.count)
                    stream.end_of_stream = 1
                    stream.next_out = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    stream.avail_out = UInt32(out.count)
                    let code = isal_deflate_stateless(&stream)
                    return (code, Int(stream.total_out))
                }
            }
            if code == COMP_OK {
                return output.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) }
            }
            precondition(code == STATELESS_OVERFLOW, "isal_deflate_stateless failed with \(code) (level \(level))")
            capacity *= 2
        }
    }
}
