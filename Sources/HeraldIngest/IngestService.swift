import HeraldConfig
import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import HeraldStorage
import Synchronization

/// The answer for one posted item.
public enum ItemResult: Sendable {
    case created(uri: String)
    case updated(uri: String)
    case unchanged(uri: String)
    case failed(IngestError)
}

/// What happened to a DELETE.
public enum RemoveResult: Sendable {
    case removed(uri: String, version: Int64)
    case notFound
}

/// The ingest stage: validates posted entities, applies them to stored ones and
/// writes each change and its event in one transaction (the outbox).
///
/// Validation runs on the caller's task (in parallel across requests); applying
/// and writing run on the store's writer, group-committed with other requests.
public final class IngestService: Sendable {
    public let store: any Store
    /// The tenants' configuration and, by tenant and entity type, their match engines compiled once per
    /// configuration load, replaced together under one lock. (A request reads its tenant when it arrives and the
    /// engines when it writes: a reload in between applies the new rules to it, as to every later request.)
    private let loaded: Mutex<(tenants: [String: TenantConfiguration], matchers: [String: [String: CompiledMatching]])>
    let writerState: WriterState

    /// - Parameters:
    ///   - matching: the tenants' compiled match rules, tenant id → entity type URI (`CompiledConfiguration.matching`).
    ///   - profileCacheEntries: match profiles the writer keeps for candidates (`store.matchProfileCacheEntries`).
    public init(
        store: any Store, tenants: [TenantConfiguration], matching: [String: [String: CompiledMatching]],
        profileCacheEntries: Int = StoreConfiguration().matchProfileCacheEntries
    ) {
        self.store = store
        self.writerState = WriterState(profileCacheEntries: profileCacheEntries, readsAhead: store.readsAhead)
        self.loaded = Mutex(([:], [:]))
        update(tenants: tenants, matching: matching)
        let state = writerState
        store.onRollback { state.profiles.removeAll() }
    }

    /// Match-token lookups skipped since start because too many entities hold the token.
    public var skippedMatchTokens: Int { writerState.skippedTokens.load(ordering: .relaxed) }

    public func tenant(_ id: String) -> TenantConfiguration? { loaded.withLock { $0.tenants[id] } }

    /// Replaces the tenants' configuration and compiled match rules (on reload); requests in flight keep
    /// the configuration they started with.
    public func update(tenants list: [TenantConfiguration], matching: [String: [String: CompiledMatching]]) {
        var map: [String: TenantConfiguration] = [:]
        for t in list { map[t.id] = t }
        loaded.withLock { $0 = (map, matching) }
    }

    /// The compiled match rules of `type` in `tenant`; nil when the type has none.
    func matcher(_ tenant: String, _ type: String) -> CompiledMatching? {
        loaded.withLock { $0.matchers[tenant]?[type] }
    }

    /// The comparison labels of `type`'s relevance groups in `tenant`, for showing recorded scores.
    public func relevanceLabels(tenant: String, type: String) -> RecordedMatchGroups.Labels {
        matcher(tenant, type).map { RecordedMatchGroups.labels($0.groups) } ?? [:]
    }

