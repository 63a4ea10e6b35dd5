import HeraldMatchRules
import HeraldModel

/// An entity type's match rules compiled for the ingest stage: the engine (normalisers, tokens,
/// comparisons) built once per configuration load, and the survivorship rules.
public struct CompiledMatching: Sendable {
    public let rules: EntityMatching
    public let engine: MatchEngine

    public init(_ rules: EntityMatching, entityType: EntityTypeDefinition) {
        self.rules = rules
        engine = MatchEngine(entityType: entityType, groups: rules.groups, aliasTables: rules.aliasTables)
    }

    public var groups: [MatchGroup] { rules.groups }
    public var survivorship: SurvivorshipRules { rules.survivorship }
}
