import HeraldJSON

/// The result of applying one posted entity.
public enum IngestOutcome: Sendable {
    /// A new entity (its delta, everything added, is `Delta.between(nil, entity)` when needed).
    case created(Entity)
    case updated(old: Entity, new: Entity, Delta)
    /// The post changed nothing: no event, no new version.
    case unchanged(Entity)

    public var entity: Entity {
        switch self {
        case .created(let e), .updated(_, let e, _), .unchanged(let e): return e
        }
    }
}

/// Applies posted entities to stored ones: the contribution rules of the ingest stage.
///
/// A crosswalk (`type` + `value` [+ `sourceTable`]) identifies a source record.
/// The first crosswalk of a post owns the posted values; posting again through
/// that crosswalk replaces its contribution: values only it contributed and
/// that are no longer posted go away, new ones are added, and a value it
/// replaced keeps its id (an `ATTRIBUTE_CHANGED` in the delta). A value posted
/// by several sources is stored once with all of them as sources. Further
/// crosswalks in a post are attached to the entity as identifiers. Pure: no I/O.
public struct EntityIngestor: Sendable {
    public var schema: TenantSchema
    /// Chooses operational values; by default LUD (see `Survivorship`), or the entity type's
    /// survivorship rules when the match stage provides them.
    public var survivorship: @Sendable (inout Entity) -> Void

    public init(schema: TenantSchema, survivorship: @escaping @Sendable (inout Entity) -> Void = Survivorship.lastUpdateWins) {
        self.schema = schema
        self.survivorship = survivorship
    }

    /// Applies `input` to `existing` (nil: create a new entity with id `newEntityId`).
    ///
    /// - Throws: `IngestError` with a path under `path` (type mismatch, limits).
    public func apply(
        _ input: EntityInput, to existing: Entity?, newEntityId: String, now: Int64, user: String,
        ids: inout IDGenerator, at path: JSONPath
    ) throws(IngestError) -> IngestOutcome {
        if let existing, existing.type != input.type {
            throw IngestError(
                .entityTypeMismatch,
                "crosswalk \(input.crosswalks.first?.key.description ?? "") belongs to \(existing.uri) of type "
                    + "'\(existing.type)', not '\(input.type)'",
                at: path + "type")
        }
        var entity = existing ?? Entity(id: newEntityId, type: input.type, createdBy: user, createdTime: now)
        let inputCrosswalks =
            input.crosswalks.isEmpty
            ? [InputCrosswalk(type: TenantSchema.builtInSource, value: entity.id)] : input.crosswalks

        var crosswalksAdded = false
        var contributorId = ""
        for (i, ic) in inputCrosswalks.enumerated() {
            let key = ic.key
            if let existingCrosswalk = entity.crosswalks.first(where: { $0.key == key }) {
                if i == 0 { contributorId = existingCrosswalk.id }
            } else {
                var cid = ids.localId()
                while entity.crosswalks.contains(where: { $0.id == cid }) { cid = ids.localId() }
                entity.crosswalks.append(
                    Crosswalk(
                        id: cid, type: ic.type, value: ic.value, sourceTable: ic.sourceTable,
                        createDate: ic.createDate ?? now, updateDate: ic.updateDate ?? now))
                crosswalksAdded = true
                if i == 0 { contributorId = cid }
            }
        }

        // 1. The contributor withdraws from every value; values left without a source become orphans
        //    (kept in place for now so that order and ids survive).
        for ai in entity.attributes.indices {
            for vi in entity.attributes[ai].values.indices {
                entity.attributes[ai].values[vi].sources.removeAll { $0 == contributorId }
            }
        }
        // 2. It contributes the posted values: an equal value gains it as a source, an orphan is
        //    reused for a changed value, anything else is new.
        let entityType = schema.entityType(input.type)
        for attribute in input.attributes {
            var ai: Int
            if let found = entity.attributes.firstIndex(where: { $0.name == attribute.name }) {
                ai = found
            } else {
                let position = entityType?.position(of: attribute.name) ?? Int.max
                ai =
                    entity.attributes.firstIndex { (entityType?.position(of: $0.name) ?? Int.max) > position }
                    ?? entity.attributes.count
                entity.attributes.insert(AttributeEntry(name: attribute.name, values: []), at: ai)
            }
            var fresh: [AttributeContent] = []
            for content in attribute.values {
                if let vi = entity.attributes[ai].values.firstIndex(where: { $0.content.sameContent(as: content) }) {
                    entity.attributes[ai].values[vi].sources.append(contributorId)
                } else {
                    fresh.append(content)
                }
            }
            for content in fresh {
                if let orphan = entity.attributes[ai].values.firstIndex(where: { $0.sources.isEmpty }) {
                    let previous = entity.attributes[ai].values[orphan].content
                    entity.attributes[ai].values[orphan].content = withSubIds(content, previous: previous, ids: &ids)
                    entity.attributes[ai].values[orphan].sources = [contributorId]
                } else {
                    var vid = ids.localId()
                    while entity.attributes[ai].values.contains(where: { $0.id == vid }) { vid = ids.localId() }
                    entity.attributes[ai].values.append(
                        AttributeValue(
                            id: vid, content: withSubIds(content, previous: nil, ids: &ids), sources: [contributorId]))
                }
            }
        }
        // 3. Orphans that nothing reused are removed.
        for ai in entity.attributes.indices {
            entity.attributes[ai].values.removeAll { $0.sources.isEmpty }
        }
        entity.attributes.removeAll { $0.values.isEmpty }

        if let existing, !crosswalksAdded, sameContributions(existing.attributes, entity.attributes) {
            return .unchanged(existing)
        }

        if existing != nil, let ci = entity.crosswalks.firstIndex(where: { $0.id == contributorId }) {
            entity.crosswalks[ci].updateDate = inputCrosswalks[0].updateDate ?? now
        }
        for entry in entity.attributes where entry.values.count > schema.limits.maxValuesPerAttribute {
            throw IngestError(
                .limitExceeded,
                "'\(entry.name)' would hold \(entry.values.count) values, the limit is \(schema.limits.maxValuesPerAttribute)",
                at: path + "attributes" + entry.name)
        }
        if entity.crosswalks.count > schema.limits.maxCrosswalksPerEntity {
            throw IngestError(
                .limitExceeded,
                "\(entity.uri) would have \(entity.crosswalks.count) crosswalks, the limit is \(schema.limits.maxCrosswalksPerEntity)",
                at: path + "crosswalks")
        }
        survivorship(&entity)
        entity.updatedTime = now
        entity.updatedBy = user
        if let existing {
            return .updated(old: existing, new: entity, Delta.between(existing, entity))
        }
        return .created(entity)
    }