    /// Validates and applies a batch of posted entities.
    ///
    /// Every valid item commits even when others fail; a failed item changes nothing.
    /// Returns one result per item, in order, after the transaction holding them committed.
    public func post(tenant: TenantConfiguration, items: [JSONValue], user: String) async throws -> [ItemResult] {
        var prepared: [Result<EntityInput, IngestError>] = []
        prepared.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            do {
                prepared.append(.success(try EntityInput(json: item, schema: tenant.schema, at: JSONPath.root + index)))
            } catch {
                prepared.append(.failure(error))
            }
        }
        if !prepared.contains(where: { if case .success = $0 { return true } else { return false } }) {
            return prepared.map { if case .failure(let e) = $0 { return .failed(e) } else { fatalError() } }
        }
        let tenantId = tenant.id
        let ingestor = IngestService.ingestor(for: tenant)
        let state = writerState
        let inputs = prepared
        let matchers = loaded.withLock { $0.matchers[tenantId] ?? [:] }
        let crosswalks = inputs.flatMap { item -> [CrosswalkKey] in
            if case .success(let input) = item { return input.crosswalks.map(\.key) } else { return [] }
        }
        var likelyKeys: [Int64: Int] = [:]
        if store.readsAhead {
            likelyKeys = MatchCoordinator.likelyKeyLimits(
                inputs.compactMap { if case .success(let input) = $0 { input } else { nil } }, ingestor: ingestor,
                matchers: matchers, tokenCap: tenant.schema.limits.maxEntitiesPerToken,
                coarseTokenCap: tenant.schema.limits.maxEntitiesPerCoarseToken)
        }
        let matchKeys = likelyKeys
        return try await store.write { tx in
            // Where that saves round trips (PostgreSQL), one read each: every item's crosswalks and their entities,
            // and the entities under the match keys the items will likely look up.
            try tx.prefetch(tenant: tenantId, crosswalks: crosswalks)
            try tx.prefetch(tenant: tenantId, matchKeys: matchKeys)
            var results: [ItemResult] = []
            results.reserveCapacity(inputs.count)
            for (index, item) in inputs.enumerated() {
                switch item {
                case .failure(let error):
                    results.append(.failed(error))
                case .success(let input):
                    // No savepoint per item: an item fails (IngestError) before its first write, and
                    // a storage error after that fails the whole request, which rolls back as a unit.
                    do {
                        let result = try IngestService.applyOne(
                            input, index: index, tenant: tenantId, ingestor: ingestor, user: user, tx: &tx, state: state)
                        if let matching = matchers[input.type], !matching.engine.isEmpty {
                            results.append(
                                try IngestService.matchAfterWrite(
                                    result, tenant: tenant, matching: matching, user: user, tx: &tx, state: state))
                        } else {
                            results.append(result)
                        }
                    } catch let error as IngestError {
                        results.append(.failed(error))
                    }
                }
            }
            return results
        }
    }

    static func applyOne(
        _ input: EntityInput, index: Int, tenant: String, ingestor: EntityIngestor, user: String,
        tx: inout any StoreTransaction, state: WriterState
    ) throws -> ItemResult {
        let path = JSONPath.root + index
        var ownerId: String?
        for (i, crosswalk) in input.crosswalks.enumerated() {
            guard let id = try tx.entityId(tenant: tenant, crosswalk: crosswalk.key) else { continue }
            if let ownerId, ownerId != id {
                throw IngestError(
                    .crosswalkConflict,
                    "crosswalk \(crosswalk.key) belongs to entities/\(id) but an earlier crosswalk belongs to "
                        + "entities/\(ownerId); post them separately or merge the two entities",
                    at: path + "crosswalks" + i)
            }
            ownerId = id
        }
        var existing: StoredEntity?
        if let ownerId, let stored = try tx.entity(tenant: tenant, id: ownerId), !stored.removed {
            existing = stored
        }
        let now = epochMilliseconds()
        var newId = ""
        if existing == nil {
            newId = state.ids.entityId()
            while try tx.isGeneratedEntityIdTaken(tenant: tenant, id: newId) { newId = state.ids.entityId() }
        }
        let outcome = try ingestor.apply(
            input, to: existing?.entity, newEntityId: newId, now: now, user: user, ids: &state.ids, at: path)
        switch outcome {
        case .unchanged(let entity):
            return .unchanged(uri: entity.uri)
        case .created(let entity):
            // A creation's delta (everything added) is derived from the snapshot when read.
            state.writer.reset()
            entity.encodeStored(into: &state.writer)
            let body = state.writer.bytes
            try tx.insertEntity(tenant: tenant, entity: entity, body: body)
            for c in entity.crosswalks {
                try tx.insertCrosswalk(tenant: tenant, key: c.key, entityId: entity.id)
            }
            try tx.appendEvent(
                tenant: tenant,
                NewEvent(
                    type: .entityCreated, objectURI: entity.uri, objectVersion: 1, time: now, snapshot: body, delta: []))
            state.written = StoredEntity(entity: entity, version: 1, removed: false)
            return .created(uri: entity.uri)
        case .updated(let old, let entity, let delta):
            let version = existing!.version + 1
            state.writer.reset()
            entity.encodeStored(into: &state.writer)
            let body = state.writer.bytes
            try tx.updateEntity(tenant: tenant, entity: entity, version: version, body: body)
            let oldKeys = Set(old.crosswalks.map(\.key))
            for c in entity.crosswalks where !oldKeys.contains(c.key) {
                try tx.insertCrosswalk(tenant: tenant, key: c.key, entityId: entity.id)
            }
            try tx.appendEvent(
                tenant: tenant,
                NewEvent(
                    type: .entityChanged, objectURI: entity.uri, objectVersion: version, time: now, snapshot: body,
                    delta: delta.jsonBytes(entityType: entity.type)))
            state.written = StoredEntity(entity: entity, version: version, removed: false)
            return .updated(uri: entity.uri)
        }
    }

    /// The tenant's ingest rules: its schema, and survivorship per entity type (LUD when none is configured).
    static func ingestor(for tenant: TenantConfiguration) -> EntityIngestor {
        let matching = tenant.matching
        if matching.isEmpty { return EntityIngestor(schema: tenant.schema) }
        return EntityIngestor(schema: tenant.schema) { entity in
            if let rules = matching[entity.type]?.survivorship {
                rules.apply(to: &entity)
            } else {
                Survivorship.applyLastUpdateWins(to: &entity)
            }
        }
    }

    /// Runs the match stage after an entity was created or updated (same transaction); the item's URI
    /// becomes the winner's when it merged.
    static func matchAfterWrite(
        _ result: ItemResult, tenant: TenantConfiguration, matching: CompiledMatching, user: String,
        tx: inout any StoreTransaction, state: WriterState
    ) throws -> ItemResult {
        let uri: String
        switch result {
        case .created(let u), .updated(let u): uri = u
        default: return result
        }
        let id = String(uri.dropFirst("entities/".count))
        let coordinator = MatchCoordinator(
            tenant: tenant.id, matching: matching, tokenCap: tenant.schema.limits.maxEntitiesPerToken,
            coarseTokenCap: tenant.schema.limits.maxEntitiesPerCoarseToken, user: user,
            now: epochMilliseconds(), state: state)
        var written: StoredEntity?
        if let w = state.written, w.entity.id == id {
            written = w
            state.profiles.put(tenant.id + "\u{0}" + id, CachedProfile(w, profile: matching.engine.profile(w.entity)))
        }
        state.written = nil
        let final = try coordinator.match(id, written: written, tx: &tx)
        if final == id { return result }
        switch result {
        case .created: return .created(uri: "entities/" + final)
        default: return .updated(uri: "entities/" + final)
        }
    }

    /// Removes an entity: its crosswalks are released and `ENTITY_REMOVED` carries its last snapshot.
    public func remove(tenant: TenantConfiguration, id: String, user: String) async throws -> RemoveResult {
        let tenantId = tenant.id
        let build = { (type: String) in self.coordinator(tenant, type: type, user: user) }
        return try await store.write { tx in
            guard let stored = try tx.entity(tenant: tenantId, id: id), stored.isLive else { return .notFound }
            let now = epochMilliseconds()
            var entity = stored.entity
            let version = stored.version + 1
            entity.updatedTime = now
            entity.updatedBy = user
            let body = entity.storedBytes()
            try tx.updateEntity(tenant: tenantId, entity: entity, version: version, body: body, removed: true)
            for c in entity.crosswalks {
                try tx.deleteCrosswalk(tenant: tenantId, key: c.key)
            }
            try tx.replaceTokens(tenant: tenantId, entityId: id, tokens: [])
            try tx.appendEvent(
                tenant: tenantId,
                NewEvent(
                    type: .entityRemoved, objectURI: entity.uri, objectVersion: version, time: now, snapshot: body,
                    delta: []))
            try build(entity.type).dropPotentialMatches(of: id, tx: &tx)
            return .removed(uri: entity.uri, version: version)
        }
    }
}

