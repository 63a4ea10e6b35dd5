import HeraldModel

/// The CRUD queue (transactional outbox) inside one write transaction: events commit with the entity
/// changes that caused them, or not at all.
public protocol EventLogTransaction {
    /// Appends an event of `tenant` to the queue. Its sequence number is assigned by the store no later than
    /// the commit, in commit order: a consumer reading `seq > cursor` never skips an event that commits late.
    func appendEvent(tenant: String, _ event: NewEvent) throws
    /// Deletes at most `limit` events of `tenant` with `seq <= upTo` and `time < olderThan` (compaction).
    /// - Returns: how many were deleted.
    func deleteEvents(tenant: String, upTo seq: Int64, olderThan time: Int64, limit: Int) throws -> Int
}

/// Reading the CRUD queue, and waiting for new events.
public protocol EventLog: Sendable {
    /// Committed events of `tenant` with `seq > after`, oldest first. Never returns an event while an event with
    /// a lower sequence number can still commit.
    func events(tenant: String, after: Int64, limit: Int) async throws -> [EventRecord]
    /// Committed events of `tenant` that `query` selects, in ascending `seq` order: the oldest `query.limit` after
    /// `query.after`, or with `query.newest` the newest `query.limit` of them. Answered from indexes.
    func events(tenant: String, _ query: EventQuery) async throws -> [EventRecord]
    /// The highest sequence number in the queue (0 when empty).
    func lastSequence() async throws -> Int64
    /// The highest sequence number of a tenant (0 when it has no events).
    func lastSequence(tenant: String) async throws -> Int64
    /// The oldest sequence number still in the queue for `tenant` (nil when empty).
    func firstSequence(tenant: String) async throws -> Int64?
    /// Number of events in the queue for `tenant` (nil: all tenants).
    func queueLength(tenant: String?) async throws -> Int
    /// Signalled after every commit that may have added events (delivery workers wait on it).
    var commits: CommitSignal { get }
}

extension EventLog {
    public func queueLength() async throws -> Int { try await queueLength(tenant: nil) }
}
