import HeraldJSON
import HeraldModel
import HeraldStorage

/// Writes relations: contributions by crosswalk like entities, RELATIONSHIP_* events, and moving
/// relations to the winner when entities merge.
enum RelationStore {
    static func applyOne(
        _ relation: RelationInput, index: Int, tenant: String, ingestor: EntityIngestor, schema: TenantSchema,
        user: String, tx: inout any StoreTransaction, state: WriterState
    ) throws -> ItemResult {
        let path = JSONPath.root + index
        let start = try resolve(relation.start, tenant: tenant, at: path + "startObject", tx: &tx)
        let end = try resolve(relation.end, tenant: tenant, at: path + "endObject", tx: &tx)
        if let type = schema.relationType(relation.input.type) {
            try checkType(start, type.startType, at: path + "startObject")
            try checkType(end, type.endType, at: path + "endObject")
        }
        var ownerId: String?
        for (i, c) in relation.input.crosswalks.enumerated() {
            guard let id = try tx.relationId(tenant: tenant, crosswalk: c.key) else { continue }
            if let ownerId, ownerId != id {
                throw IngestError(
                    .crosswalkConflict, "crosswalk \(c.key) belongs to relations/\(id), an earlier one to relations/\(ownerId)",
                    at: path + "crosswalks" + i)
            }
            ownerId = id
        }
        var existing: StoredEntity?
        if let ownerId, let stored = try tx.relation(tenant: tenant, id: ownerId), !stored.removed { existing = stored }
        let now = epochMilliseconds()
        var newId = ""
        if existing == nil {
            newId = state.ids.entityId()
            while try tx.relationExists(tenant: tenant, id: newId) { newId = state.ids.entityId() }
        }
        let endpoints = RelationEndpoints(startId: start.entity.id, endId: end.entity.id)
        var outcome = try ingestor.apply(
            relation.input, to: existing?.entity, newEntityId: newId, now: now, user: user, ids: &state.ids, at: path)
        if case .unchanged(var same) = outcome, same.endpoints != endpoints {
            let before = same
            same.endpoints = endpoints
            same.updatedTime = now
            same.updatedBy = user
            outcome = .updated(old: before, new: same, Delta())
        }
        switch outcome {
        case .unchanged(let r):
            return .unchanged(uri: r.uri)
        case .created(var r):
            r.endpoints = endpoints
            let body = r.storedBytes()
            try tx.insertRelation(tenant: tenant, relation: r, body: body)
            for c in r.crosswalks { try tx.insertRelationCrosswalk(tenant: tenant, key: c.key, relationId: r.id) }
            try tx.appendEvent(
                tenant: tenant,
                NewEvent(type: .relationshipCreated, objectURI: r.uri, objectVersion: 1, time: now, snapshot: body, delta: []))
            return .created(uri: r.uri)
        case .updated(let old, var r, let delta):
            r.endpoints = endpoints
            let version = existing!.version + 1
            let body = r.storedBytes()
            try tx.updateRelation(tenant: tenant, relation: r, version: version, body: body)
            let oldKeys = Set(old.crosswalks.map(\.key))
            for c in r.crosswalks where !oldKeys.contains(c.key) {
                try tx.insertRelationCrosswalk(tenant: tenant, key: c.key, relationId: r.id)
            }
            try tx.appendEvent(
                tenant: tenant,
                NewEvent(
                    type: .relationshipChanged, objectURI: r.uri, objectVersion: version, time: now, snapshot: body,
                    delta: delta.jsonBytes(entityType: r.type)))
            return .updated(uri: r.uri)
        }
    }

    /// The live entity an end names (following merges to the winner).
    static func resolve(_ reference: RelationEndpointReference, tenant: String, at path: JSONPath, tx: inout any StoreTransaction)
        throws -> StoredEntity
    {
        var id: String?
        switch reference {
        case .entity(let e): id = e
        case .crosswalk(let key): id = try tx.entityId(tenant: tenant, crosswalk: key)
        }
        var hops = 0
        while let current = id, let stored = try tx.entity(tenant: tenant, id: current) {
            if stored.removed { break }
            if let winner = stored.mergedInto, hops < 32 {
                id = winner
                hops += 1
                continue
            }
            return stored
        }
        throw IngestError(.invalidEntity, "the entity this end names does not exist (or was removed)", at: path)
    }

    static func checkType(_ stored: StoredEntity, _ expected: String?, at path: JSONPath) throws {
        guard let expected, stored.entity.type != expected else { return }
        throw IngestError(
            .entityTypeMismatch, "\(stored.entity.uri) is a '\(stored.entity.type)'; this end must be a '\(expected)'", at: path)
    }

    /// Removes a relation: RELATIONSHIP_REMOVED with its last snapshot.
    static func remove(tenant: String, id: String, user: String, tx: inout any StoreTransaction) throws -> RemoveResult {
        guard let stored = try tx.relation(tenant: tenant, id: id), !stored.removed else { return .notFound }
        var r = stored.entity
        let now = epochMilliseconds()
        r.updatedTime = now
        r.updatedBy = user
        let version = stored.version + 1
        let body = r.storedBytes()
        try tx.updateRelation(tenant: tenant, relation: r, version: version, body: body, removed: true)
        for c in r.crosswalks { try tx.deleteRelationCrosswalk(tenant: tenant, key: c.key) }
        try tx.appendEvent(
            tenant: tenant,
            NewEvent(type: .relationshipRemoved, objectURI: r.uri, objectVersion: version, time: now, snapshot: body, delta: []))
        return .removed(uri: r.uri, version: version)
    }

    /// When `loser` merges into `winner`, its relations now start or end at the winner (RELATIONSHIP_CHANGED).
    static func moveRelations(tenant: String, from loser: String, to winner: String, now: Int64, user: String, tx: inout any StoreTransaction)
        throws
    {
        for id in try tx.relationIds(tenant: tenant, touching: loser) {
            guard let stored = try tx.relation(tenant: tenant, id: id), var ends = stored.entity.endpoints else { continue }
            if ends.startId == loser { ends.startId = winner }
            if ends.endId == loser { ends.endId = winner }
            var r = stored.entity
            r.endpoints = ends
            r.updatedTime = now
            r.updatedBy = user
            let version = stored.version + 1
            let body = r.storedBytes()
            try tx.updateRelation(tenant: tenant, relation: r, version: version, body: body)
            try tx.appendEvent(
                tenant: tenant,
                NewEvent(type: .relationshipChanged, objectURI: r.uri, objectVersion: version, time: now, snapshot: body, delta: []))
        }
    }
}
