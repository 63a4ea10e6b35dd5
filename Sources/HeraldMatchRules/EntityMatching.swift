import HeraldModel

/// The match rules of one entity type, as configured: plain values (`matchGroups`, survivorship).
/// `HeraldMatch` compiles them into a `MatchEngine` (`CompiledMatching`); the configuration holds
/// only these.
public struct EntityMatching: Sendable {
    public var groups: [MatchGroup]
    public var survivorship: SurvivorshipRules
    /// The alias tables the groups' fuzzy comparisons may name (the shipped ones and the tenant's own).
    public var aliasTables: AliasTables

    public init(
        groups: [MatchGroup] = [], survivorship: SurvivorshipRules = .lastUpdateWins, aliasTables: AliasTables = .shipped
    ) {
        self.groups = groups
        self.survivorship = survivorship
        self.aliasTables = aliasTables
    }
}
