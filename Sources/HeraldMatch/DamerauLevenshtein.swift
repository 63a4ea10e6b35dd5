/// Damerau-Levenshtein edit distance: insertions, deletions, substitutions and transpositions of two
/// adjacent characters, each costing one, with no restriction on editing a substring twice (the
/// Lowrance-Wagner algorithm; `CA` → `ABC` is 2, where the restricted "optimal string alignment"
/// distance gives 3). Compares Unicode scalars exactly as given.
public enum DamerauLevenshtein {
    public static func distance(_ a: String, _ b: String) -> Int {
        distance(Array(a.unicodeScalars), Array(b.unicodeScalars))
    }

    static func distance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        let infinity = a.count + b.count
        let width = b.count + 2
        // d[(i + 1) * width + (j + 1)] is the distance between a[..<i] and b[..<j]; row and column 0 hold infinity.
        var d = [Int](repeating: 0, count: (a.count + 2) * width)
        d[0] = infinity
        for i in 0...a.count {
            d[(i + 1) * width] = infinity
            d[(i + 1) * width + 1] = i
        }
        for j in 0...b.count {
            d[j + 1] = infinity
            d[width + j + 1] = j
        }
        var lastRow: [Unicode.Scalar: Int] = [:]
        for i in 1...a.count {
            var lastMatchColumn = 0
            for j in 1...b.count {
                let i1 = lastRow[b[j - 1]] ?? 0
                let j1 = lastMatchColumn
                var cost = 1
                if a[i - 1] == b[j - 1] {
                    cost = 0
                    lastMatchColumn = j
                }
                d[(i + 1) * width + j + 1] = min(
                    d[i * width + j] + cost,
                    d[(i + 1) * width + j] + 1,
                    d[i * width + j + 1] + 1,
                    d[i1 * width + j1] + (i - i1 - 1) + 1 + (j - j1 - 1))
            }
            lastRow[a[i - 1]] = i
        }
        return d[(a.count + 1) * width + b.count + 1]
    }
}
