import HeraldModel
import HeraldStorage

/// The dead-letter queue, as the REST API reaches it: through the delivery service, which owns the destinations'
/// delivery state, rather than by writing to the store itself.
extension DeliveryService {
    /// At most `limit` dead letters of `scope` with ids after `afterId`, in id order.
    public func deadLetters(_ scope: DeliveryScope, afterId: Int64, limit: Int) async throws -> [DeadLetter] {
        try await store.deadLetters(scope, afterId: afterId, limit: limit)
    }

    /// One dead letter of `scope`, or nil.
    public func deadLetter(_ scope: DeliveryScope, id: Int64) async throws -> DeadLetter? {
        try await store.deadLetter(scope, id: id)
    }

    /// Moves the dead letters of `scope` (only `ids`, when given) back into their destinations' retry schedules,
    /// due now, with a fresh retry budget. The commit wakes every waiting worker (the store signals each commit),
    /// so the messages go out through the same destination without waiting for a poll.
    /// - Returns: how many were moved.
    public func replayDeadLetters(_ scope: DeliveryScope, ids: [Int64]?) async throws -> Int {
        let now = epochMilliseconds()
        return try await store.write { tx in try tx.replayDeadLetters(scope, ids: ids, now: now) }
    }

    /// Deletes the dead letters of `scope` (only `ids`, when given). - Returns: how many.
    public func purgeDeadLetters(_ scope: DeliveryScope, ids: [Int64]?) async throws -> Int {
        try await store.write { tx in try tx.purgeDeadLetters(scope, ids: ids) }
    }
}
