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
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, x.count >= minLength else { return false }
        return oneEditApart(x, y)
    }

    /// Same length; exactly one position differs, or two adjacent positions are swapped.
    static func oneEditApart(_ x: [UInt8], _ y: [UInt8]) -> Bool {
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
        if first < 0 { return true }
        if second < 0 { return true }
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
        guard let x = dateDigits(a), let y = dateDigits(b) else { return false }
        if x[0..<4] == y[0..<4] {
            if sameYearAndMonth && x[4..<6] == y[4..<6] { return true }
            if x[4..<6] == y[6..<8] && x[6..<8] == y[4..<6] { return true }
        }
        return oneEditApart(x, y)
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
