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
    /// Per group: the rule that gives its match tokens (a relevance group's `candidateRule`) and, for a
    /// rule-based group, decides.
    let compiled: [CompiledRule]
    /// Per group: the compiled scoring of a relevance group, nil for the others.
    let scoring: [CompiledScoring?]
    /// Per group: `MatchGroup.tokenPrefix`, computed once.
    let tokenPrefixes: [String]
    /// Every attribute the groups read, in first-use order: rules and value sets refer to them by index (slot).
    let attributes: [AttributeReference]
    /// Attribute → slot.
    let slots: [AttributeReference: Int]
    /// Per slot: the attribute's name in tokens (`Email`, `Address.PostalCode`).
    let names: [String]
    /// Per slot: the declared data type.
    let types: [AttributeDataType]
    /// Per slot: whether a fuzzy comparison reads it (its values get fuzzy forms).
    let isFuzzy: [Bool]
    /// Per slot: the alias tables the fuzzy comparisons of the attribute use.
    let aliasUses: [[AliasTable]]

    /// Most keys an `and` may multiply into before its most-valued comparison is left out of its tokens.
    public static let maxKeysPerProduct = 16
    /// Most tokens one group yields for one entity (per contributor; a relevance group three times as many).
    public static let maxTokensPerGroup = 16
    /// Values longer than this (in Unicode scalars) are cut in tokens (equal values still share the token).
    public static let maxValueLengthInToken = 64
    /// Most contributor value sets compared per entity: an entity with more distinct contributors compares
    /// its first ones (by crosswalk id) and its whole.
    public static let maxContributorsCompared = 16

    /// An engine without a schema: every attribute is compared as text (use the other initialiser, or
    /// `MatchConfigurationReader`, to compare dates and numbers by their declared type).
    public init(entityType: String, groups: [MatchGroup]) {
        self.init(entityType: entityType, groups: groups, dataTypes: [:], aliasTables: .shipped)
    }

    /// An engine that normalises each attribute by its declared data type.
    public init(entityType: EntityTypeDefinition, groups: [MatchGroup], aliasTables: AliasTables = .shipped) {
        var types: [AttributeReference: AttributeDataType] = [:]
        for g in groups {
            for ref in g.rule.attributes { types[ref] = ref.dataType(in: entityType) ?? .string }
            for c in g.relevance?.comparisons ?? [] {
                for ref in c.rule.attributes { types[ref] = ref.dataType(in: entityType) ?? .string }
            }
        }
        self.init(entityType: entityType.uri, groups: groups, dataTypes: types, aliasTables: aliasTables)
    }

    private init(
        entityType: String, groups: [MatchGroup], dataTypes: [AttributeReference: AttributeDataType],
        aliasTables: AliasTables
    ) {
        self.entityType = entityType
        self.groups = groups
        self.dataTypes = dataTypes
        var fuzzy = Set<AttributeReference>()
        var seen = Set<AttributeReference>()
        var attributes: [AttributeReference] = []
        var aliasNames: [AttributeReference: Set<String>] = [:]
        func visit(_ rule: MatchRule) {
            fuzzy.formUnion(rule.fuzzyAttributes)
            for ref in rule.attributes where seen.insert(ref).inserted { attributes.append(ref) }
            rule.forEachComparison { c in
                guard c.kind == .fuzzy, let table = c.aliases else { return }
                for ref in c.attributes { aliasNames[ref, default: []].insert(table) }
            }
        }
        for g in groups {
            visit(g.rule)
            for c in g.relevance?.comparisons ?? [] { visit(c.rule) }
        }
        var slots: [AttributeReference: Int] = [:]
        for (i, ref) in attributes.enumerated() { slots[ref] = i }
        self.attributes = attributes
        self.slots = slots
        self.names = attributes.map(\.description)
        self.types = attributes.map { dataTypes[$0] ?? .string }
        self.isFuzzy = attributes.map { fuzzy.contains($0) }
        self.aliasUses = attributes.map { ref in (aliasNames[ref] ?? []).sorted().compactMap { aliasTables[$0] } }
        self.compiled = groups.map { CompiledRule($0.rule, dataTypes: dataTypes, slots: slots) }
        self.scoring = groups.map { g in g.relevance.map { CompiledScoring($0, dataTypes: dataTypes, slots: slots) } }
        self.tokenPrefixes = groups.map(\.tokenPrefix)
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

    /// One raw value of an attribute with the crosswalks that contributed it, normalised once.
    private struct Contribution {
        var normalized: String
        var fuzzy: FuzzyValue?
        var sources: [String]
    }

    /// The normalised values of `entity` for every attribute the groups read: the whole, and one value set
    /// per contributing crosswalk when there are several.
    public func profile(_ entity: Entity) -> MatchProfile {
        var perSlot: [[Contribution]] = []
        perSlot.reserveCapacity(attributes.count)
        var crosswalks = Set<String>()
        for (slot, ref) in attributes.enumerated() {
            let type = types[slot]
            let tables = aliasUses[slot]
            var list: [Contribution] = []
            for (raw, sources) in ref.valuesWithSources(in: entity) {
                let n = Normalizer.normalize(raw, dataType: type)
                var f: FuzzyValue?
                if isFuzzy[slot] {
                    var v = FuzzyValue(raw: raw, dataType: type)
                    for t in tables { v.aliases[t.name] = t.canonicalNames(of: v.text) }
                    f = v
                }
                list.append(Contribution(normalized: n, fuzzy: f, sources: sources))
                crosswalks.formUnion(sources)
            }
            perSlot.append(list)
        }
        func valueSet(_ include: (Contribution) -> Bool) -> ValueSet {
            var set = ValueSet(values: [], fuzzy: [])
            set.values.reserveCapacity(perSlot.count)
            set.fuzzy.reserveCapacity(perSlot.count)
            for (slot, list) in perSlot.enumerated() {
                // Sets, not `contains` on arrays: a tenant may allow 100,000 values per attribute.
                var normalized = Set<String>()
                var forms: [FuzzyValue] = []
                var seenForms = Set<String>()
                for c in list where include(c) {
                    if !c.normalized.isEmpty { normalized.insert(c.normalized) }
                    if let f = c.fuzzy, !f.text.isEmpty, seenForms.insert(f.text + "\u{0}" + f.phonetic).inserted {
                        forms.append(f)
                    }
                }
                set.values.append(normalized.sorted())
                set.fuzzy.append(isFuzzy[slot] ? forms.sorted { $0.text < $1.text } : [])
            }
            return set
        }
        let whole = valueSet { _ in true }
        guard crosswalks.count > 1 else {
            return MatchProfile(entityType: entity.type, whole: whole, contributors: [whole], slots: slots)
        }
        var contributors: [ValueSet] = []
        var distinct = Set<[[String]]>()
        // Bounded work for an entity with very many crosswalks: the first ones (by id), then the whole.
        let ids = crosswalks.sorted()
        for (n, id) in ids.enumerated() {
            if contributors.count == MatchEngine.maxContributorsCompared - 1 || n == 4 * MatchEngine.maxContributorsCompared {
                contributors.append(whole)
                break
            }
            let set = valueSet { $0.sources.isEmpty || $0.sources.contains(id) }
            if distinct.insert(set.values).inserted { contributors.append(set) }
        }
        return MatchProfile(entityType: entity.type, whole: whole, contributors: contributors, slots: slots)
    }

    /// Evaluates every group on the pair. Symmetric: `evaluate(a, b) == evaluate(b, a)`.
    /// Entities of different types never match.
    public func evaluate(_ a: Entity, _ b: Entity) -> MatchVerdict {
        guard a.type == b.type, !groups.isEmpty else { return MatchVerdict() }
        return evaluate(profile(a), profile(b))
    }

    /// `evaluate` on profiles made by `profile(_:)`.
    ///
    /// Negative groups compare the two wholes. The automatic and suspect groups hold when they hold for
    /// some pair of contributors (one of each entity), and a relevance group scores the best such pair.
    public func evaluate(_ a: MatchProfile, _ b: MatchProfile) -> MatchVerdict {
        var verdict = MatchVerdict()
        guard a.entityType == b.entityType else { return verdict }
        var holds = [Bool](repeating: false, count: groups.count)
        var best: [GroupScore?] = Array(repeating: nil, count: groups.count)
        for (i, g) in groups.enumerated() where g.type == .negative {
            holds[i] = compiled[i].holds(a.whole, b.whole, threshold: g.fuzzyThreshold)
        }
        for x in a.contributors {
            for y in b.contributors {
                for (i, g) in groups.enumerated() where g.type != .negative {
                    if let s = scoring[i] {
                        let score = s.score(x, y, group: g)
                        if best[i] == nil || score.score > best[i]!.score { best[i] = score }
                    } else if !holds[i] {
                        holds[i] = compiled[i].holds(x, y, threshold: g.fuzzyThreshold)
                    }
                }
            }
        }
        for (i, g) in groups.enumerated() {
            if let score = best[i], let s = g.relevance {
                verdict.scores.append(score)
                if let t = s.mergeThreshold, score.score >= t {
                    verdict.automatic.append(g.uri)
                } else if let t = s.potentialMatchThreshold, score.score >= t {
                    verdict.suspect.append(g.uri)
                }
                continue
            }
            guard holds[i] else { continue }
            switch g.type {
            case .automatic: verdict.automatic.append(g.uri)
            case .suspect: verdict.suspect.append(g.uri)
            case .negative: verdict.negative = true
            case .relevance: break
            }
        }
        return verdict
    }
}

