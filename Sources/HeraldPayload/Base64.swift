/// Standard base64 (RFC 4648, with padding) into a reusable buffer.
public enum Base64 {
    @usableFromInline static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The encoding of `input`.
    ///
    /// Writes into the array's uninitialised storage: appending byte by byte checked the array's
    /// uniqueness and capacity four times per three input bytes.
    public static func encoded(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let n = input.count
        let size = (n + 2) / 3 * 4
        return [UInt8](unsafeUninitializedCapacity: size) { out, initialized in
            alphabet.withUnsafeBufferPointer { table in
                var i = 0
                var o = 0
                while i + 3 <= n {
                    let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    out[o] = table[Int(v >> 18)]
                    out[o + 1] = table[Int((v >> 12) & 63)]
                    out[o + 2] = table[Int((v >> 6) & 63)]
                    out[o + 3] = table[Int(v & 63)]
                    i += 3
                    o += 4
                }
                if n - i == 1 {
                    let v = UInt32(input[i]) << 16
                    out[o] = table[Int(v >> 18)]
                    out[o + 1] = table[Int((v >> 12) & 63)]
                    out[o + 2] = UInt8(ascii: "=")
                    out[o + 3] = UInt8(ascii: "=")
                    o += 4
                } else if n - i == 2 {
                    let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                    out[o] = table[Int(v >> 18)]
                    out[o + 1] = table[Int((v >> 12) & 63)]
                    out[o + 2] = table[Int((v >> 6) & 63)]
                    out[o + 3] = UInt8(ascii: "=")
                    o += 4
                }
                initialized = o
            }
        }
    }

    /// Appends the encoding of `input` to `output`.
    public static func encode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        if output.isEmpty {
            output = encoded(input)
        } else {
            output.append(contentsOf: encoded(input))
        }
    }

    public static func encode(_ input: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        input.withUnsafeBytes { encode($0, into: &out) }
        return out
    }

    /// Decodes standard base64 (padding optional); nil on invalid input.
    public static func decode(_ input: some Collection<UInt8>) -> [UInt8]? {
        var table = [Int16](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int16(i) }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for c in input {
            if c == UInt8(ascii: "=") { break }
            let v = table[Int(c)]
            if v < 0 { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }
}
