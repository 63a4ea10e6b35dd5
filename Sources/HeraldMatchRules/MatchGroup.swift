/// What a match group does when its rule holds for a pair.
public enum MatchGroupType: String, Sendable, CaseIterable {
    /// Merge the pair.
    case automatic
    /// Report the pair as a potential match (`POTENTIAL_MATCHES_FOUND`).
    case suspect
    /// Never merge or suggest the pair, whatever other groups say.
    case negative
    /// Score the pair (weighted comparisons) and merge it, or report it as a potential match, by thresholds.
    case relevance
}

/// The scoring of a `relevance` group: weighted comparisons and the thresholds of the two actions.
///
/// The score of a pair is (Σ weight of the comparisons that hold − Σ mismatchWeight of those that fail
/// while both entities have values for every attribute they read) / Σ weight, kept within 0…1.
public struct RelevanceScoring: Sendable {
    public struct WeightedComparison: Sendable {
        public var rule: MatchRule
        public var weight: Double
        /// Subtracted when the rule fails and both sides have values for every attribute it reads (a conflict,
        /// not a gap).
        public var mismatchWeight: Double
        public var label: String
        /// Whether the comparison's match tokens find candidates (`"findsCandidates": false` saves the index
        /// entries of a coarse comparison, such as a postal code, that only adds to the score).
        public var findsCandidates: Bool

        public init(
            rule: MatchRule, weight: Double, mismatchWeight: Double = 0, label: String? = nil, findsCandidates: Bool = true
        ) {
            self.rule = rule
            self.weight = weight
            self.mismatchWeight = mismatchWeight
            self.label = label ?? rule.description
            self.findsCandidates = findsCandidates
        }

        /// Whether candidates are looked up through this comparison's tokens.
        public var givesTokens: Bool { findsCandidates && rule.yieldsTokens }
    }

    public var comparisons: [WeightedComparison]
    /// Score at or above which the pair is merged (nil: never).
    public var mergeThreshold: Double?
    /// Score at or above which the pair is a potential match (nil: never).
    public var potentialMatchThreshold: Double?

    public init(comparisons: [WeightedComparison], mergeThreshold: Double?, potentialMatchThreshold: Double?) {
        self.comparisons = comparisons
        self.mergeThreshold = mergeThreshold
        self.potentialMatchThreshold = potentialMatchThreshold
    }

    public var totalWeight: Double { comparisons.reduce(0) { $0 + $1.weight } }

    /// The lowest score that leads to an action.
    public var lowestThreshold: Double {
        [mergeThreshold, potentialMatchThreshold].compactMap { $0 }.min() ?? 1
    }

    /// The rule whose match tokens find a relevance group's candidates: any comparison that gives tokens.
    public var candidateRule: MatchRule {
        let tokenable = comparisons.filter(\.givesTokens).map(\.rule)
        return tokenable.count == 1 ? tokenable[0] : .or(tokenable)
    }
}

/// A relevance group's score for one pair, with what each comparison contributed.
public struct GroupScore: Sendable, Equatable {
    public var uri: String
    /// 0…1.
    public var score: Double
    /// Per comparison of the group, in configuration order: +weight (holds), −mismatchWeight (conflicts) or 0.
    public var contributions: [Double]

    public init(uri: String, score: Double, contributions: [Double]) {
        self.uri = uri
        self.score = score
        self.contributions = contributions
    }

    /// `uri|0.8125|3,0,-2`: the form kept with potential matches and merge records (where rule-based groups
    /// are kept as their URI).
    public var encoded: String {
        uri + "|" + GroupScore.format(score) + "|" + contributions.map(GroupScore.format).joined(separator: ",")
    }

    /// Reads `encoded`; nil for a plain group URI.
    public init?(encoded: String) {
        let parts = encoded.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count >= 3, let score = Double(parts[parts.count - 2]) else { return nil }
        let list = parts[parts.count - 1]
        var contributions: [Double] = []
        if !list.isEmpty {
            for piece in list.split(separator: ",") {
                guard let d = Double(piece) else { return nil }
                contributions.append(d)
            }
        }
        self.init(uri: parts[..<(parts.count - 2)].joined(separator: "|"), score: score, contributions: contributions)
    }