/// A relevance group's weighted comparisons, compiled.
struct CompiledScoring: Sendable {
    struct Weighted: Sendable {
        var rule: CompiledRule
        /// The slots of the attributes the rule reads (a conflict needs values for each on both sides).
        var slots: [Int]
        var weight: Double
        var mismatchWeight: Double
    }

    var comparisons: [Weighted]
    var total: Double
    /// The comparisons' indexes by weight, heaviest first: the order they are evaluated in.
    var order: [Int]
    /// The raw sum below which a pair reaches no threshold.
    var lowest: Double

    init(_ scoring: RelevanceScoring, dataTypes: [AttributeReference: AttributeDataType], slots: [AttributeReference: Int]) {
        let compiled = scoring.comparisons.map {
            Weighted(
                rule: CompiledRule($0.rule, dataTypes: dataTypes, slots: slots), slots: $0.rule.attributes.map { slots[$0]! },
                weight: $0.weight, mismatchWeight: $0.mismatchWeight)
        }
        comparisons = compiled
        total = scoring.totalWeight
        order = compiled.indices.sorted { (-compiled[$0].weight, $0) < (-compiled[$1].weight, $1) }
        lowest = scoring.lowestThreshold * total
    }

    /// The pair's score. The comparisons are evaluated heaviest first, and a pair stops being scored as soon as
    /// the weights left cannot lift it to the lowest threshold: such a pair is neither merged nor suggested, and its
    /// score is the sum up to that point (the comparisons left contribute 0).
    func score(_ a: ValueSet, _ b: ValueSet, group: MatchGroup) -> GroupScore {
        var sum = 0.0
        var remaining = total
        var contributions = [Double](repeating: 0, count: comparisons.count)
        for i in order {
            let c = comparisons[i]
            remaining -= c.weight
            if c.rule.holds(a, b, threshold: group.fuzzyThreshold) {
                sum += c.weight
                contributions[i] = c.weight
            } else if c.mismatchWeight > 0, c.slots.allSatisfy({ a.hasValues($0) && b.hasValues($0) }) {
                sum -= c.mismatchWeight
                contributions[i] = -c.mismatchWeight
            }
            if sum + remaining < lowest { break }
        }
        let score = total > 0 ? min(1, max(0, sum / total)) : 0
        return GroupScore(uri: group.uri, score: score, contributions: contributions)
    }
}

