/// Merging entities and splitting them again (the merge and unmerge of the match stage). Pure.
extension Entity {
    /// Takes all of `loser`'s crosswalks and values: equal values are kept once with the sources of
    /// both; other values are added (keeping their ids unless taken). Crosswalks keep their ids unless
    /// taken. Operational values are not recomputed here (apply survivorship afterwards).
    public mutating func absorb(_ loser: Entity, ids: inout IDGenerator) {
        var crosswalkIds: [String: String] = [:]
        for c in loser.crosswalks {
            if let existing = crosswalks.first(where: { $0.key == c.key }) {
                crosswalkIds[c.id] = existing.id
                continue
            }
            var moved = c
            while crosswalks.contains(where: { $0.id == moved.id }) { moved.id = ids.localId() }
            crosswalkIds[c.id] = moved.id
            crosswalks.append(moved)
        }
        for entry in loser.attributes {
            let ai: Int
            if let found = attributes.firstIndex(where: { $0.name == entry.name }) {
                ai = found
            } else {
                attributes.append(AttributeEntry(name: entry.name, values: []))
                ai = attributes.count - 1
            }
            for value in entry.values {
                let sources = value.sources.compactMap { crosswalkIds[$0] }
                if let vi = attributes[ai].values.firstIndex(where: { $0.content.sameContent(as: value.content) }) {
                    for s in sources where !attributes[ai].values[vi].sources.contains(s) {
                        attributes[ai].values[vi].sources.append(s)
                    }
                } else {
                    var moved = value
                    moved.sources = sources
                    while attributes[ai].values.contains(where: { $0.id == moved.id }) { moved.id = ids.localId() }
                    attributes[ai].values.append(moved)
                }
            }
        }
    }

    /// Takes out the crosswalks in `keys` and what only they contribute, and returns them as the entity
    /// `spawnId` (unmerge). Values the spawn shares with remaining crosswalks stay here too.
    ///
    /// - Parameter previous: the spawn as it was when it merged; its crosswalk and value ids are
    ///   restored where the same crosswalk or the same content is found, so an unmerge right after a
    ///   merge gives the spawn back byte for byte.
    public mutating func split(crosswalks keys: Set<CrosswalkKey>, spawnId: String, previous: Entity?) -> Entity {
        let spawnCrosswalks = crosswalks.filter { keys.contains($0.key) }
        let spawnIds = Set(spawnCrosswalks.map(\.id))
        var spawn = Entity(
            id: spawnId, type: type, createdBy: previous?.createdBy ?? updatedBy,
            createdTime: previous?.createdTime ?? updatedTime, updatedBy: updatedBy, updatedTime: updatedTime)
        // Crosswalks: restore their ids from before the merge.
        var renamed: [String: String] = [:]
        for c in spawnCrosswalks {
            var restored = c
            if let old = previous?.crosswalks.first(where: { $0.key == c.key }) { restored.id = old.id }
            renamed[c.id] = restored.id
            spawn.crosswalks.append(restored)
        }
        // Attributes: values with a spawn source go to the spawn, with only its sources.
        for entry in attributes {
            var values: [AttributeValue] = []
            let before = previous?.values(of: entry.name) ?? []
            for value in entry.values where value.sources.contains(where: spawnIds.contains) {
                var v = value
                v.sources = value.sources.filter(spawnIds.contains).compactMap { renamed[$0] }
                if let old = before.first(where: { $0.content.sameContent(as: value.content) }),
                    !values.contains(where: { $0.id == old.id })
                {
                    v.id = old.id
                    v.content = old.content
                }
                values.append(v)
            }
            if !values.isEmpty { spawn.attributes.append(AttributeEntry(name: entry.name, values: values)) }
        }
        // Keep the spawn's attribute order as it was.
        if let previous {
            let order = previous.attributes.map(\.name)
            spawn.attributes.sort { (order.firstIndex(of: $0.name) ?? Int.max) < (order.firstIndex(of: $1.name) ?? Int.max) }
        }
        // What stays: values keep their other sources; values only the spawn contributed go.
        crosswalks.removeAll { keys.contains($0.key) }
        for ai in attributes.indices {
            for vi in attributes[ai].values.indices {
                attributes[ai].values[vi].sources.removeAll(where: spawnIds.contains)
            }
            attributes[ai].values.removeAll { $0.sources.isEmpty }
        }
        attributes.removeAll { $0.values.isEmpty }
        return spawn
    }
}
