import HeraldModel

/// The survivorship of one entity type: which values of each attribute are operational (`ov`).
///
/// Each attribute uses its mapping's strategy, LUD when it has none. A strategy that cannot decide
/// (several crosswalks of the top source, equal frequencies, equal create dates, nested values for
/// Min/Max) passes the values it left tied to the mapping's fallback, then to LUD, which always decides.
/// Sub-values of a nested value follow their value. With no mappings this is exactly
/// `Survivorship.applyLastUpdateWins`.
public struct SurvivorshipRules: Sendable {
    public let mappings: [SurvivorshipMapping]
    private let byAttribute: [String: SurvivorshipMapping]

    /// LUD for every attribute: the rule of tenants without survivorship groups.
    public static let lastUpdateWins = SurvivorshipRules(mappings: [])

    public init(mappings: [SurvivorshipMapping]) {
        self.mappings = mappings
        var index: [String: SurvivorshipMapping] = [:]
        for m in mappings { index[SurvivorshipRules.attributeName(m.attribute)] = m }
        self.byAttribute = index
    }

    /// The mapping of the attribute called `name`, nil when it uses LUD by default.
    public func mapping(for name: String) -> SurvivorshipMapping? { byAttribute[name] }

    /// `configuration/entityTypes/T/attributes/FirstName` → `FirstName`; a short name stays as it is.
    static func attributeName(_ attribute: String) -> String {
        guard let r = attribute.firstRange(of: "/attributes/") else { return attribute }
        return String(attribute[r.upperBound...])
    }

    /// Sets `ov` on every value of `entity` (and on the sub-values of nested values).
    public func apply(to entity: inout Entity) {
        let context = CrosswalkContext(entity.crosswalks)
        for ai in entity.attributes.indices {
            let values = entity.attributes[ai].values
            let winners = operationalValues(values, mapping: byAttribute[entity.attributes[ai].name], context)
            for vi in entity.attributes[ai].values.indices {
                entity.attributes[ai].values[vi].setOperational(winners.contains(vi))
            }
        }
    }

    /// Indices of the operational values among `values`.
    func operationalValues(_ values: [AttributeValue], mapping: SurvivorshipMapping?, _ context: CrosswalkContext)
        -> Set<Int>
    {
        var chain: [SurvivorshipStrategy] = []
        if let mapping {
            chain.append(mapping.strategy)
            if let f = mapping.fallback { chain.append(f) }
        }
        chain.append(.lud)
        var candidates = Array(values.indices)
        for strategy in chain {
            switch select(strategy, candidates, values, order: mapping?.sourcesUriOrder ?? [], context) {
            case .decided(let winners): return Set(winners)
            case .tied(let narrowed): candidates = narrowed
            }
        }
        return Set(candidates)  // not reached: LUD always decides
    }

    enum Selection {
        case decided([Int])
        /// The strategy could not decide among these (a subset of the candidates).
        case tied([Int])
    }

    func select(
        _ strategy: SurvivorshipStrategy, _ candidates: [Int], _ values: [AttributeValue], order: [String],
        _ context: CrosswalkContext
    ) -> Selection {
        /// Known crosswalks contributing to the candidates.
        func contributors() -> [CrosswalkContext.Info] {
            var seen = Set<String>()
            var out: [CrosswalkContext.Info] = []
            for i in candidates {
                for s in values[i].sources where seen.insert(s).inserted {
                    if let info = context.info[s] { out.append(info) }
                }
            }
            return out
        }
        func contributedBy(_ ids: Set<String>) -> [Int] {
            candidates.filter { i in values[i].sources.contains { ids.contains($0) } }
        }

        switch strategy {
        case .lud:
            var winner: CrosswalkContext.Info?
            for c in contributors() {
                if let w = winner, (c.updateDate, c.position) <= (w.updateDate, w.position) { continue }
                winner = c
            }
            guard let winner else { return .decided([]) }
            return .decided(contributedBy([winner.id]))

        case .sourceSystem:
            let all = contributors()
            for source in order {
                let ofSource = all.filter { $0.type == source }
                if ofSource.isEmpty { continue }
                let chosen = contributedBy(Set(ofSource.map(\.id)))
                return ofSource.count == 1 ? .decided(chosen) : .tied(chosen)
            }
            return .tied(candidates)

        case .frequency:
            var counts: [Int: Int] = [:]
            for i in candidates { counts[i] = values[i].sources.filter { context.info[$0] != nil }.count }
            let best = counts.values.max() ?? 0
            let winners = candidates.filter { counts[$0] == best }
            return winners.count == 1 ? .decided(winners) : .tied(winners)

        case .oldestValue:
            let all = contributors()
            guard let oldest = all.map(\.createDate).min() else { return .tied(candidates) }
            let first = all.filter { $0.createDate == oldest }
            let chosen = contributedBy(Set(first.map(\.id)))
            return first.count == 1 ? .decided(chosen) : .tied(chosen)

        case .minValue, .maxValue:
            var simple: [(Int, String)] = []
            for i in candidates {
                guard let s = values[i].content.simpleValue else { return .tied(candidates) }
                simple.append((i, s))
            }
            guard !simple.isEmpty else { return .decided([]) }
            let keys = ValueOrder.keys(simple.map(\.1))
            var best = keys[0]
            for k in keys.dropFirst() {
                if strategy == .minValue ? k < best : best < k { best = k }
            }
            return .decided(simple.indices.filter { keys[$0] == best }.map { simple[$0].0 })

        case .aggregation:
            return .decided(candidates)
        }
    }
}

/// What survivorship needs to know about an entity's crosswalks.
struct CrosswalkContext {
    struct Info {
        var id: String
        var type: String
        var createDate: Int64
        var updateDate: Int64
        /// Position in the entity's crosswalk list: later attached wins LUD ties.
        var position: Int
    }

    var info: [String: Info] = [:]

    init(_ crosswalks: [Crosswalk]) {
        for (position, c) in crosswalks.enumerated() {
            info[c.id] = Info(
                id: c.id, type: c.type, createDate: c.createDate, updateDate: c.updateDate, position: position)
        }
    }
}

/// Orders the values of one attribute for MinValue / MaxValue: as numbers when all parse as numbers, as
/// dates (or date-times) when all are dates, else as folded text.
enum ValueOrder: Comparable {
    case number(Double)
    case instant(Int64)
    case text(String, String)

    static func keys(_ values: [String]) -> [ValueOrder] {
        let numbers = values.map { Normalizer.canonicalNumber($0).flatMap(Double.init) }
        if numbers.allSatisfy({ $0 != nil }) { return numbers.map { .number($0!) } }
        let instants = values.map { v -> Int64? in
            if isISODate(v) { return parseISODateTime(v + "T00:00:00Z") }
            return parseISODateTime(v)
        }
        if instants.allSatisfy({ $0 != nil }) { return instants.map { .instant($0!) } }
        return values.map { .text(TextFolding.fold($0), $0) }
    }

    static func < (lhs: ValueOrder, rhs: ValueOrder) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): return a < b
        case (.instant(let a), .instant(let b)): return a < b
        case (.text(let a, let ra), .text(let b, let rb)): return a == b ? ra < rb : a < b
        default: return false
        }
    }
}
