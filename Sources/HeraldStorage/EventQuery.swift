import HeraldModel

/// Which events of a tenant's queue a reader wants: the events API's `type`, `objectUri`, `after`, `limit` and `tail`.
///
/// Every store answers it from indexes (`events(tenant, type, seq)` and `events(tenant, object_uri, seq)`), never by
/// scanning the tenant's queue, so a rare type or one entity's history costs what it returns.
public struct EventQuery: Sendable, Equatable {
    /// Only these types (nil: every type). Never empty.
    public var types: Set<EventType>?
    /// Only the events of this object (`entities/ID`): those whose `objectUri` it is, and the merge events
    /// (`mergeTypes`) whose `uris` name it.
    public var objectURI: String?
    /// Only events with `seq > after`.
    public var after: Int64
    /// At most this many events.
    public var limit: Int
    /// The newest `limit` matching events instead of the oldest (the answer is still in ascending `seq` order).
    public var newest: Bool

    public init(
        types: Set<EventType>? = nil, objectURI: String? = nil, after: Int64 = 0, limit: Int, newest: Bool = false
    ) {
        self.types = types.flatMap { $0.isEmpty ? nil : $0 }
        self.objectURI = objectURI
        self.after = after
        self.limit = limit
        self.newest = newest
    }

    /// The event types whose `uris` name every participant of a merge or split; `objectURI` finds these by `uris` too.
    public static let mergeTypes: [EventType] = [.entitiesMerged, .entityLostMerge, .entitiesSplitted]

    /// Whether `record` is one this query asks for (what the stores' SQL selects, for tests and in-memory readers).
    public func matches(_ record: EventRecord) -> Bool {
        if record.seq <= after { return false }
        if let types, !types.contains(record.type) { return false }
        if let objectURI, record.event.objectURI != objectURI {
            return Self.mergeTypes.contains(record.type) && record.event.uris.contains(objectURI)
        }
        return true
    }

    /// The types to read, in a stable order (all of them when `types` is nil).
    public var typeList: [EventType] {
        guard let types else { return EventType.allCases }
        return EventType.allCases.filter { types.contains($0) }
    }
}
