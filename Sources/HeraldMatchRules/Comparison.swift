/// A comparison written in the object form, or one of the comparators for codes and dates:
///
/// ```json
/// {"fuzzy": {"attributes": ["FirstName", "LastName"], "anyOrder": true, "aliases": "englishGivenNames"}}
/// {"similarCode": {"attributes": ["Identifiers.ID"], "minLength": 6}}
/// {"similarDate": ["BirthDate"]}
/// ```
///
/// The plain array forms of `exact`, `fuzzy`, … stay `MatchRule`'s own cases; this holds the comparisons
/// that need an option (see docs/matching.md, "Comparisons with options").
public struct Comparison: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case exact, fuzzy, similarCode, similarDate
    }

    public var kind: Kind
    public var attributes: [AttributeReference]
    /// Compare the attributes in either order: the values of one entity's first attribute may match the other
    /// entity's second (given name and surname swapped, address lines swapped). 2 or 3 attributes.
    public var anyOrder: Bool
    /// For `fuzzy`: the alias table whose aliases count as equal (`Bill` and `William`).
    public var aliases: String?
    /// For `similarCode`: values shorter than this are compared exactly (a typo in a short code is another
    /// code).
    public var minLength: Int
    /// For `similarDate`: dates of the same year and month are also similar.
    public var sameYearAndMonth: Bool

    public static let defaultMinLength = 4
    public static let maxAnyOrderAttributes = 3

    public init(
        _ kind: Kind, _ attributes: [AttributeReference], anyOrder: Bool = false, aliases: String? = nil,
        minLength: Int = Comparison.defaultMinLength, sameYearAndMonth: Bool = false
    ) {
        self.kind = kind
        self.attributes = attributes
        self.anyOrder = anyOrder
        self.aliases = aliases
        self.minLength = minLength
        self.sameYearAndMonth = sameYearAndMonth
    }

    public var description: String {
        var options: [String] = []
        if anyOrder { options.append("any order") }
        if let aliases { options.append("aliases \(aliases)") }
        if kind == .similarCode && minLength != Comparison.defaultMinLength { options.append("min length \(minLength)") }
        if sameYearAndMonth { options.append("same year and month") }
        let list = attributes.map(\.description).joined(separator: ", ")
        return "\(kind.rawValue)(\(list)\(options.isEmpty ? "" : "; " + options.joined(separator: ", ")))"
    }
}
