/// Jaro-Winkler similarity (Winkler 1990): 1 for equal strings, 0 for nothing in common.
///
/// Jaro counts the characters that match within a window of half the longer length (minus one) and the
/// transpositions among them; Winkler adds 0.1 for each of up to four leading characters in common when
/// the Jaro similarity is at least 0.7. Compares Unicode scalars exactly as given: the `fuzzy`
/// comparator normalises first. Symmetric: the arguments are put in a fixed order before comparing.
public enum JaroWinkler {
    public static func similarity(_ a: String, _ b: String) -> Double {
        similarity(Array(a.unicodeScalars), Array(b.unicodeScalars))
    }

    static func similarity(_ x: [Unicode.Scalar], _ y: [Unicode.Scalar]) -> Double {
        if x.isEmpty && y.isEmpty { return 1 }
        if x.isEmpty || y.isEmpty { return 0 }
        // Greedy matching can depend on which string drives it: a fixed order keeps the result symmetric.
        let (s, t) = precedes(x, y) ? (x, y) : (y, x)
        let window = max(0, max(s.count, t.count) / 2 - 1)
        var sMatched = [Bool](repeating: false, count: s.count)
        var tMatched = [Bool](repeating: false, count: t.count)
        var matches = 0
        for i in 0..<s.count {
            let lo = max(0, i - window)
            let hi = min(t.count - 1, i + window)
            guard lo <= hi else { continue }
            for j in lo...hi where !tMatched[j] && s[i] == t[j] {
                sMatched[i] = true
                tMatched[j] = true
                matches += 1
                break
            }
        }
        if matches == 0 { return 0 }
        var halfTranspositions = 0
        var k = 0
        for i in 0..<s.count where sMatched[i] {
            while !tMatched[k] { k += 1 }
            if s[i] != t[k] { halfTranspositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(s.count) + m / Double(t.count) + (m - Double(halfTranspositions / 2)) / m) / 3
        guard jaro >= 0.7 else { return jaro }
        var prefix = 0
        while prefix < min(4, s.count, t.count) && s[prefix] == t[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    private static func precedes(_ x: [Unicode.Scalar], _ y: [Unicode.Scalar]) -> Bool {
        if x.count != y.count { return x.count < y.count }
        for (a, b) in zip(x, y) where a != b { return a.value < b.value }
        return true
    }
}
