/// The canonical forms of SigV4's canonical request: path, query and headers.
///
/// Works on bytes, not `String`s, wherever percent-decoding could produce bytes that are not UTF-8.
public enum SigV4Canonical {
    /// The canonical URI: optionally normalised (`.`/`..` segments and repeated slashes removed),
    /// then every byte but unreserved characters and `/` percent-encoded. The path is taken as it goes on
    /// the wire, so an already-encoded `%20` becomes `%2520` (SigV4 encodes twice for every service but S3).
    public static func path(_ path: String, normalize: Bool) -> String {
        var p = path.isEmpty ? "/" : path
        if normalize { p = normalizedPath(p) }
        return encode(Array(p.utf8), keepSlash: true)
    }

    /// Removes `.` and `..` segments and empty segments; keeps a trailing slash.
    public static func normalizedPath(_ path: String) -> String {
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        if segments.isEmpty { return "/" }
        let trailing = path.hasSuffix("/")
        return "/" + segments.joined(separator: "/") + (trailing ? "/" : "")
    }

    /// Splits a raw query string into decoded key/value pairs (`k` alone means an empty value).
    public static func parseQuery(_ query: String) -> [(key: [UInt8], value: [UInt8])] {
        var out: [(key: [UInt8], value: [UInt8])] = []
        for piece in query.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            if let eq = piece.firstIndex(of: UInt8(ascii: "=")) {
                out.append((decode(piece[piece.startIndex..<eq]), decode(piece[piece.index(after: eq)...])))
            } else {
                out.append((decode(piece), []))
            }
        }
        return out
    }

    /// The canonical query string: each key and value encoded, sorted by key then value, joined by `&`.
    public static func query(_ parameters: [(key: [UInt8], value: [UInt8])]) -> String {
        let encoded = parameters.map { (key: encode($0.key), value: encode($0.value)) }
        let sorted = encoded.sorted { a, b in
            if a.key != b.key { return a.key.utf8.lexicographicallyPrecedes(b.key.utf8) }
            return a.value.utf8.lexicographicallyPrecedes(b.value.utf8)
        }
        return sorted.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
    }

    /// Canonical headers: names lower-cased, values trimmed with inner runs of spaces collapsed,
    /// repeated headers joined with `,` in the order sent, sorted by name. Returns the block (each line
    /// `name:value` followed by a newline) and the signed-headers list (`a;b;c`).
    public static func headers(_ headers: [SigV4Header]) -> (block: String, signed: String) {
        var values: [String: [String]] = [:]
        var names: [String] = []
        for h in headers {
            let name = h.name.lowercased()
            if values[name] == nil { names.append(name) }
            values[name, default: []].append(trimmedValue(h.value))
        }
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var block = ""
        for name in names {
            block += name + ":" + values[name]!.joined(separator: ",") + "\n"
        }
        return (block, names.joined(separator: ";"))
    }

    /// Trims leading and trailing whitespace and turns every inner run of whitespace into one space.
    public static func trimmedValue(_ value: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for b in value.utf8 {
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(0x20)
                pendingSpace = false
            }
            out.append(b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 encoding of every byte but `A-Z a-z 0-9 - . _ ~` (and `/` when `keepSlash`), upper-case hex.
    public static func encode(_ bytes: some Collection<UInt8>, keepSlash: Bool = false) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for b in bytes {
            let unreserved =
                (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D
                || b == 0x2E || b == 0x5F || b == 0x7E || (keepSlash && b == 0x2F)
            if unreserved {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` sequences; anything else (a lone `%`, `+`) stays as it is.
    public static func decode(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0
        while i < input.count {
            if input[i] == UInt8(ascii: "%"), i + 2 < input.count, let h = hexValue(input[i + 1]),
                let l = hexValue(input[i + 2])
            {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(input[i])
                i += 1
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}
