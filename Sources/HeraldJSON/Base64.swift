/// Base64 (RFC 4648): the standard alphabet with padding (gzip+base64 payloads, Pub/Sub message
/// data, Service Bus SAS signatures) and base64url without padding (JWTs). One implementation for the daemon and the sinks.
public enum Base64 {
    public enum Alphabet: Sendable {
        /// `A–Z a–z 0–9 + /`, padded with `=`.
        case standard
        /// `A–Z a–z 0–9 - _`, no padding (RFC 4648 §5, as JWTs use it).
        case url
    }

    @usableFromInline static let standardTable: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    @usableFromInline static let urlTable: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// The length of the encoding of `count` bytes.
    public static func encodedCount(_ count: Int, alphabet: Alphabet = .standard) -> Int {
        alphabet == .standard ? (count + 2) / 3 * 4 : (count * 4 + 2) / 3
    }

    /// The encoding of `input`.
    ///
    /// Writes into the array's uninitialised storage: appending byte by byte checked the array's
    /// uniqueness and capacity four times per three input bytes (the per-event hot path of gzip+base64).
    public static func encoded(_ input: UnsafeRawBufferPointer, alphabet: Alphabet = .standard) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: encodedCount(input.count, alphabet: alphabet)) { out, initialized in
            initialized = write(input, into: out.baseAddress!, alphabet: alphabet)
        }
    }

    /// Appends the encoding of `input` to `out` (the Pub/Sub sink writes message data straight into its request body).
    public static func append(_ input: UnsafeRawBufferPointer, to out: inout [UInt8], alphabet: Alphabet = .standard) {
        let start = out.count
        let size = encodedCount(input.count, alphabet: alphabet)
        out.append(contentsOf: repeatElement(0, count: size))
        out.withUnsafeMutableBufferPointer { buffer in
            _ = write(input, into: buffer.baseAddress! + start, alphabet: alphabet)
        }
    }

    /// Writes the encoding at `out` (room for `encodedCount` bytes); returns the bytes written.
    @inline(__always)
    static func write(_ input: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>, alphabet: Alphabet) -> Int {
        let n = input.count
        let pad = alphabet == .standard
        let alphabetTable = pad ? standardTable : urlTable
        return alphabetTable.withUnsafeBufferPointer { table -> Int in
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
                o += 2
                if pad {
                    out[o] = UInt8(ascii: "=")
                    out[o + 1] = UInt8(ascii: "=")
                    o += 2
                }
            } else if n - i == 2 {
                let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                out[o] = table[Int(v >> 18)]
                out[o + 1] = table[Int((v >> 12) & 63)]
                out[o + 2] = table[Int((v >> 6) & 63)]
                o += 3
                if pad {
                    out[o] = UInt8(ascii: "=")
                    o += 1
                }
            }
            return o
        }
    }

    public static func encode(_ input: some Collection<UInt8>, alphabet: Alphabet = .standard) -> [UInt8] {
        let bytes = Array(input)
        return bytes.withUnsafeBytes { encoded($0, alphabet: alphabet) }
    }

    /// The encoding as text.
    public static func string(_ input: some Collection<UInt8>, alphabet: Alphabet = .standard) -> String {
        String(decoding: encode(input, alphabet: alphabet), as: UTF8.self)
    }

    /// Decodes either alphabet, padding optional; nil on invalid input.
    public static func decode(_ input: some Collection<UInt8>) -> [UInt8]? {
        var table = [Int16](repeating: -1, count: 256)
        for (i, c) in standardTable.enumerated() { table[Int(c)] = Int16(i) }
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
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

    /// Decodes text in either alphabet; nil on invalid input.
    public static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }
}