    /// The group URI of a recorded entry (plain URI or `encoded` form).
    public static func groupURI(of recorded: String) -> String {
        GroupScore(encoded: recorded)?.uri ?? recorded
    }

    /// Up to 4 decimals, no trailing zeros (`0.8125`, `3`, `-2.5`).
    static func format(_ x: Double) -> String {
        let scaled = (x * 10_000).rounded() / 10_000
        if scaled == scaled.rounded() { return String(Int(scaled)) }
        return String(scaled)
    }
}

/// One entry of `entityTypes[].matchGroups[]`.
public struct MatchGroup: Sendable {
    /// `configuration/entityTypes/{Type}/matchGroups/{Name}`.
    public var uri: String
    public var label: String
    public var type: MatchGroupType
    public var rule: MatchRule
    /// Jaro-Winkler similarity at or above which two values are `fuzzy`-equal (default 0.9).
    public var fuzzyThreshold: Double
    /// The weighted comparisons and thresholds of a `relevance` group (nil for the others, whose `rule` decides).
    /// A relevance group's `rule` is `relevance.candidateRule`: it gives the group's match tokens.
    public var relevance: RelevanceScoring?

    public static let defaultFuzzyThreshold = 0.9

    public init(
        uri: String, label: String? = nil, type: MatchGroupType, rule: MatchRule,
        fuzzyThreshold: Double = MatchGroup.defaultFuzzyThreshold
    ) {
        self.uri = uri
        self.label = label ?? String(uri.split(separator: "/").last ?? "")
        self.type = type
        self.rule = rule
        self.fuzzyThreshold = fuzzyThreshold
    }

    /// A `relevance` group.
    public init(
        uri: String, label: String? = nil, relevance: RelevanceScoring,
        fuzzyThreshold: Double = MatchGroup.defaultFuzzyThreshold
    ) {
        self.init(uri: uri, label: label, type: .relevance, rule: relevance.candidateRule, fuzzyThreshold: fuzzyThreshold)
        self.relevance = relevance
    }

    /// The prefix of this group's match tokens: `Individual/EmailAndName` for
    /// `configuration/entityTypes/Individual/matchGroups/EmailAndName`, else the URI itself.
    public var tokenPrefix: String {
        let typePrefix = "configuration/entityTypes/"
        guard uri.hasPrefix(typePrefix), let r = uri.firstRange(of: "/matchGroups/") else { return uri }
        return String(uri[uri.index(uri.startIndex, offsetBy: typePrefix.count)..<r.lowerBound]) + "/"
            + String(uri[r.upperBound...])
    }
}

/// The outcome of evaluating every match group of an entity type on one pair.
public struct MatchVerdict: Sendable, Equatable {
    /// URIs of the automatic groups whose rule holds, in configuration order.
    public var automatic: [String]
    /// URIs of the suspect groups whose rule holds, in configuration order.
    public var suspect: [String]
    /// Whether a negative group's rule holds: the pair must never be merged or suggested.
    public var negative: Bool
    /// The score of every relevance group (whether or not it reached a threshold), in configuration order.
    /// A relevance group that reaches its merge threshold is listed in `automatic`, one that reaches its
    /// potential-match threshold in `suspect`. A pair that cannot reach the lowest threshold is scored only until
    /// that is certain (heaviest comparisons first): its score is the sum so far, the comparisons left count 0.
    public var scores: [GroupScore]

    public init(automatic: [String] = [], suspect: [String] = [], negative: Bool = false, scores: [GroupScore] = []) {
        self.automatic = automatic
        self.suspect = suspect
        self.negative = negative
        self.scores = scores
    }

    /// `groups` (from `automatic` or `suspect`) as they are recorded: a relevance group as `GroupScore.encoded`
    /// (with its score and contributions), the others as their URI.
    public func recorded(_ groups: [String]) -> [String] {
        groups.map { uri in scores.first { $0.uri == uri }?.encoded ?? uri }
    }

    /// Merge the pair.
    public var merges: Bool { !negative && !automatic.isEmpty }
    /// Report the pair as a potential match: a suspect group holds, no automatic one does, no negative one.
    public var isPotentialMatch: Bool { !negative && automatic.isEmpty && !suspect.isEmpty }
}
