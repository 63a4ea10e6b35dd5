import HeraldModel

/// What a filter is evaluated against: one entity and, optionally, the event's delta.
public struct FilterSubject: Sendable {
    /// The entity; for merge events the caller passes the winner's snapshot.
    public var entity: Entity
    /// The event's delta, or nil when it is unknown (then every `changes(...)` is false).
    public var delta: Delta?
    /// When true, only operational values (`ov == true`) count, for attribute values and delta items alike.
    public var ovOnly: Bool

    public init(entity: Entity, delta: Delta? = nil, ovOnly: Bool = false) {
        self.entity = entity
        self.delta = delta
        self.ovOnly = ovOnly
    }
}
