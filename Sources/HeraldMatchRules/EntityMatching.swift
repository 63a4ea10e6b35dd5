import HeraldModel

/// The match rules of one entity type, as configured: plain values (`matchGroups`, survivorship).
/// `HeraldMatch` compiles them into a `MatchEngine` (`CompiledMatching`); the configuration holds
/// only these.
public struct EntityMatching: Sendable {
    public var groups: [MatchGroup]
    public var survivorship: SurvivorshipRules

    public init(groups: [MatchGroup] = [], survivorship: SurvivorshipRules = .lastUpdateWins) {
        self.groups = groups
        self.survivorship = survivorship
    }
}