/// Mutable state used only on the store's writer thread.
final class WriterState: @unchecked Sendable {
    var ids = IDGenerator()
    var writer = JSONWriter(capacity: 4096)
    /// Match-token lookups skipped for being too frequent (a metric, read from other threads).
    let skippedTokens = Atomic<Int>(0)
    /// Match profiles by tenant and id, valid for the version they were read at. Emptied whenever the
    /// store rolls back (a rolled-back version number can be reused).
    var profiles: ProfileCache
    /// The entity the last applied item wrote (so matching need not read it back).
    var written: StoredEntity?

    /// - Parameter profileCacheEntries: the most profiles the cache holds (two generations of half as many).
    /// Whether the store's reads cost a round trip (`Store.readsAhead`): matching then gives read-ahead hints.
    let readsAhead: Bool

    init(profileCacheEntries: Int, readsAhead: Bool = false) {
        self.readsAhead = readsAhead
        profiles = ProfileCache(generation: profileCacheEntries / 2)
    }
}

/// What matching needs of a candidate: its match profile, and the state it was computed at (checked
/// against the store before use). The entity itself is read again only for a merge.
struct CachedProfile {
    var version: Int64
    var removed: Bool
    var mergedInto: String?
    var type: String
    var profile: MatchProfile

    init(_ stored: StoredEntity, profile: MatchProfile) {
        version = stored.version
        removed = stored.removed
        mergedInto = stored.mergedInto
        type = stored.entity.type
        self.profile = profile
    }

    /// A live entity's profile at `version` (a merge's winner, just written).
    init(live entity: Entity, version: Int64, profile: MatchProfile) {
        self.version = version
        removed = false
        mergedInto = nil
        type = entity.type
        self.profile = profile
    }

    var isLive: Bool { !removed && mergedInto == nil }
}

/// The writer's match profiles by tenant and id.
typealias ProfileCache = GenerationalCache<CachedProfile>

/// A bounded cache that keeps recently used entries: new entries and hits go into the young
/// generation; when it is full it becomes the old one and the previous old one is dropped, so an
/// entry lives until two generations' worth of other entries came after its last use.
/// (A whole-cache wipe when full, as before, dropped the hot entries with the cold ones.)
///
/// A generation of 0 keeps nothing.
struct GenerationalCache<Value> {
    let generation: Int
    private var young: [String: Value] = [:]
    private var old: [String: Value] = [:]

    init(generation: Int) { self.generation = max(0, generation) }

    var count: Int { young.count + old.count }

    mutating func get(_ key: String) -> Value? {
        if let hit = young[key] { return hit }
        guard let hit = old.removeValue(forKey: key) else { return nil }
        put(key, hit)
        return hit
    }

    mutating func put(_ key: String, _ value: Value) {
        guard generation > 0 else { return }
        young[key] = value
        if young.count >= generation {
            old = young
            young = [:]
            young.reserveCapacity(generation)
        }
    }

    mutating func removeAll() {
        young.removeAll()
        old.removeAll()
    }
}
