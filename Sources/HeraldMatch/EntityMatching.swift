import HeraldModel

/// Everything the match stage knows about one entity type: its match groups, the engine built from
/// them, and its survivorship rules.
public struct EntityMatching: Sendable {
    public var groups: [MatchGroup]
    public var survivorship: SurvivorshipRules
    public var engine: MatchEngine

    public init(
        entityType: EntityTypeDefinition, groups: [MatchGroup] = [], survivorship: SurvivorshipRules = .lastUpdateWins
    ) {
        self.groups = groups
        self.survivorship = survivorship
        self.engine = MatchEngine(entityType: entityType, groups: groups)
    }
}
