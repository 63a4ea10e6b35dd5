import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import HeraldStorage

/// Runs the match stage inside the write transaction: candidates by token, automatic merges,
/// potential matches; and the explicit operations (merge, unmerge, not-a-match).
///
/// Every change and every event it makes is part of the caller's transaction, so a merge is never
/// half-done: either the winner, the losers and all events commit, or nothing does.
struct MatchCoordinator {
    let tenant: String
    let matching: CompiledMatching
    /// A token shared by more entities than this is skipped (and counted).
    let tokenCap: Int
    /// The same for a coarse token when the entity also has finer tokens of the same group.
    let coarseTokenCap: Int
    let user: String
    let now: Int64
    let state: WriterState

    /// The match keys to look up for `tokens`, each with its limit: one more than its token's cap (a key with
    /// more entities than its cap is skipped).
    /// `coarse`: `MatchEngine.coarseTokens(in: tokens)` when the caller has it.
    func keyLimits(_ tokens: Set<String>, coarse: Set<String>? = nil) -> [Int64: Int] {
        var limits: [Int64: Int] = [:]
        MatchCoordinator.keyLimits(
            tokens, tokenCap: tokenCap, coarseTokenCap: coarseTokenCap, coarse: coarse, into: &limits)
        return limits
    }

    static func keyLimits(
        _ tokens: Set<String>, tokenCap: Int, coarseTokenCap: Int, coarse known: Set<String>? = nil,
        into limits: inout [Int64: Int]
    ) {
        let coarse = known ?? MatchEngine.coarseTokens(in: tokens)
        for token in tokens {
            let limit = (coarse.contains(token) ? coarseTokenCap : tokenCap) + 1
            let key = MatchKey.of(token)
            limits[key] = max(limits[key] ?? 0, limit)
        }
    }

    static func keyLimits(_ tokens: Set<String>, tokenCap: Int, coarseTokenCap: Int) -> [Int64: Int] {
        var limits: [Int64: Int] = [:]
        keyLimits(tokens, tokenCap: tokenCap, coarseTokenCap: coarseTokenCap, into: &limits)
        return limits
    }

    /// The match keys the match stage will likely look up for these inputs, computed away from the writer (on the
    /// request's thread): the tokens each input would have as a new entity. A creation has exactly these; an update
    /// usually shares most. For the store's read-ahead hint only: a wrong guess costs a read later, nothing else.
    static func likelyKeyLimits(
        _ inputs: [EntityInput], ingestor: EntityIngestor, matchers: [String: CompiledMatching], tokenCap: Int,
        coarseTokenCap: Int
    ) -> [Int64: Int] {
        var limits: [Int64: Int] = [:]
        var ids = IDGenerator()
        for input in inputs {
            guard let matching = matchers[input.type], !matching.engine.isEmpty,
                case .created(let entity)? = try? ingestor.apply(
                    input, to: nil, newEntityId: "0", now: 0, user: "", ids: &ids, at: JSONPath.root)
            else { continue }
            keyLimits(
                matching.engine.tokens(for: matching.engine.profile(entity)), tokenCap: tokenCap,
                coarseTokenCap: coarseTokenCap, into: &limits)
        }
        return limits
    }

    /// How many rounds of automatic merging one write may cause (a merge can make the winner match more).
    static let maxRounds = 5

    /// An entity's match profile, from the writer's cache when the stored version is the cached one.
    /// `stored`, when the caller has the entity already, saves reading it.
    func profile(_ id: String, stored: StoredEntity? = nil, tx: inout any StoreTransaction) throws -> CachedProfile? {
        guard let state = try tx.entityVersion(tenant: tenant, id: id) else { return nil }
        if let cached = cachedProfile(id, state) { return cached }
        let key = tenant + "\u{0}" + id
        let entity: StoredEntity
        if let stored, stored.version == state.version, stored.removed == state.removed, stored.mergedInto == state.mergedInto {
            entity = stored
        } else {
            guard let read = try tx.entity(tenant: tenant, id: id) else { return nil }
            entity = read
        }
        let entry = CachedProfile(entity, profile: matching.engine.profile(entity.entity))
        self.state.profiles.put(key, entry)
        return entry
    }

    /// The cached profile of `id` if it was computed at `state`.
    func cachedProfile(_ id: String, _ state: (version: Int64, removed: Bool, mergedInto: String?)) -> CachedProfile? {
        guard let cached = self.state.profiles.get(tenant + "\u{0}" + id), cached.version == state.version,
            cached.removed == state.removed, cached.mergedInto == state.mergedInto
        else { return nil }
        return cached
    }

