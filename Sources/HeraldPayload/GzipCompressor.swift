import CIsal

/// gzip with ISA-L's igzip (Intel's Intelligent Storage Acceleration Library): one reused stream, level
/// buffer and output buffer per instance.
///
/// A message body is compressed whole, in one stateless call. By default (`Method.trainedTables`) a compressor
/// learns Huffman codes from its own first `trainingBytes` of input: until then it compresses at igzip's level 2
/// (codes computed for each block of each message) and counts the input's literals, match lengths and distances;
/// from then on it compresses at level 0 (greedy matching, one set of codes) with codes made once from those counts.
/// Per-block codes were half of level 2's time on 9 KB bodies; with learned codes a body is compressed in about
/// 45% of the time and comes out ~2% larger (docs/performance.md). `isal_create_hufftables` gives every literal,
/// length and distance a code, so any later input still compresses, only less well when it is unlike the first.
/// The output is a standard gzip member (RFC 1952) that zlib's inflate, Python's `gzip` and `gunzip` read.
///
/// Deterministic: the same inputs in the same order give the same bytes. Not thread-safe: one compressor per worker.
public final class GzipCompressor {
    public enum Method: Sendable, Equatable {
        /// Level 2 while learning codes from the first `trainingBytes` of input, then level 0 with them (the default).
        case trainedTables
        /// igzip's level 0 … 3 with its own Huffman codes: level 0 its built-in default codes, 1 … 3 codes computed for
        /// each block of each message.
        case level(UInt32)
    }

    /// Input bytes a `trainedTables` compressor learns its codes from (about 28 bodies of 9 KB).
    public static let trainingBytes = 256 << 10

    public let method: Method
    private var level: UInt32
    private var stream = isal_zstream()
    private let levelBuffer: UnsafeMutablePointer<UInt8>
    private let levelBufferSize: UInt32
    private var output: [UInt8] = []
    /// A byte to point an empty input at (igzip reads no byte of it).
    private var empty: UInt8 = 0
    /// `trainedTables`: the counts so far, how many bytes they cover, and the codes once learned.
    private var histogram = isal_huff_histogram()
    private var trainedBytes = 0
    private var tables: UnsafeMutablePointer<isal_hufftables>?

    public init(_ method: Method = .trainedTables) {
        self.method = method
        switch method {
        case .trainedTables: level = 2
        case .level(let l):
            precondition(l <= 3, "igzip levels are 0…3, not \(l)")
            level = l
        }
        levelBufferSize = UInt32(herald_isal_level_buffer_size(level))
        levelBuffer = .allocate(capacity: Int(max(levelBufferSize, 1)))
    }

    deinit {
        levelBuffer.deallocate()
        tables?.deallocate()
    }

    /// Whether a `trainedTables` compressor has learned its codes (and compresses at level 0 with them).
    public var isTrained: Bool { tables != nil }

    /// Counts `input` towards the codes while learning; makes them once `trainingBytes` are counted.
    private func learn(_ input: UnsafeRawBufferPointer) {
        let n = min(input.count, GzipCompressor.trainingBytes - trainedBytes)
        guard n > 0 else { return }
        isal_update_histogram(
            UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self)), Int32(n), &histogram)
        trainedBytes += n
        guard trainedBytes >= GzipCompressor.trainingBytes else { return }
        let made = UnsafeMutablePointer<isal_hufftables>.allocate(capacity: 1)
        made.initialize(to: isal_hufftables())
        guard isal_create_hufftables(made, &histogram) == 0 else {
            // Not expected (every symbol gets a code); level 2 stays, and nothing is counted any more.
            made.deallocate()
            return
        }
        tables = made
        level = 0
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
        if method == .trainedTables && tables == nil && input.count > 0 { learn(input) }
        let tables = self.tables
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
                    if let tables { stream.hufftables = tables }
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
            precondition(code == STATELESS_OVERFLOW, "isal_deflate_stateless failed with \(code) (\(method))")
            capacity *= 2
        }
    }
}
