/// Hex, base64 and URL encodings used by the cloud sinks.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Lower-case hex.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum Base64Coding {
    private static let standard: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let url: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Standard base64 with padding.
    public static func encode(_ bytes: some Collection<UInt8>) -> String { encode(Array(bytes), table: standard, pad: true) }

    /// base64url without padding (JWT).
    public static func encodeURL(_ bytes: some Collection<UInt8>) -> String { encode(Array(bytes), table: url, pad: false) }

    private static func encode(_ input: [UInt8], table: [UInt8], pad: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= input.count {
            let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
            out += [table[Int(v >> 18)], table[Int((v >> 12) & 63)], table[Int((v >> 6) & 63)], table[Int(v & 63)]]
            i += 3
        }
        let rest = input.count - i
        if rest > 0 {
            var v = UInt32(input[i]) << 16
            if rest == 2 { v |= UInt32(input[i + 1]) << 8 }
            out.append(table[Int(v >> 18)])
            out.append(table[Int((v >> 12) & 63)])
            if rest == 2 { out.append(table[Int((v >> 6) & 63)]) } else if pad { out.append(UInt8(ascii: "=")) }
            if pad { out.append(UInt8(ascii: "=")) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes standard or URL base64 (padding optional); nil on invalid input.
    public static func decode(_ text: String) -> [UInt8]? {
        var values = [Int16](repeating: -1, count: 256)
        for (i, c) in standard.enumerated() { values[Int(c)] = Int16(i) }
        values[Int(UInt8(ascii: "-"))] = 62
        values[Int(UInt8(ascii: "_"))] = 63
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            if c == UInt8(ascii: "=") { break }
            let v = values[Int(c)]
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

public enum PercentEncoding {
    /// RFC 3986 percent-encoding: everything but unreserved characters (A-Z a-z 0-9 - . _ ~),
    /// and `/` too when `keepSlash` (SigV4 canonical paths).
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = [UInt8]()
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        for b in text.utf8 {
            let unreserved =
                (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E
                || b == 0x5F || b == 0x7E || (keepSlash && b == 0x2F)
            if unreserved {
                out.append(b)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes %XX sequences (and `+` as space when `plusAsSpace`); invalid sequences are kept as they are.
    public static func decode(_ text: String, plusAsSpace: Bool = false) -> String {
        var out = [UInt8]()
        let bytes = Array(text.utf8)
        var i = 0
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let h = value(bytes[i + 1]), let l = value(bytes[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else if plusAsSpace && bytes[i] == UInt8(ascii: "+") {
                out.append(0x20)
                i += 1
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