    /// Where reads cost a round trip: reads the live candidates whose profile is not cached, in one.
    private func prefetchUncached(_ candidates: [String], tx: inout any StoreTransaction) throws {
        guard state.readsAhead else { return }
        var missing: [String] = []
        for id in candidates {
            guard let s = try tx.entityVersion(tenant: tenant, id: id), !s.removed, s.mergedInto == nil,
                cachedProfile(id, s) == nil
            else { continue }
            missing.append(id)
        }
        try tx.prefetch(tenant: tenant, entities: missing)
    }

    /// Matches an entity that was just written (`written`, when the caller has it); merges and
    /// records potential matches.
    /// - Returns: the id of the live entity the written one ended in (itself, or the winner of its merges).
    @discardableResult
    func match(_ entityId: String, written: StoredEntity? = nil, tx: inout any StoreTransaction) throws -> String {
        var currentId = entityId
        var known = written
        for _ in 0..<MatchCoordinator.maxRounds {
            let stored: StoredEntity
            if let k = known, k.entity.id == currentId {
                stored = k
            } else {
                guard let read = try tx.entity(tenant: tenant, id: currentId) else { return currentId }
                stored = read
            }
            known = nil
            guard stored.isLive, let current = try profile(currentId, stored: stored, tx: &tx) else { return currentId }
            let entity = stored.entity
            let profile = current.profile
            let tokens = matching.engine.tokens(for: profile)
            try tx.replaceTokens(tenant: tenant, entityId: currentId, tokens: tokens)
            var candidates = Set<String>()
            let coarse = MatchEngine.coarseTokens(in: tokens)
            let sortedTokens = tokens.sorted()
            // One call for every token (one round trip on PostgreSQL at most), each key asked for one more than its cap.
            let sharing = try tx.entitiesSharing(tenant: tenant, limits: keyLimits(tokens, coarse: coarse))
            for token in sortedTokens {
                let cap = coarse.contains(token) ? coarseTokenCap : tokenCap
                let ids = sharing[MatchKey.of(token)] ?? []
                if ids.count > cap {
                    state.skippedTokens.add(1, ordering: .relaxed)
                    continue
                }
                candidates.formUnion(ids)
            }
            candidates.remove(currentId)
            var merging: [String] = []
            var mergingRules: [String: [String]] = [:]
            var suspect: [(String, [String])] = []
            let ordered = candidates.sorted()
            try prefetchUncached(ordered, tx: &tx)
            for candidateId in ordered {
                if try tx.isNotMatch(tenant: tenant, currentId, candidateId) { continue }
                guard let loaded = try self.profile(candidateId, tx: &tx), loaded.isLive, loaded.type == entity.type
                else { continue }
                let verdict = matching.engine.evaluate(profile, loaded.profile)
                if verdict.negative { continue }
                if verdict.merges {
                    merging.append(candidateId)
                    mergingRules[candidateId] = verdict.recorded(verdict.automatic)
                } else if !verdict.suspect.isEmpty {
                    suspect.append((candidateId, verdict.recorded(verdict.suspect)))
                }
            }
            if state.readsAhead { try tx.prefetch(tenant: tenant, entities: merging) }
            let automatic = try merging.compactMap { try tx.entity(tenant: tenant, id: $0) }
            if !automatic.isEmpty {
                currentId = try merge([stored] + automatic, explicitWinner: nil, rules: mergingRules, tx: &tx)
                continue
            }
            try updatePotentialMatches(stored, found: suspect, tx: &tx)
            return currentId
        }
        return currentId
    }

