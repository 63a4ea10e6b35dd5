/// How the operational values (`ov`) of one attribute are chosen, in the vocabulary of
/// `survivorshipGroups[].mapping[].survivorshipStrategy`.
public enum SurvivorshipStrategy: String, Sendable, CaseIterable {
    /// The values of the most recently updated contributing crosswalk (ties: the crosswalk attached later).
    case lud = "LUD"
    /// The values of the first source in `sourcesUriOrder` that contributes.
    case sourceSystem = "SRC_SYS"
    /// The values contributed by the most crosswalks.
    case frequency = "Frequency"
    /// The values of the contributing crosswalk with the oldest `createDate`.
    case oldestValue = "OldestValue"
    /// The smallest value (numbers as numbers, dates as dates, else text).
    case minValue = "MinValue"
    /// The largest value (numbers as numbers, dates as dates, else text).
    case maxValue = "MaxValue"
    /// Every value is operational.
    case aggregation = "Aggregation"
}

/// The strategy of one attribute (`survivorshipGroups[].mapping[]`).
public struct SurvivorshipMapping: Sendable, Equatable {
    /// Short name (`FirstName`) or URI of a top-level attribute.
    public var attribute: String
    public var strategy: SurvivorshipStrategy
    /// Source URIs, highest priority first (for `SRC_SYS`, also when it is the fallback).
    public var sourcesUriOrder: [String]
    /// Decides among the values the strategy leaves tied (default `LUD`, which never ties).
    public var fallback: SurvivorshipStrategy?

    public init(
        attribute: String, strategy: SurvivorshipStrategy, sourcesUriOrder: [String] = [],
        fallback: SurvivorshipStrategy? = nil
    ) {
        self.attribute = attribute
        self.strategy = strategy
        self.sourcesUriOrder = sourcesUriOrder
        self.fallback = fallback
    }
}
