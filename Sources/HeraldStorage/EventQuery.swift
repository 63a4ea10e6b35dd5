import HeraldModel

/// Which events of a tenant's queue a reader wants: the events API's `type`, `objectUri`, `after`, `limit` and `tail`.
///
/// A type filter reads the index `events(tenant, type, seq)`, so a rare type costs what it returns. One object's
/// events (`objectURI`) are found by scanning at most `objectScanLimit` of the tenant's newest events after `after`:
/// an index by object would take random-place inserts on the queue's hot path (measured: raw event inserts from about
/// 56,000/s to 13,000/s at 300,000 events), for a lookup only an operator's page makes.
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

    /// How many of the tenant's newest events (after `after`) an `objectURI` query looks at: about 0.2 s of reading.
    public static let objectScanLimit = 200_000

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
