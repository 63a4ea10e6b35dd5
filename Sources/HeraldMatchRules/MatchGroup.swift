/// What a match group does when its rule holds for a pair.
public enum MatchGroupType: String, Sendable, CaseIterable {
    /// Merge the pair.
    case automatic
    /// Report the pair as a potential match (`POTENTIAL_MATCHES_FOUND`).
    case suspect
    /// Never merge or suggest the pair, whatever other groups say.
    case negative
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

    public init(automatic: [String] = [], suspect: [String] = [], negative: Bool = false) {
        self.automatic = automatic
        self.suspect = suspect
        self.negative = negative
    }

    /// Merge the pair.
    public var merges: Bool { !negative && !automatic.isEmpty }
    /// Report the pair as a potential match: a suspect group holds, no automatic one does, no negative one.
    public var isPotentialMatch: Bool { !negative && automatic.isEmpty && !suspect.isEmpty }
}
