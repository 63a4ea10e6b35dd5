import HeraldJSON
import HeraldModel

/// Reads `matchGroups` and `survivorshipGroups` of one entity type from the configuration.
///
/// Every problem is reported into the reader's issues with its JSON path; what could be read is still
/// returned, so `herald config check` lists all problems at once.
public enum MatchConfigurationReader {
    /// Reads the two keys from the entity type's object (marking them as known keys of `r`).
    ///
    /// - Parameters:
    ///   - entityType: the type's attributes, as already read from the same object.
    ///   - sources: the tenant's declared sources (`sourcesUriOrder` may name only these and the built-in
    ///     `configuration/sources/Herald`).
    public static func read(
        _ r: inout JSONObjectReader, entityType: EntityTypeDefinition, sources: [SourceDefinition],
        aliasTables: AliasTables = .shipped
    ) -> EntityMatching {
        var seen = Set<String>()
        let groups =
            r.objects("matchGroups") { g -> MatchGroup? in
                guard let group = readGroup(&g, entityType: entityType, aliasTables: aliasTables) else { return nil }
                guard seen.insert(group.uri).inserted else {
                    g.report("uri", "duplicate match group '\(group.uri)'")
                    return nil
                }
                return group
            } ?? []
        let survivorship = readSurvivorshipGroups(&r, entityType: entityType, sources: sources)
        return EntityMatching(groups: groups, survivorship: survivorship)
    }

    static func readGroup(
        _ g: inout JSONObjectReader, entityType: EntityTypeDefinition, aliasTables: AliasTables = .shipped
    ) -> MatchGroup? {
        let uri = g.string("uri", required: true)
        let groupPrefix = entityType.uri + "/matchGroups/"
        if let uri,
            !uri.hasPrefix(groupPrefix) || uri.count == groupPrefix.count
                || uri.dropFirst(groupPrefix.count).contains("/")
        {
            g.report("uri", "'\(uri)' must look like '\(groupPrefix){Name}'")
        }
        let label = g.string("label")
        let typeName = g.string("type", required: true)
        var type: MatchGroupType?
        if let typeName {
            type = MatchGroupType(rawValue: typeName)
            if type == nil {
                let known = MatchGroupType.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                g.report(
                    "type", "'\(typeName)' is not one of \(known) (relevance-based and custom types are not supported)")
            }
        }
        let threshold = g.double("fuzzyThreshold", in: 0...1)
        var parsed: ParsedRule?
        if let ruleJSON = g.value("rule", required: true) {
            parsed = RuleReader(entityType: entityType, issues: g.issues).readRoot(ruleJSON, at: g.path + "rule")
        }
        guard let uri, let type, let parsed else { return nil }
        if type != .negative, let badPath = parsed.untokenablePath {
            g.issues.report(
                badPath,
                "this rule yields no match token: every 'or' branch needs an exact, fuzzy or equals comparison "
                    + "(exactOrNull, exactOrAllNull and notExactSame hold without shared values, so candidates "
                    + "could not be found by token lookup); add one, or make the group 'negative'")
        }
        if threshold != nil && parsed.rule.fuzzyAttributes.isEmpty {
            g.report("fuzzyThreshold", "the rule has no fuzzy comparison; remove 'fuzzyThreshold'")
        }
        return MatchGroup(
            uri: uri, label: label, type: type, rule: parsed.rule,
            fuzzyThreshold: threshold ?? MatchGroup.defaultFuzzyThreshold)
    }
}