    /// Merges participants into one winner (the explicit one, else the oldest) and emits
    /// ENTITY_CHANGED (winner), ENTITIES_MERGED (all participants), ENTITY_LOST_MERGE (each loser).
    /// - Parameter rules: for an automatic merge, the match groups that merged each candidate with the entity being
    ///   matched (by candidate id); a loser's merge record keeps its own, or the winner's when the loser is that entity.
    /// - Returns: the winner's id.
    @discardableResult
    func merge(
        _ participants: [StoredEntity], explicitWinner: String?, rules: [String: [String]] = [:], tx: inout any StoreTransaction
    ) throws -> String {
        let ordered = participants.sorted {
            ($0.entity.createdTime, $0.entity.id) < ($1.entity.createdTime, $1.entity.id)
        }
        let winner = ordered.first { $0.entity.id == explicitWinner } ?? ordered[0]
        let losers = ordered.filter { $0.entity.id != winner.entity.id }
        var merged = winner.entity
        let before = winner.entity
        for loser in losers { merged.absorb(loser.entity, ids: &state.ids) }
        matching.survivorship.apply(to: &merged)
        merged.updatedTime = now
        merged.updatedBy = user
        let version = winner.version + 1
        let body = merged.storedBytes()
        try tx.updateEntity(tenant: tenant, entity: merged, version: version, body: body)
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(
                type: .entityChanged, objectURI: merged.uri, objectVersion: version, time: now, snapshot: body,
                delta: Delta.between(before, merged).jsonBytes(entityType: merged.type)))
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(
                type: .entitiesMerged, objectURI: merged.uri, objectVersion: version, time: now, snapshot: body, delta: [],
                uris: [merged.uri] + losers.map(\.entity.uri)))
        for loser in losers {
            let id = loser.entity.id
            for c in loser.entity.crosswalks { try tx.repointCrosswalk(tenant: tenant, key: c.key, entityId: merged.id) }
            try tx.replaceTokens(tenant: tenant, entityId: id, tokens: [])
            try dropPotentialMatches(of: id, except: Set(participants.map(\.entity.id)), tx: &tx)
            try tx.recordMerge(
                tenant: tenant, loser: loser.entity, winner: merged.id, time: now, user: user,
                matchRules: rules[id] ?? rules[merged.id] ?? [])
            // Losing the merge is the loser's last change: its snapshot says when and by whom.
            var lost = loser.entity
            lost.updatedTime = now
            lost.updatedBy = user
            let loserBody = lost.storedBytes()
            try tx.setMergedInto(tenant: tenant, id: id, winner: merged.id, version: loser.version + 1, body: loserBody)
            try tx.appendEvent(
                tenant: tenant,
                NewEvent(
                    type: .entityLostMerge, objectURI: loser.entity.uri, objectVersion: loser.version + 1, time: now,
                    snapshot: loserBody, delta: [], uris: [merged.uri, loser.entity.uri]))
            try RelationStore.moveRelations(tenant: tenant, from: id, to: merged.id, now: now, user: user, tx: &tx)
        }
        // The next match round reads the winner at this version: its profile is cached for it.
        let profile = matching.engine.profile(merged)
        state.profiles.put(tenant + "\u{0}" + merged.id, CachedProfile(live: merged, version: version, profile: profile))
        try tx.replaceTokens(tenant: tenant, entityId: merged.id, tokens: matching.engine.tokens(for: profile))
        return merged.id
    }

    /// Records what the latest match run found for an entity and emits POTENTIAL_MATCHES_FOUND /
    /// POTENTIAL_MATCHES_REMOVED for the difference.
    func updatePotentialMatches(_ stored: StoredEntity, found: [(String, [String])], tx: inout any StoreTransaction) throws {
        let id = stored.entity.id
        let existing = try tx.potentialMatches(tenant: tenant, entityId: id)
        var added: [(String, [String])] = []
        for (other, rules) in found where existing[other] != rules {
            try tx.setPotentialMatch(tenant: tenant, id, other, rules: rules)
            if existing[other] == nil { added.append((other, rules)) }
        }
        let foundIds = Set(found.map(\.0))
        var removed: [(String, [String])] = []
        for (other, rules) in existing where !foundIds.contains(other) {
            try tx.removePotentialMatch(tenant: tenant, id, other)
            removed.append((other, rules))
        }
        if !added.isEmpty { try emitPotential(.potentialMatchesFound, stored, added.sorted { $0.0 < $1.0 }, tx: &tx) }
        if !removed.isEmpty { try emitPotential(.potentialMatchesRemoved, stored, removed.sorted { $0.0 < $1.0 }, tx: &tx) }
    }

    /// Drops every potential match of `id` (removed, or lost a merge) and tells each other side: a
    /// POTENTIAL_MATCHES_REMOVED on that entity naming `id`. Entities in `except` (the merge's participants,
    /// whose own events say what happened) are not told.
    func dropPotentialMatches(of id: String, except: Set<String> = [], tx: inout any StoreTransaction) throws {
        for (other, rules) in try tx.potentialMatches(tenant: tenant, entityId: id).sorted(by: { $0.key < $1.key }) {
            try tx.removePotentialMatch(tenant: tenant, id, other)
            guard !except.contains(other), let stored = try tx.entity(tenant: tenant, id: other), stored.isLive else { continue }
            try emitPotential(.potentialMatchesRemoved, stored, [(id, rules)], tx: &tx)
        }
    }

    func emitPotential(_ type: EventType, _ stored: StoredEntity, _ matches: [(String, [String])], tx: inout any StoreTransaction)
        throws
    {
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(
                type: type, objectURI: stored.entity.uri, objectVersion: stored.version, time: now,
                snapshot: stored.entity.storedBytes(), delta: [], uris: matches.map { "entities/" + $0.0 },
                details: IngestService.potentialMatchesJSON(matches, labels: RecordedMatchGroups.labels(matching.groups))))
    }

    /// Splits `spawnId` out of `originId` again: ENTITY_CHANGED (origin), ENTITY_CREATED (spawn),
    /// ENTITIES_SPLITTED. The pair is then marked not-a-match so it does not merge again at once.
    func unmerge(origin originId: String, spawn spawnId: String, tx: inout any StoreTransaction) throws {
        guard let origin = try tx.entity(tenant: tenant, id: originId), origin.isLive else {
            throw MergeError(.notFound, "ENTITY_NOT_FOUND", "entities/\(originId) does not exist or is not a live entity")
        }
        guard let spawnStored = try tx.entity(tenant: tenant, id: spawnId), let record = try tx.mergeRecord(tenant: tenant, loser: spawnId)
        else {
            throw MergeError(.invalid, "NOT_MERGED", "entities/\(spawnId) was not merged into another entity")
        }
        // The spawn's merge must lead to the origin (directly or through later merges of its winner).
        var holder = record.winner
        var hops = 0
        while holder != originId, hops < 32, let next = try tx.entity(tenant: tenant, id: holder)?.mergedInto {
            holder = next
            hops += 1
        }
        guard holder == originId else {
            throw MergeError(
                .invalid, "NOT_A_CONTRIBUTOR", "entities/\(spawnId) is not merged into entities/\(originId) (its winner is entities/\(record.winner))")
        }
        var remaining = origin.entity
        let before = origin.entity
        let keys = record.crosswalks.intersection(Set(remaining.crosswalks.map(\.key)))
        guard !keys.isEmpty else {
            throw MergeError(.invalid, "NOTHING_TO_SPLIT", "none of entities/\(spawnId)'s crosswalks is in entities/\(originId) any more")
        }
        var spawn = remaining.split(crosswalks: keys, spawnId: spawnId, previous: record.snapshot)
        matching.survivorship.apply(to: &remaining)
        matching.survivorship.apply(to: &spawn)
        remaining.updatedTime = now
        remaining.updatedBy = user
        spawn.updatedTime = now
        spawn.updatedBy = user
        let originVersion = origin.version + 1
        let originBody = remaining.storedBytes()
        try tx.updateEntity(tenant: tenant, entity: remaining, version: originVersion, body: originBody)
        let spawnVersion = spawnStored.version + 1
        let spawnBody = spawn.storedBytes()
        try tx.setMergedInto(tenant: tenant, id: spawnId, winner: nil, version: spawnVersion, body: spawnBody)
        try tx.updateEntity(tenant: tenant, entity: spawn, version: spawnVersion, body: spawnBody)
        for key in keys { try tx.repointCrosswalk(tenant: tenant, key: key, entityId: spawnId) }
        try tx.deleteMergeRecord(tenant: tenant, loser: spawnId)
        try tx.addNotMatch(tenant: tenant, originId, spawnId)
        try tx.replaceTokens(tenant: tenant, entityId: originId, tokens: matching.engine.tokens(for: remaining))
        try tx.replaceTokens(tenant: tenant, entityId: spawnId, tokens: matching.engine.tokens(for: spawn))
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(
                type: .entityChanged, objectURI: remaining.uri, objectVersion: originVersion, time: now, snapshot: originBody,
                delta: Delta.between(before, remaining).jsonBytes(entityType: remaining.type)))
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(type: .entityCreated, objectURI: spawn.uri, objectVersion: spawnVersion, time: now, snapshot: spawnBody, delta: []))
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(
                type: .entitiesSplitted, objectURI: remaining.uri, objectVersion: originVersion, time: now, snapshot: originBody,
                delta: [], uris: [remaining.uri, spawn.uri]))
    }
}

extension IngestService {
    /// `[{"uri": "entities/…", "matchRules": [group URIs], "relevance"?: [scores]}, …]`, in the order given:
    /// the details of POTENTIAL_MATCHES_* events and the `_potentialMatches` API answer (see
    /// `RecordedMatchGroups`; `labels` names the comparisons of relevance groups).
    public static func potentialMatchesJSON(
        _ matches: [(String, [String])], labels: RecordedMatchGroups.Labels = [:]
    ) -> [UInt8] {
        var w = JSONWriter(capacity: 64 + matches.count * 160)
        w.beginArray()
        for (other, rules) in matches {
            w.beginObject()
            w.key("uri")
            w.string("entities/" + other)
            RecordedMatchGroups.write(rules, labels: labels, into: &w)
            w.endObject()
        }
        w.endArray()
        return w.bytes
    }
}
