import HeraldMatchRules
import HeraldModel

/// Evaluates an entity type's match groups on pairs of entities and derives their match tokens.
///
/// Pure and I/O-free: the store keeps the tokens in its index table, looks candidates up by token,
/// calls `evaluate` for each candidate and merges (or records potential matches) by the verdict.
/// All values of an attribute take part, not only operational ones, so a merged entity still matches
/// through any of its sources' values.
public struct MatchEngine: Sendable {
    /// Entity type URI the groups belong to.
    public let entityType: String
    public let groups: [MatchGroup]
    let dataTypes: [AttributeReference: AttributeDataType]
    let compiled: [CompiledRule]
    let fuzzyAttributes: Set<AttributeReference>
    let attributes: [AttributeReference]

    /// Most keys an `and` may multiply into before its most-valued comparison is left out of its tokens.
    public static let maxKeysPerProduct = 16
    /// Most tokens one group yields for one entity.
    public static let maxTokensPerGroup = 16
    /// Values longer than this (in Unicode scalars) are cut in tokens (equal values still share the token).
    public static let maxValueLengthInToken = 64

    /// An engine without a schema: every attribute is compared as text (use the other initialiser, or
    /// `MatchConfigurationReader`, to compare dates and numbers by their declared type).
    public init(entityType: String, groups: [MatchGroup]) {
        self.init(entityType: entityType, groups: groups, dataTypes: [:])
    }

    /// An engine that normalises each attribute by its declared data type.
    public init(entityType: EntityTypeDefinition, groups: [MatchGroup]) {
        var types: [AttributeReference: AttributeDataType] = [:]
        for g in groups {
            for ref in g.rule.attributes { types[ref] = ref.dataType(in: entityType) ?? .string }
        }
        self.init(entityType: entityType.uri, groups: groups, dataTypes: types)
    }

    private init(entityType: String, groups: [MatchGroup], dataTypes: [AttributeReference: AttributeDataType]) {
        self.entityType = entityType
        self.groups = groups
        self.dataTypes = dataTypes
        self.compiled = groups.map { CompiledRule($0.rule, dataTypes: dataTypes) }
        var fuzzy = Set<AttributeReference>()
        var seen = Set<AttributeReference>()
        var attributes: [AttributeReference] = []
        for g in groups {
            fuzzy.formUnion(g.rule.fuzzyAttributes)
            for ref in g.rule.attributes where seen.insert(ref).inserted { attributes.append(ref) }
        }
        self.fuzzyAttributes = fuzzy
        self.attributes = attributes
    }

    /// No match groups: nothing is ever matched.
    public var isEmpty: Bool { groups.isEmpty }

    static func isText(_ type: AttributeDataType) -> Bool {
        switch type {
        case .string, .email, .url, .blob, .nested: return true
        default: return false
        }
    }

    func dataType(_ ref: AttributeReference) -> AttributeDataType { dataTypes[ref] ?? .string }

    /// The normalised values of `entity` for every attribute the groups read.
    public func profile(_ entity: Entity) -> MatchProfile {
        var values: [AttributeReference: [String]] = [:]
        var fuzzy: [AttributeReference: [FuzzyValue]] = [:]
        for ref in attributes {
            let raw = ref.values(in: entity)
            let type = dataType(ref)
            var normalized = Set<String>()
            for r in raw {
                let n = Normalizer.normalize(r, dataType: type)
                if !n.isEmpty { normalized.insert(n) }
            }
            values[ref] = normalized.sorted()
            if fuzzyAttributes.contains(ref) {
                var forms: [FuzzyValue] = []
                var seenRaw = Set<String>()
                for r in raw where seenRaw.insert(r).inserted {
                    let f = FuzzyValue(raw: r, dataType: type)
                    if !f.text.isEmpty { forms.append(f) }
                }
                fuzzy[ref] = forms.sorted { $0.text < $1.text }
            }
        }
        return MatchProfile(entityType: entity.type, values: values, fuzzy: fuzzy)
    }