/// A comparison with options, its attributes as slots.
struct CompiledComparison: Sendable {
    var kind: Comparison.Kind
    var slots: [Int]
    var anyOrder: Bool
    var aliases: String?
    var minLength: Int
    var sameYearAndMonth: Bool

    init(_ c: Comparison, slots: [AttributeReference: Int]) {
        kind = c.kind
        self.slots = c.attributes.map { slots[$0]! }
        anyOrder = c.anyOrder
        aliases = c.aliases
        minLength = c.minLength
        sameYearAndMonth = c.sameYearAndMonth
    }

    /// Whether attribute slot `l` of `a` and slot `r` of `b` compare equal under this comparison.
    func pair(_ a: ValueSet, _ l: Int, _ b: ValueSet, _ r: Int, threshold: Double) -> Bool {
        switch kind {
        case .exact:
            return shareSorted(a.values[l], b.values[r])
        case .fuzzy:
            let y = b.fuzzy[r]
            for fx in a.fuzzy[l] where y.contains(where: { fx.matches($0, threshold: threshold, aliases: aliases) }) {
                return true
            }
            return false
        case .similarCode:
            let y = b.values[r]
            for v in a.values[l] where y.contains(where: { CodeSimilarity.similar(v, $0, minLength: minLength) }) {
                return true
            }
            return false
        case .similarDate:
            let y = b.values[r]
            for v in a.values[l]
            where y.contains(where: { CodeSimilarity.similarDate(v, $0, sameYearAndMonth: sameYearAndMonth) }) {
                return true
            }
            return false
        }
    }

