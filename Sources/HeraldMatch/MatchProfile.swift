import HeraldMatchRules
import HeraldModel

/// The normalised values of one entity for the attributes an engine's rules read.
///
/// Computing it once per entity lets the store compare a new entity with many candidates without
/// normalising its values again (`MatchEngine.profile(_:)`, `evaluate(_:_:)` on profiles).
///
/// An entity merged from several crosswalks has one value set per contributor (what that crosswalk said)
/// besides the whole: the match and relevance groups compare contributors pairwise, so that the result of
/// matching does not depend on the order in which the sources arrived; negative groups compare the wholes.
public struct MatchProfile: Sendable {
    public let entityType: String
    /// Every value of the entity.
    let whole: ValueSet
    /// One value set per contributing crosswalk (values without a source belong to each); `[whole]` for an
    /// entity with one crosswalk.
    let contributors: [ValueSet]
    /// The engine's attribute slots.
    let slots: [AttributeReference: Int]

    /// Distinct normalised values of `reference` (empty when the entity has none or the rules do not read it).
    public func normalizedValues(of reference: AttributeReference) -> [String] {
        slots[reference].map { whole.values[$0] } ?? []
    }

    /// How many contributor value sets the groups compare.
    public var contributorCount: Int { contributors.count }
}

/// The values of an entity (or of one of its contributors) as the comparisons see them, per attribute slot
/// of the engine.
struct ValueSet: Sendable {
    /// Distinct normalised values per slot, sorted; empty normalised values are left out.
    var values: [[String]]
    /// Fuzzy forms of the values per slot (empty for attributes no fuzzy comparison reads).
    var fuzzy: [[FuzzyValue]]

    func hasValues(_ slot: Int) -> Bool { !values[slot].isEmpty || !fuzzy[slot].isEmpty }
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
    /// Per alias table the comparisons of this attribute use: the canonical names the value stands for.
    var aliases: [String: [String]] = [:]

    /// Whether two values are fuzzy-equal: same cleansed text, or (for text) same phonetic key or
    /// Jaro-Winkler similarity at or above `threshold`; with `aliases`, also aliases in that table.
    func matches(_ other: FuzzyValue, threshold: Double, aliases table: String? = nil) -> Bool {
        if text == other.text { return true }
        guard isText && other.isText else { return false }
        if !phonetic.isEmpty && phonetic == other.phonetic { return true }
        if let table, let x = aliases[table], let y = other.aliases[table], !x.isEmpty, !y.isEmpty,
            shareSorted(x, y)
        {
            return true
        }
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
