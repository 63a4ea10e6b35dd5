import HeraldConfig
import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import HeraldStorage

extension IngestService {
    func coordinator(_ tenant: TenantConfiguration, type: String, user: String) -> MatchCoordinator {
        let matching =
            matcher(tenant.id, type)
            ?? CompiledMatching(
                EntityMatching(), entityType: tenant.schema.entityType(type) ?? EntityTypeDefinition(uri: type, attributes: []))
        return MatchCoordinator(
            tenant: tenant.id, matching: matching, tokenCap: tenant.schema.limits.maxEntitiesPerToken,
            coarseTokenCap: tenant.schema.limits.maxEntitiesPerCoarseToken, user: user,
            now: epochMilliseconds(), state: writerState)
    }

    /// Manual merge (`_sameAs`): `otherId` and `id` become one entity. The winner is the older one,
    /// or `id` with `explicitWinner`. `expectedVersion`, when given, must be `id`'s current version.
    public func sameAs(
        tenant: TenantConfiguration, id: String, other otherId: String, explicitWinner: Bool, expectedVersion: Int64?,
        user: String
    ) async throws -> String {
        let tenantId = tenant.id
        let build = { (type: String) in self.coordinator(tenant, type: type, user: user) }
        return try await store.write { tx in
            guard id != otherId else { throw MergeError(.invalid, "SAME_ENTITY", "an entity cannot be merged with itself") }
            guard let a = try tx.entity(tenant: tenantId, id: id), a.isLive else {
                throw MergeError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist or was merged or removed")
            }
            guard let b = try tx.entity(tenant: tenantId, id: otherId), b.isLive else {
                throw MergeError(.notFound, "ENTITY_NOT_FOUND", "entities/\(otherId) does not exist or was merged or removed")
            }
            if let expectedVersion, expectedVersion != a.version {
                throw MergeError(
                    .conflict, "VERSION_CONFLICT",
                    "entities/\(id) is at version \(a.version), not \(expectedVersion): it changed meanwhile; read it again")
            }
            guard a.entity.type == b.entity.type else {
                throw MergeError(
                    .invalid, "ENTITY_TYPE_MISMATCH",
                    "entities/\(id) is a '\(a.entity.type)' and entities/\(otherId) a '\(b.entity.type)': only entities of one type merge")
            }
            try tx.removeNotMatch(tenant: tenantId, id, otherId)
            return try build(a.entity.type).merge([a, b], explicitWinner: explicitWinner ? id : nil, tx: &tx)
        }
    }

    /// Unmerge: `spawnId`, merged earlier into `id`, becomes an entity of its own again.
    public func unmerge(tenant: TenantConfiguration, id: String, spawn spawnId: String, user: String) async throws {
        let tenantId = tenant.id
        let build = { (type: String) in self.coordinator(tenant, type: type, user: user) }
        try await store.write { tx in
            guard let origin = try tx.entity(tenant: tenantId, id: id) else {
                throw MergeError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist")
            }
            try build(origin.entity.type).unmerge(origin: id, spawn: spawnId, tx: &tx)
        }
    }

    /// Marks two entities as not a match: never merged or suggested again; their potential match goes.
    public func notMatch(tenant: TenantConfiguration, id: String, other otherId: String, user: String) async throws {
        let tenantId = tenant.id
        let build = { (type: String) in self.coordinator(tenant, type: type, user: user) }
        try await store.write { tx in
            guard let a = try tx.entity(tenant: tenantId, id: id), a.isLive else {
                throw MergeError(.notFound, "ENTITY_NOT_FOUND", "entities/\(id) does not exist or was merged or removed")
            }
            guard try tx.entity(tenant: tenantId, id: otherId) != nil else {
                throw MergeError(.notFound, "ENTITY_NOT_FOUND", "entities/\(otherId) does not exist")
            }
            try tx.addNotMatch(tenant: tenantId, id, otherId)
            let existing = try tx.potentialMatches(tenant: tenantId, entityId: id)
            if let rules = existing[otherId] {
                try tx.removePotentialMatch(tenant: tenantId, id, otherId)
                try build(a.entity.type).emitPotential(.potentialMatchesRemoved, a, [(otherId, rules)], tx: &tx)
            }
        }
    }

    /// Validates and applies posted relations (like entities: one result per item, valid ones commit).
    public func postRelations(tenant: TenantConfiguration, items: [JSONValue], user: String) async throws -> [ItemResult] {
        var prepared: [Result<RelationInput, IngestError>] = []
        for (index, item) in items.enumerated() {
            do {
                prepared.append(.success(try RelationInput(json: item, schema: tenant.schema, at: JSONPath.root + index)))
            } catch {
                prepared.append(.failure(error))
            }
        }
        let tenantId = tenant.id
        let schema = tenant.schema
        let ingestor = EntityIngestor(schema: tenant.schema)
        let state = writerState
        let inputs = prepared
        return try await store.write { tx in
            var results: [ItemResult] = []
            for (index, item) in inputs.enumerated() {
                switch item {
                case .failure(let error):
                    results.append(.failed(error))
                case .success(let input):
                    do {
                        results.append(
                            try RelationStore.applyOne(
                                input, index: index, tenant: tenantId, ingestor: ingestor, schema: schema, user: user,
                                tx: &tx, state: state))
                    } catch let error as IngestError {
                        results.append(.failed(error))
                    }
                }
            }
            return results
        }
    }

    public func removeRelation(tenant: TenantConfiguration, id: String, user: String) async throws -> RemoveResult {
        let tenantId = tenant.id
        return try await store.write { tx in try RelationStore.remove(tenant: tenantId, id: id, user: user, tx: &tx) }
    }
}
