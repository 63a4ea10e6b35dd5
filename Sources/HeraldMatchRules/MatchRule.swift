/// A match rule: comparisons of two entities' attributes combined with `and` / `or`.
///
/// See docs/matching.md for the semantics of each operator; `MatchEngine` evaluates rules and derives
/// match tokens from them.
public indirect enum MatchRule: Sendable {
    case and([MatchRule])
    case or([MatchRule])
    /// Every listed attribute shares at least one normalised value.
    case exact([AttributeReference])
    /// Per attribute: exact, or either side has no value.
    case exactOrNull([AttributeReference])
    /// Per attribute: exact, or both sides have no value.
    case exactOrAllNull([AttributeReference])
    /// Per attribute: some pair of values sounds alike or is similar (Jaro-Winkler ≥ the group's threshold).
    case fuzzy([AttributeReference])
    /// Per attribute: both sides have values and they share none (for negative groups).
    case notExactSame([AttributeReference])
    /// Both entities have the (normalised) value for every pair.
    case equals([(AttributeReference, String)])
    /// A comparison with options, or a comparator for codes and dates (`similarCode`, `similarDate`).
    case compare(Comparison)

    /// Every attribute the rule reads, in first-use order.
    public var attributes: [AttributeReference] {
        var seen = Set<AttributeReference>()
        var out: [AttributeReference] = []
        func visit(_ r: MatchRule) {
            switch r {
            case .and(let rules), .or(let rules):
                rules.forEach(visit)
            case .exact(let refs), .exactOrNull(let refs), .exactOrAllNull(let refs), .fuzzy(let refs),
                .notExactSame(let refs):
                for ref in refs where seen.insert(ref).inserted { out.append(ref) }
            case .equals(let pairs):
                for (ref, _) in pairs where seen.insert(ref).inserted { out.append(ref) }
            case .compare(let c):
                for ref in c.attributes where seen.insert(ref).inserted { out.append(ref) }
            }
        }
        visit(self)
        return out
    }

    /// Calls `body` for every comparison written with options (`.compare`).
    public func forEachComparison(_ body: (Comparison) -> Void) {
        switch self {
        case .and(let rules), .or(let rules): for r in rules { r.forEachComparison(body) }
        case .compare(let c): body(c)
        default: break
        }
    }

    /// The attributes compared with `fuzzy` somewhere in the rule.
    package var fuzzyAttributes: Set<AttributeReference> {
        switch self {
        case .and(let rules), .or(let rules):
            return rules.reduce(into: Set()) { $0.formUnion($1.fuzzyAttributes) }
        case .fuzzy(let refs):
            return Set(refs)
        case .compare(let c) where c.kind == .fuzzy:
            return Set(c.attributes)
        default:
            return []
        }
    }

    /// Whether candidates for this rule can be found by token lookup: an `exact`, `fuzzy` or `equals`
    /// comparison in every branch of every `or` (an `and` needs one such child; `exactOrNull`,
    /// `exactOrAllNull` and `notExactSame` can hold without the two entities sharing any value).
    public var yieldsTokens: Bool {
        switch self {
        case .and(let rules): return rules.contains { $0.yieldsTokens }
        case .or(let rules): return !rules.isEmpty && rules.allSatisfy { $0.yieldsTokens }
        case .exact(let refs), .fuzzy(let refs): return !refs.isEmpty
        case .equals(let pairs): return !pairs.isEmpty
        case .compare(let c): return !c.attributes.isEmpty
        case .exactOrNull, .exactOrAllNull, .notExactSame: return false
        }
    }
}

extension MatchRule: CustomStringConvertible {
    /// A compact rendering for logs and explanations: `exact(Email) and (fuzzy(FirstName) or …)`.
    public var description: String {
        func list(_ refs: [AttributeReference]) -> String { refs.map(\.description).joined(separator: ", ") }
        switch self {
        case .and(let rules): return rules.map { $0.nestedDescription }.joined(separator: " and ")
        case .or(let rules): return rules.map { $0.nestedDescription }.joined(separator: " or ")
        case .exact(let refs): return "exact(\(list(refs)))"
        case .exactOrNull(let refs): return "exactOrNull(\(list(refs)))"
        case .exactOrAllNull(let refs): return "exactOrAllNull(\(list(refs)))"
        case .fuzzy(let refs): return "fuzzy(\(list(refs)))"
        case .notExactSame(let refs): return "notExactSame(\(list(refs)))"
        case .equals(let pairs): return "equals(\(pairs.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")))"
        case .compare(let c): return c.description
        }
    }

    private var nestedDescription: String {
        switch self {
        case .and(let rules) where rules.count > 1, .or(let rules) where rules.count > 1: return "(\(description))"
        default: return description
        }
    }
}
