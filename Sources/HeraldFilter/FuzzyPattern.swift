/// A `fuzzy` argument: matches values within a Damerau-Levenshtein distance of 1 (arguments of up
/// to 5 characters) or 2 (longer arguments) of the whole, lowercased value.
struct FuzzyPattern: Sendable {
    /// Lowercased argument scalars.
    var scalars: [UInt32]
    var maxDistance: Int
    var hasSlash: Bool
    /// For each argument position, the index of its character in `alphabet`.
    private var slots: [Int]
    /// The distinct characters of the argument.
    private var alphabet: [UInt32]

    init(_ text: String) {
        let literal = FoldedLiteral(text, fold: true)
        scalars = literal.scalars
        hasSlash = literal.hasSlash
        maxDistance = scalars.count <= 5 ? 1 : 2
        var alphabet: [UInt32] = []
        var slots: [Int] = []
        for u in scalars {
            if let i = alphabet.firstIndex(of: u) {
                slots.append(i)
            } else {
                slots.append(alphabet.count)
                alphabet.append(u)
            }
        }
        self.alphabet = alphabet
        self.slots = slots
    }

    /// A cheap check on the raw UTF-8, before lowercasing: lowercasing never shortens a value (every
    /// scalar maps to at least one scalar) and keeps the length of ASCII text.
    @inline(__always)
    func lengthAllows(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        var count = 0
        var ascii = true
        for b in value {
            if b & 0xC0 != 0x80 { count += 1 }
            if b >= 0x80 { ascii = false }
        }
        if count > scalars.count + maxDistance { return false }
        return !ascii || count >= scalars.count - maxDistance
    }

    func matches(_ value: UnsafeBufferPointer<UInt32>) -> Bool {
        guard abs(value.count - scalars.count) <= maxDistance else { return false }
        return scalars.withUnsafeBufferPointer { b in
            slots.withUnsafeBufferPointer { slots in
                alphabet.withUnsafeBufferPointer { alphabet in
                    Self.distance(value, b, slots: slots, alphabet: alphabet) <= maxDistance
                }
            }
        }
    }

    /// The unrestricted Damerau-Levenshtein distance (Lowrance-Wagner), with the last-row table
    /// kept only for the characters of `b`.
    static func distance(
        _ a: UnsafeBufferPointer<UInt32>, _ b: UnsafeBufferPointer<UInt32>, slots: UnsafeBufferPointer<Int>,
        alphabet: UnsafeBufferPointer<UInt32>
    ) -> Int {
        let n = a.count
        let m = b.count
        if n == 0 { return m }
        if m == 0 { return n }
        let width = m + 2
        let infinity = n + m
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: (n + 2) * width + alphabet.count) { store in
            let d = UnsafeMutableBufferPointer(rebasing: store[0..<((n + 2) * width)])
            let lastRow = UnsafeMutableBufferPointer(rebasing: store[((n + 2) * width)...])
            for c in 0..<lastRow.count { lastRow[c] = 0 }
            d[0] = infinity
            for i in 0...n {
                d[(i + 1) * width] = infinity
                d[(i + 1) * width + 1] = i
            }
            for j in 0...m {
                d[j + 1] = infinity
                d[width + j + 1] = j
            }
            for i in 1...n {
                var lastColumn = 0
                for j in 1...m {
                    let i1 = lastRow[slots[j - 1]]
                    let j1 = lastColumn
                    let cost: Int
                    if a[i - 1] == b[j - 1] {
                        cost = 0
                        lastColumn = j
                    } else {
                        cost = 1
                    }
                    let substitution = d[i * width + j] + cost
                    let insertion = d[(i + 1) * width + j] + 1
                    let deletion = d[i * width + j + 1] + 1
                    let transposition = d[i1 * width + j1] + (i - i1 - 1) + 1 + (j - j1 - 1)
                    d[(i + 1) * width + j + 1] = min(substitution, insertion, deletion, transposition)
                }
                var k = 0
                while k < alphabet.count && alphabet[k] != a[i - 1] { k += 1 }
                if k < alphabet.count { lastRow[k] = i }
            }
            return d[(n + 1) * width + m + 1]
        }
    }
}
