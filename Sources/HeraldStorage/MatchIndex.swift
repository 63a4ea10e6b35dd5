/// The match index inside one write transaction: each entity's match keys, the entities sharing a key,
/// potential matches and not-a-match pairs.
public protocol MatchIndexTransaction {
    /// Makes the entity's match keys exactly `keys` (only the difference needs writing).
    func replaceMatchKeys(tenant: String, entityId: String, keys: Set<Int64>) throws
    /// Entities holding `key`, at most `limit`.
    func entitiesSharing(tenant: String, key: Int64, limit: Int) throws -> [String]
    /// Entities holding each key, at most the key's limit, in one call (a store with round trips answers them
    /// together; the default asks `entitiesSharing(tenant:key:limit:)` once per key).
    func entitiesSharing(tenant: String, limits: [Int64: Int]) throws -> [Int64: [String]]
    /// A hint that `entitiesSharing` will be asked for these keys (with at most these limits) later in the
    /// transaction: a store with round trips reads them all now, in one, and answers those calls from what it read.
    /// The default does nothing.
    func prefetch(tenant: String, matchKeys limits: [Int64: Int]) throws
    /// The recorded potential matches of an entity: other id → match group URIs.
    func potentialMatches(tenant: String, entityId: String) throws -> [String: [String]]
    /// Records (or updates) a potential match in both directions.
    func setPotentialMatch(tenant: String, _ a: String, _ b: String, rules: [String]) throws
    func removePotentialMatch(tenant: String, _ a: String, _ b: String) throws
    func isNotMatch(tenant: String, _ a: String, _ b: String) throws -> Bool
    func addNotMatch(tenant: String, _ a: String, _ b: String) throws
    func removeNotMatch(tenant: String, _ a: String, _ b: String) throws
}

extension MatchIndexTransaction {
    public func prefetch(tenant: String, matchKeys limits: [Int64: Int]) throws {}

    public func entitiesSharing(tenant: String, limits: [Int64: Int]) throws -> [Int64: [String]] {
        var out: [Int64: [String]] = [:]
        for (key, limit) in limits { out[key] = try entitiesSharing(tenant: tenant, key: key, limit: limit) }
        return out
    }

    /// Makes the entity's match tokens exactly `tokens` (stored as 64-bit keys, `MatchKey.of`).
    public func replaceTokens(tenant: String, entityId: String, tokens: Set<String>) throws {
        var keys = Set<Int64>(minimumCapacity: tokens.count)
        for token in tokens { keys.insert(MatchKey.of(token)) }
        try replaceMatchKeys(tenant: tenant, entityId: entityId, keys: keys)
    }

    /// Entities holding `token`, at most `limit` (callers ask for one more than their cap to detect frequent tokens).
    /// Two tokens can share a key (a 64-bit hash), so a few extra candidates are possible; the match rules decide.
    public func entitiesSharing(tenant: String, token: String, limit: Int) throws -> [String] {
        try entitiesSharing(tenant: tenant, key: MatchKey.of(token), limit: limit)
    }
}
