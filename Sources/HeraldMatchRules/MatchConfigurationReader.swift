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
        return EntityMatching(groups: groups, survivorship: survivorship, aliasTables: aliasTables)
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
        if let uri, uri.contains(where: { $0 == "|" || $0.isWhitespace }) {
            g.report("uri", "a match group's name may not contain '|' or spaces")
        }
        let label = g.string("label")
        let typeName = g.string("type", required: true)
        var type: MatchGroupType?
        if let typeName {
            type = MatchGroupType(rawValue: typeName)
            if type == nil {
                let known = MatchGroupType.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
                g.report("type", "'\(typeName)' is not one of \(known) (custom types are not supported)")
            }
        }
        let threshold = g.double("fuzzyThreshold", in: 0...1)
        if type == .relevance {
            let scoring = readRelevance(&g, entityType: entityType, aliasTables: aliasTables)
            guard let uri, let scoring else { return nil }
            if threshold != nil && scoring.comparisons.allSatisfy({ $0.rule.fuzzyAttributes.isEmpty }) {
                g.report("fuzzyThreshold", "no comparison is fuzzy; remove 'fuzzyThreshold'")
            }
            return MatchGroup(
                uri: uri, label: label, relevance: scoring, fuzzyThreshold: threshold ?? MatchGroup.defaultFuzzyThreshold)
        }
        var parsed: ParsedRule?
        if let ruleJSON = g.value("rule", required: true) {
            parsed = RuleReader(entityType: entityType, issues: g.issues, aliasTables: aliasTables)
                .readRoot(ruleJSON, at: g.path + "rule")
        }
        guard let uri, let type, let parsed else { return nil }
        if type != .negative, let badPath = parsed.untokenablePath {
            g.issues.report(
                badPath,
                "this rule yields no match token: every 'or' branch needs an exact, fuzzy, similarCode, similarDate "
                    + "or equals comparison (exactOrNull, exactOrAllNull and notExactSame hold without shared values, "
                    + "so candidates could not be found by token lookup); add one, or make the group 'negative'")
        }
        if threshold != nil && parsed.rule.fuzzyAttributes.isEmpty {
            g.report("fuzzyThreshold", "the rule has no fuzzy comparison; remove 'fuzzyThreshold'")
        }
        return MatchGroup(
            uri: uri, label: label, type: type, rule: parsed.rule,
            fuzzyThreshold: threshold ?? MatchGroup.defaultFuzzyThreshold)
    }

    /// The `comparisons` and `thresholds` of a relevance group.
    static func readRelevance(
        _ g: inout JSONObjectReader, entityType: EntityTypeDefinition, aliasTables: AliasTables
    ) -> RelevanceScoring? {
        if g.members.contains(where: { $0.key == "rule" }) {
            _ = g.value("rule")
            g.report("rule", "a relevance group has 'comparisons' (each a rule with a weight) instead of one 'rule'")
        }
        var failed = false
        let comparisons =
            g.objects("comparisons", required: true) { c -> RelevanceScoring.WeightedComparison? in
                var parsed: ParsedRule?
                if let ruleJSON = c.value("rule", required: true) {
                    parsed = RuleReader(entityType: entityType, issues: c.issues, aliasTables: aliasTables)
                        .readRoot(ruleJSON, at: c.path + "rule")
                }
                let weight = c.double("weight", in: 0...1_000)
                if c.members.first(where: { $0.key == "weight" }) == nil { c.report("weight", "required key 'weight' is missing") }
                let mismatch = c.double("mismatchWeight", in: 0...1_000) ?? 0
                let label = c.string("label")
                let findsCandidates = c.bool("findsCandidates") ?? true
                if let weight, weight == 0 { c.report("weight", "must be more than 0") }
                guard let parsed, let weight, weight > 0 else {
                    failed = true
                    return nil
                }
                return RelevanceScoring.WeightedComparison(
                    rule: parsed.rule, weight: weight, mismatchWeight: mismatch, label: label,
                    findsCandidates: findsCandidates)
            } ?? []
        if g.members.contains(where: { $0.key == "comparisons" }) && comparisons.isEmpty && !failed {
            g.report("comparisons", "a relevance group needs at least one comparison")
            failed = true
        }
        if comparisons.count > 64 {
            g.report("comparisons", "at most 64 comparisons per group (found \(comparisons.count))")
            failed = true
        }
        var merge: Double?
        var potential: Double?
        let thresholdsGiven = g.object("thresholds", required: true) { t -> Bool in
            merge = t.double("merge", in: 0...1)
            potential = t.double("potentialMatch", in: 0...1)
            if merge == nil && potential == nil && !t.members.contains(where: { ["merge", "potentialMatch"].contains($0.key) }) {
                t.report("merge", "give 'merge', 'potentialMatch' or both (scores 0…1)")
                return false
            }
            if let m = merge, let p = potential, p > m {
                t.report("potentialMatch", "\(p) is above the merge threshold \(m): a pair that scores it would be merged")
                return false
            }
            for (key, value) in [("merge", merge), ("potentialMatch", potential)] where value == 0 {
                t.report(key, "a threshold of 0 would act on every candidate; use a score above 0")
                return false
            }
            return true
        }
        guard !failed, thresholdsGiven == true else { return nil }
        let scoring = RelevanceScoring(comparisons: comparisons, mergeThreshold: merge, potentialMatchThreshold: potential)
        // Candidates are found through the comparisons that yield tokens: the others must not reach a threshold alone.
        let untokenable = comparisons.filter { !$0.givesTokens }.reduce(0) { $0 + $1.weight }
        if comparisons.allSatisfy({ !$0.givesTokens }) {
            g.report(
                "comparisons",
                "no comparison finds candidates (exact, fuzzy, similarCode, similarDate or equals, without "
                    + "\"findsCandidates\": false): candidates could not be found")
            return nil
        }
        if untokenable >= scoring.lowestThreshold * scoring.totalWeight {
            g.report(
                "comparisons",
                "the comparisons that find no candidates (exactOrNull, exactOrAllNull, notExactSame, or "
                    + "\"findsCandidates\": false) weigh "
                    + "\(GroupScore.format(untokenable)) of \(GroupScore.format(scoring.totalWeight)), enough to reach the "
                    + "threshold \(GroupScore.format(scoring.lowestThreshold)) alone: such a pair could not be found by token "
                    + "lookup; lower their weight or raise the threshold")
            return nil
        }
        return scoring
    }
}
