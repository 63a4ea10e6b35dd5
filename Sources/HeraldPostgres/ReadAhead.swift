import HeraldModel
import HeraldStorage

/// Rows the writer read ahead in the open transaction, so that the reads that follow need no round trip.
///
/// It holds the database's rows as they were when read. This transaction changes entities, crosswalks and
/// match-key sets only through the `WriteOverlay` (flushed at commit), and the overlay applies on top. Other nodes
/// may commit meanwhile (READ COMMITTED): what matters of that is caught at commit or locked before the read
/// (decision 0012) — an entity updated from a stale read fails its version check, a crosswalk created meanwhile
/// fails its strict insert, and a match key's entities are read under the key's lock. Potential matches and not-a-match pairs are written directly, so
/// what is known of them ("this entity has none") is dropped whenever this transaction writes one of them.
struct ReadAhead {
    /// An entity's row; `body` is nil when only its state was read (matching's candidate states).
    struct EntityRow {
        var version: Int64
        var removed: Bool
        var mergedInto: String?
        var body: [UInt8]?
        /// Its match-key set (nil: not read).
        var keys: Set<Int64>?
    }

    /// Crosswalk → owning entity; `.some(nil)`: read, and no entity holds it.
    var crosswalks: [WriteOverlay.CrosswalkRow: String?] = [:]
    var entities: [WriteOverlay.EntityKey: EntityRow] = [:]
    /// The database's entities under a match key, read with `limit` (complete when fewer came back).
    var matchKeys: [WriteOverlay.TenantMatchKey: (limit: Int, ids: [String])] = [:]
    /// Entities whose not-a-match partners are known at this point of the transaction (none for a new entity).
    var notMatchPartners: [WriteOverlay.EntityKey: Set<String>] = [:]
    /// Entities known to have no potential matches at this point of the transaction: new entities, and entities
    /// whose read said so.
    private(set) var withoutPotentialMatches: Set<WriteOverlay.EntityKey> = []
    /// Entities known to start or end no relation at this point of the transaction (new entities).
    private(set) var withoutRelations: Set<WriteOverlay.EntityKey> = []

    mutating func removeAll() {
        crosswalks.removeAll(keepingCapacity: true)
        entities.removeAll(keepingCapacity: true)
        matchKeys.removeAll(keepingCapacity: true)
        notMatchPartners.removeAll(keepingCapacity: true)
        withoutPotentialMatches.removeAll(keepingCapacity: true)
        withoutRelations.removeAll(keepingCapacity: true)
    }

    /// Records what a read found about an entity's pairs (or, for a new entity, that it has none).
    mutating func learn(_ key: WriteOverlay.EntityKey, hasNotMatches: Bool, hasPotentialMatches: Bool) {
        if !hasNotMatches { notMatchPartners[key] = [] }
        if !hasPotentialMatches { withoutPotentialMatches.insert(key) }
    }

    /// This transaction wrote a not-a-match pair of `key`: forget its partners. (Kept forgotten if that write
    /// rolls back: knowing less only costs a read.)
    mutating func notMatchesChanged(_ key: WriteOverlay.EntityKey) { notMatchPartners.removeValue(forKey: key) }

    /// A new entity: in no pair and no relation yet.
    mutating func created(_ key: WriteOverlay.EntityKey) {
        notMatchPartners[key] = []
        withoutPotentialMatches.insert(key)
        withoutRelations.insert(key)
    }

    /// This transaction wrote a relation that starts or ends at `key`.
    mutating func relationsChanged(_ key: WriteOverlay.EntityKey) { withoutRelations.remove(key) }

    /// This transaction wrote a potential match of `key`: forget that it had none.
    mutating func potentialMatchesChanged(_ key: WriteOverlay.EntityKey) { withoutPotentialMatches.remove(key) }

    func storedEntity(_ key: WriteOverlay.EntityKey) throws -> StoredEntity? {
        guard let row = entities[key], let body = row.body else { return nil }
        return StoredEntity(
            entity: try PostgresTransaction.decodeEntity(body), version: row.version, removed: row.removed,
            mergedInto: row.mergedInto)
    }
}

extension ReadAhead {
    /// What was read of a key, if it answers a read of `count` entities: read with at least that limit, or found
    /// complete (fewer than its limit).
    func matchKey(_ key: WriteOverlay.TenantMatchKey, count: Int) -> [String]? {
        guard let known = matchKeys[key], known.limit >= count || known.ids.count < known.limit else { return nil }
        return known.ids
    }
}
