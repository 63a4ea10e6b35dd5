/// Runs of plain string bytes, eight at a time.
public enum JSONPlainRun {
    /// The end of the run of plain bytes starting at `i` as far as whole 8-byte words reach: every byte in
    /// `i..<result` is neither a quote, a backslash, a control character nor non-ASCII; `result` is either such a
    /// byte or a position with fewer than eight bytes left before `end`. Callers go on byte by byte from there.
    ///
    /// Word arithmetic, not SIMD: most strings in entities are a few bytes long, and a call into C per string
    /// (`herald_json_plain_prefix`, 16 bytes at a time) costs more than it saves on them. Of each test (equals `"`,
    /// equals `\`, below 0x20) only the lowest flagged byte is exact, so the lowest flagged byte of all is a real one.
    @inlinable @inline(__always)
    public static func end(_ base: UnsafePointer<UInt8>, from i: Int, to end: Int) -> Int {
        var j = i
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        while j &+ 8 <= end {
            let x = UInt64(littleEndian: (raw + j).loadUnaligned(as: UInt64.self))
            let q = x ^ (ones &* 0x22)
            let b = x ^ (ones &* 0x5C)
            let special = ((q &- ones) & ~q | (b &- ones) & ~b | (x &- ones &* 0x20) & ~x) & high | x & high
            if special != 0 { return j &+ (special.trailingZeroBitCount &>> 3) }
            j &+= 8
        }
        return j
    }
}