    func holds(_ a: ValueSet, _ b: ValueSet, threshold: Double) -> Bool {
        guard anyOrder else { return slots.allSatisfy { pair(a, $0, b, $0, threshold: threshold) } }
        for p in permutations(slots.count)
        where slots.indices.allSatisfy({ pair(a, slots[$0], b, slots[p[$0]], threshold: threshold) }) {
            return true
        }
        return false
    }
}

/// A rule with its attributes as slots and the constants of `equals` normalised once.
indirect enum CompiledRule: Sendable {
    case and([CompiledRule])
    case or([CompiledRule])
    case exact([Int])
    case exactOrNull([Int])
    case exactOrAllNull([Int])
    case fuzzy([Int])
    case notExactSame([Int])
    case equals([(Int, String)])
    case compare(CompiledComparison)

    init(_ rule: MatchRule, dataTypes: [AttributeReference: AttributeDataType], slots: [AttributeReference: Int]) {
        func s(_ refs: [AttributeReference]) -> [Int] { refs.map { slots[$0]! } }
        switch rule {
        case .and(let rules): self = .and(rules.map { CompiledRule($0, dataTypes: dataTypes, slots: slots) })
        case .or(let rules): self = .or(rules.map { CompiledRule($0, dataTypes: dataTypes, slots: slots) })
        case .exact(let refs): self = .exact(s(refs))
        case .exactOrNull(let refs): self = .exactOrNull(s(refs))
        case .exactOrAllNull(let refs): self = .exactOrAllNull(s(refs))
        case .fuzzy(let refs): self = .fuzzy(s(refs))
        case .notExactSame(let refs): self = .notExactSame(s(refs))
        case .equals(let pairs):
            self = .equals(
                pairs.map { (slots[$0.0]!, Normalizer.normalize($0.1, dataType: dataTypes[$0.0] ?? .string)) })
        case .compare(let c): self = .compare(CompiledComparison(c, slots: slots))
        }
    }

    func holds(_ a: ValueSet, _ b: ValueSet, threshold: Double) -> Bool {
        switch self {
        case .and(let rules):
            return rules.allSatisfy { $0.holds(a, b, threshold: threshold) }
        case .or(let rules):
            return rules.contains { $0.holds(a, b, threshold: threshold) }
        case .exact(let slots):
            return slots.allSatisfy { shareSorted(a.values[$0], b.values[$0]) }
        case .exactOrNull(let slots):
            return slots.allSatisfy { i in
                let x = a.values[i], y = b.values[i]
                return x.isEmpty || y.isEmpty || shareSorted(x, y)
            }
        case .exactOrAllNull(let slots):
            return slots.allSatisfy { i in
                let x = a.values[i], y = b.values[i]
                return (x.isEmpty && y.isEmpty) || shareSorted(x, y)
            }
        case .fuzzy(let slots):
            return slots.allSatisfy { i in
                let y = b.fuzzy[i]
                return a.fuzzy[i].contains { fx in y.contains { fx.matches($0, threshold: threshold) } }
            }
        case .notExactSame(let slots):
            return slots.allSatisfy { i in
                let x = a.values[i], y = b.values[i]
                return !x.isEmpty && !y.isEmpty && !shareSorted(x, y)
            }
        case .equals(let pairs):
            return pairs.allSatisfy { i, value in a.values[i].contains(value) && b.values[i].contains(value) }
        case .compare(let c):
            return c.holds(a, b, threshold: threshold)
        }
    }
}

/// Every ordering of 0..<n (n ≤ 3: the attributes a comparison may list in any order).
func permutations(_ n: Int) -> [[Int]] {
    switch n {
    case 0: return [[]]
    case 1: return [[0]]
    case 2: return [[0, 1], [1, 0]]
    case 3: return [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
    default: return [Array(0..<n)]
    }
}