    /// Gives every sub-value of a nested value an id, reusing the previous content's ids for equal sub-values.
    private func withSubIds(_ content: AttributeContent, previous: AttributeContent?, ids: inout IDGenerator)
        -> AttributeContent
    {
        guard case .nested(var subs) = content else { return content }
        var old: [AttributeEntry] = []
        if case .nested(let p)? = previous { old = p }
        for si in subs.indices {
            let oldValues = old.first { $0.name == subs[si].name }?.values ?? []
            var used = Set<String>()
            for vi in subs[si].values.indices {
                let c = subs[si].values[vi].content
                if let match = oldValues.first(where: { !used.contains($0.id) && $0.content.sameContent(as: c) }) {
                    subs[si].values[vi].id = match.id
                } else {
                    var sid = ids.localId()
                    while used.contains(sid) || oldValues.contains(where: { $0.id == sid }) { sid = ids.localId() }
                    subs[si].values[vi].id = sid
                }
                used.insert(subs[si].values[vi].id)
            }
        }
        return .nested(subs)
    }

    /// Same values with the same ids and sources, ignoring `ov`.
    private func sameContributions(_ a: [AttributeEntry], _ b: [AttributeEntry]) -> Bool {
        guard a.count == b.count else { return false }
        for (ea, eb) in zip(a, b) {
            guard ea.name == eb.name, ea.values.count == eb.values.count else { return false }
            for (va, vb) in zip(ea.values, eb.values) {
                guard va.id == vb.id, Set(va.sources) == Set(vb.sources), va.content.sameContent(as: vb.content) else {
                    return false
                }
            }
        }
        return true
    }
}
