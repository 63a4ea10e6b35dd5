/// The comparators for codes (`similarCode`) and dates (`similarDate`), and the match-token keys that make
/// every similar pair share a token.
///
/// Two codes are similar when they are equal, or have the same length (at least the comparison's
/// `minLength`) and differ by one substituted character or two adjacent characters transposed: `4173804` /
/// `4178304`, `2208` / `2280`. Their keys are the first half, the second half (both tagged with the length)
/// and the sorted characters: a substitution leaves one half intact, a transposition inside a half leaves
/// the other one, and a transposition across the middle keeps the sorted characters.
enum CodeSimilarity {
    /// Whether `a` and `b` (normalised) are equal or one substitution or adjacent transposition apart.
    static func similar(_ a: String, _ b: String, minLength: Int) -> Bool {
        if a == b { return true }
        guard a.utf8.count == b.utf8.count, a.utf8.count >= minLength else { return false }
        return withBytes(a, b) { x, y in oneEditApart(x, y) }
    }

    /// Calls `body` with the UTF-8 bytes of both strings (without copying native strings).
    @inline(__always)
    static func withBytes<R>(
        _ a: String, _ b: String, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in body(x, y) } }
    }

    /// Same length; exactly one position differs, or two adjacent positions are swapped.
    static func oneEditApart(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        var first = -1
        var second = -1
        for i in 0..<x.count where x[i] != y[i] {
            if first < 0 {
                first = i
            } else if second < 0 {
                second = i
            } else {
                return false
            }
        }
        if first < 0 || second < 0 { return true }
        return second == first + 1 && x[first] == y[second] && x[second] == y[first]
    }

    /// The token keys of a normalised code: itself when shorter than `minLength`, else its halves and its
    /// sorted characters.
    static func keys(_ value: String, minLength: Int) -> [String] {
        let bytes = Array(value.utf8)
        guard bytes.count >= minLength, bytes.count >= 2 else { return ["=" + value] }
        let mid = bytes.count / 2
        let n = String(bytes.count)
        return [
            n + "<" + String(decoding: bytes[..<mid], as: UTF8.self),
            n + ">" + String(decoding: bytes[mid...], as: UTF8.self),
            n + "*" + String(decoding: bytes.sorted(), as: UTF8.self),
        ]
    }

    // MARK: - Dates

    /// The 8 digits `yyyyMMdd` of a normalised date (`yyyy-MM-dd`), nil for anything else.
    static func dateDigits(_ normalized: String) -> [UInt8]? {
        let b = Array(normalized.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
        let digits = Array(b[0..<4] + b[5..<7] + b[8..<10])
        return digits.allSatisfy({ $0 &- 0x30 < 10 }) ? digits : nil
    }

    /// Whether two normalised dates are equal, have day and month swapped, are one digit off or have two
    /// adjacent digits transposed (in `yyyyMMdd`), or — with `sameYearAndMonth` — share year and month.
    static func similarDate(_ a: String, _ b: String, sameYearAndMonth: Bool) -> Bool {
        if a == b { return true }
        guard a.utf8.count == 10, b.utf8.count == 10 else { return false }
        return withBytes(a, b) { x, y in
            // yyyy-MM-dd: digits at 0...3, 5...6, 8...9.
            let positions = [0, 1, 2, 3, 5, 6, 8, 9]
            guard x[4] == UInt8(ascii: "-"), x[7] == UInt8(ascii: "-"), y[4] == UInt8(ascii: "-"),
                y[7] == UInt8(ascii: "-"), positions.allSatisfy({ x[$0] &- 0x30 < 10 && y[$0] &- 0x30 < 10 })
            else { return false }
            let sameYear = x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3]
            if sameYear {
                if sameYearAndMonth && x[5] == y[5] && x[6] == y[6] { return true }
                if x[5] == y[8] && x[6] == y[9] && x[8] == y[5] && x[9] == y[6] { return true }
            }
            var first = -1
            var second = -1
            for (k, i) in positions.enumerated() where x[i] != y[i] {
                if first < 0 {
                    first = k
                } else if second < 0 {
                    second = k
                } else {
                    return false
                }
            }
            if first < 0 || second < 0 { return true }
            let (p, q) = (positions[first], positions[second])
            return second == first + 1 && x[p] == y[q] && x[q] == y[p]
        }
    }

    /// The token keys of a normalised date: the code keys of `yyyyMMdd` (day and month swapped keep its
    /// sorted digits), and `yyyy-MM` with `sameYearAndMonth`; the value itself when it is not a date.
    static func dateKeys(_ value: String, sameYearAndMonth: Bool) -> [String] {
        guard let digits = dateDigits(value) else { return ["=" + value] }
        var keys = keys(String(decoding: digits, as: UTF8.self), minLength: 8)
        if sameYearAndMonth { keys.append("ym" + String(value.prefix(7))) }
        return keys
    }
}
