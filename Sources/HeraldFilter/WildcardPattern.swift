/// A `contains` pattern: '*' matches any run of characters (also none), '?' exactly one character,
/// everything else itself (case-insensitively). The pattern must match the whole value.
struct WildcardPattern: Sendable {
    static let anyRun: UInt32 = 0x2A  // '*'
    static let anyOne: UInt32 = 0x3F  // '?'

    /// Lowercased pattern scalars.
    var scalars: [UInt32]
    var hasSlash: Bool

    init(_ text: String) {
        let literal = FoldedLiteral(text, fold: true)
        scalars = literal.scalars
        hasSlash = literal.hasSlash
    }

    /// Matches a lowercased value; linear in practice, O(value × pattern) at worst.
    func matches(_ value: UnsafeBufferPointer<UInt32>) -> Bool {
        scalars.withUnsafeBufferPointer { p in
            var v = 0
            var k = 0
            var star = -1  // pattern index just after the last '*'
            var resume = 0  // value index that last '*' will absorb up to next
            while v < value.count {
                if k < p.count && p[k] == Self.anyRun {
                    k += 1
                    star = k
                    resume = v
                } else if k < p.count && (p[k] == Self.anyOne || p[k] == value[v]) {
                    k += 1
                    v += 1
                } else if star >= 0 {
                    resume += 1
                    v = resume
                    k = star
                } else {
                    return false
                }
            }
            while k < p.count && p[k] == Self.anyRun { k += 1 }
            return k == p.count
        }
    }
}