    /// Evaluates every group on the pair. Symmetric: `evaluate(a, b) == evaluate(b, a)`.
    /// Entities of different types never match.
    public func evaluate(_ a: Entity, _ b: Entity) -> MatchVerdict {
        guard a.type == b.type, !groups.isEmpty else { return MatchVerdict() }
        return evaluate(profile(a), profile(b))
    }

    /// `evaluate` on profiles made by `profile(_:)`.
    public func evaluate(_ a: MatchProfile, _ b: MatchProfile) -> MatchVerdict {
        var verdict = MatchVerdict()
        guard a.entityType == b.entityType else { return verdict }
        for (g, rule) in zip(groups, compiled) where rule.holds(a, b, threshold: g.fuzzyThreshold) {
            switch g.type {
            case .automatic: verdict.automatic.append(g.uri)
            case .suspect: verdict.suspect.append(g.uri)
            case .negative: verdict.negative = true
            }
        }
        return verdict
    }
}

/// A rule with the constants of `equals` normalised once.
indirect enum CompiledRule: Sendable {
    case and([CompiledRule])
    case or([CompiledRule])
    case exact([AttributeReference])
    case exactOrNull([AttributeReference])
    case exactOrAllNull([AttributeReference])
    case fuzzy([AttributeReference])
    case notExactSame([AttributeReference])
    case equals([(AttributeReference, String)])

    init(_ rule: MatchRule, dataTypes: [AttributeReference: AttributeDataType]) {
        switch rule {
        case .and(let rules): self = .and(rules.map { CompiledRule($0, dataTypes: dataTypes) })
        case .or(let rules): self = .or(rules.map { CompiledRule($0, dataTypes: dataTypes) })
        case .exact(let refs): self = .exact(refs)
        case .exactOrNull(let refs): self = .exactOrNull(refs)
        case .exactOrAllNull(let refs): self = .exactOrAllNull(refs)
        case .fuzzy(let refs): self = .fuzzy(refs)
        case .notExactSame(let refs): self = .notExactSame(refs)
        case .equals(let pairs):
            self = .equals(pairs.map { ($0.0, Normalizer.normalize($0.1, dataType: dataTypes[$0.0] ?? .string)) })
        }
    }

    func holds(_ a: MatchProfile, _ b: MatchProfile, threshold: Double) -> Bool {
        switch self {
        case .and(let rules):
            return rules.allSatisfy { $0.holds(a, b, threshold: threshold) }
        case .or(let rules):
            return rules.contains { $0.holds(a, b, threshold: threshold) }
        case .exact(let refs):
            return refs.allSatisfy { shareValue(a.normalizedValues(of: $0), b.normalizedValues(of: $0)) }
        case .exactOrNull(let refs):
            return refs.allSatisfy { ref in
                let x = a.normalizedValues(of: ref), y = b.normalizedValues(of: ref)
                return x.isEmpty || y.isEmpty || shareValue(x, y)
            }
        case .exactOrAllNull(let refs):
            return refs.allSatisfy { ref in
                let x = a.normalizedValues(of: ref), y = b.normalizedValues(of: ref)
                return (x.isEmpty && y.isEmpty) || shareValue(x, y)
            }
        case .fuzzy(let refs):
            return refs.allSatisfy { ref in
                let x = a.fuzzy[ref] ?? [], y = b.fuzzy[ref] ?? []
                return x.contains { fx in y.contains { fx.matches($0, threshold: threshold) } }
            }
        case .notExactSame(let refs):
            return refs.allSatisfy { ref in
                let x = a.normalizedValues(of: ref), y = b.normalizedValues(of: ref)
                return !x.isEmpty && !y.isEmpty && !shareValue(x, y)
            }
        case .equals(let pairs):
            return pairs.allSatisfy { ref, value in
                a.normalizedValues(of: ref).contains(value) && b.normalizedValues(of: ref).contains(value)
            }
        }
    }
}

/// Whether two sorted arrays have an element in common.
func shareValue(_ x: [String], _ y: [String]) -> Bool {
    var i = 0, j = 0
    while i < x.count && j < y.count {
        if x[i] == y[j] { return true }
        if x[i] < y[j] { i += 1 } else { j += 1 }
    }
    return false
}
