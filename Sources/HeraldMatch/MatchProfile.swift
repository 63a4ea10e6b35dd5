import HeraldMatchRules
import HeraldModel

/// The normalised values of one entity for the attributes an engine's rules read.
///
/// Computing it once per entity lets the store compare a new entity with many candidates without
/// normalising its values again (`MatchEngine.profile(_:)`, `evaluate(_:_:)` on profiles).
public struct MatchProfile: Sendable {
    public let entityType: String
    /// Distinct normalised values per attribute, sorted; empty normalised values are left out.
    let values: [AttributeReference: [String]]
    /// Fuzzy forms of the values of attributes compared with `fuzzy`.
    let fuzzy: [AttributeReference: [FuzzyValue]]

    /// Distinct normalised values of `reference` (empty when the entity has none or the rules do not read it).
    public func normalizedValues(of reference: AttributeReference) -> [String] {
        values[reference] ?? []
    }
}

/// One value as the `fuzzy` comparator sees it.
struct FuzzyValue: Sendable {
    /// The cleansed value (folded, lower-cased, letters and digits only) as scalars, for Jaro-Winkler.
    var scalars: [Unicode.Scalar]
    /// The cleansed value.
    var text: String
    /// Metaphone codes of the words, sorted and joined with spaces; empty when no word has a code or the
    /// attribute is not text (dates and numbers are compared exactly).
    var phonetic: String
    var isText: Bool

    /// Whether two values are fuzzy-equal: same cleansed text, or (for text) same phonetic key or
    /// Jaro-Winkler similarity at or above `threshold`.
    func matches(_ other: FuzzyValue, threshold: Double) -> Bool {
        if text == other.text { return true }
        guard isText && other.isText else { return false }
        if !phonetic.isEmpty && phonetic == other.phonetic { return true }
        return JaroWinkler.similarity(scalars, other.scalars) >= threshold
    }

    /// The key fuzzy match tokens are made of: the phonetic key, or the cleansed text when there is none.
    var tokenKey: String { phonetic.isEmpty ? text : phonetic }
}

extension FuzzyValue {
    init(raw: String, dataType: AttributeDataType) {
        let normalized = Normalizer.normalize(raw, dataType: dataType)
        self.text = normalized
        self.scalars = Array(normalized.unicodeScalars)
        self.isText = MatchEngine.isText(dataType)
        if isText {
            let codes = Normalizer.words(raw).map(Metaphone.encode).filter { !$0.isEmpty }.sorted()
            self.phonetic = codes.joined(separator: " ")
        } else {
            self.phonetic = ""
        }
    }
}
