import HeraldModel

/// Each destination's delivery bookkeeping inside one write transaction: its cursor in the queue, its retry
/// schedule and its dead letters, all keyed by `DestinationKey` (tenant and destination id together).
public protocol DeliveryTransaction {
    /// Moves a destination's cursor (creating it if needed).
    func setCursor(_ key: DestinationKey, seq: Int64, now: Int64) throws
    /// The fencing check: throws `LEASE_LOST` unless `lease` (its holder and token) still holds `key` and has not
    /// lapsed by the database's clock. Until the transaction ends no other node can take the lease (PostgreSQL:
    /// the lease row is share-locked), so the writes that follow in the transaction are the holder's.
    func verifyLease(_ key: DestinationKey, _ lease: LeaseFence) throws
    /// Puts a message into a destination's retry schedule (or updates its entry).
    func scheduleRetry(_ key: DestinationKey, _ entry: RetryEntry) throws
    func deleteRetry(_ key: DestinationKey, seq: Int64) throws
    /// Makes the earliest held message of `messageKey` due at `at` (after the message before it finished).
    func releaseHeld(_ key: DestinationKey, messageKey: String, at: Int64) throws
    /// Stores a dead letter; returns its id.
    @discardableResult
    func deadLetter(_ letter: DeadLetter) throws -> Int64
    /// Moves dead letters back into their destination's retry schedule, due now, with a fresh retry budget.
    /// - Returns: the number of messages moved.
    @discardableResult
    func replayDeadLetters(_ scope: DeliveryScope, ids: [Int64]?, now: Int64) throws -> Int
    /// Deletes dead letters. - Returns: how many.
    @discardableResult
    func purgeDeadLetters(_ scope: DeliveryScope, ids: [Int64]?) throws -> Int
}

/// Reading the delivery bookkeeping.
public protocol DeliveryLedger: Sendable {
    /// A destination's cursor, or nil when it has none yet.
    func cursor(_ key: DestinationKey) async throws -> Int64?
    /// Retries due at `now`. With `headsOnly`, only the earliest entry of each message key (per-entity ordering).
    func dueRetries(_ key: DestinationKey, now: Int64, headsOnly: Bool, limit: Int) async throws -> [RetryEntry]
    /// The earliest next-attempt time in a destination's retry schedule (nil when empty).
    func nextRetryTime(_ key: DestinationKey) async throws -> Int64?
    /// Messages in a destination's retry schedule, oldest first.
    func retries(_ key: DestinationKey, limit: Int) async throws -> [RetryEntry]
    /// Dead letters in `scope`, oldest first, after `afterId`.
    func deadLetters(_ scope: DeliveryScope, afterId: Int64, limit: Int) async throws -> [DeadLetter]
    /// One dead letter in `scope`.
    func deadLetter(_ scope: DeliveryScope, id: Int64) async throws -> DeadLetter?
    func deadLetterCount(_ key: DestinationKey) async throws -> Int
    /// What a destination has not yet delivered or dead-lettered: the tenant's events after `cursor`, the
    /// retry schedule (held messages included), and the time of the oldest of them.
    func backlog(_ key: DestinationKey, after cursor: Int64) async throws -> (queued: Int64, retrying: Int, oldestTime: Int64?)
}
