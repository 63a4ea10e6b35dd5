/// The test a condition applies; literals are prepared at parse time.
enum ValueTest: Sendable {
    case equals(FoldedLiteral)
    case equalsCaseSensitive(FoldedLiteral)
    case startsWith(FoldedLiteral)
    /// Each word (lowercased scalars) must start some word of the value.
    case wordsStartingWith(PackedLiterals<UInt32>)
    /// Each word (lowercased scalars) must appear as a whole word in some value of the property.
    case fullText(PackedLiterals<UInt32>)
    case fuzzy(FuzzyPattern)
    case wildcard(WildcardPattern)
    case regexp(CompiledRegex, hasSlash: Bool)
    /// Lowercased UTF-8 of each accepted value.
    case oneOf(PackedLiterals<UInt8>)
    case compare(NumericBounds)
    case exists
    case missing
    case changes
}

/// A literal in the form the hot path compares against.
struct FoldedLiteral: Sendable {
    /// UTF-8 of the literal: lowercased for case-insensitive tests, as written for `equalsCaseSensitive`.
    var bytes: [UInt8]
    /// Unicode scalars of `bytes`, for the word and wildcard algorithms.
    var scalars: [UInt32]
    /// Whether the literal contains '/' (then it never matches a URI's last component alone).
    var hasSlash: Bool

    init(_ text: String, fold: Bool) {
        let t = fold ? text.lowercased() : text
        bytes = Array(t.utf8)
        scalars = t.unicodeScalars.map(\.value)
        hasSlash = text.utf8.contains(UInt8(ascii: "/"))
    }
}

/// Inclusive or exclusive numeric bounds for `range`, `gt`, `gte`, `lt`, `lte`.
struct NumericBounds: Sendable {
    var lower: Double?
    var lowerInclusive = true
    var upper: Double?
    var upperInclusive = true

    @inline(__always)
    func contains(_ x: Double) -> Bool {
        if let lower {
            if lowerInclusive ? x < lower : x <= lower { return false }
        }
        if let upper {
            if upperInclusive ? x > upper : x >= upper { return false }
        }
        return true
    }
}
