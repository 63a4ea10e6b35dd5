import HeraldModel

/// A stored entity with its version.
public struct StoredEntity: Sendable {
    public var entity: Entity
    /// Current version (the `objectVersion` of its latest event).
    public var version: Int64
    public var removed: Bool
    /// Set when the entity lost a merge: the winner's id.
    public var mergedInto: String?

    public init(entity: Entity, version: Int64, removed: Bool, mergedInto: String? = nil) {
        self.entity = entity
        self.version = version
        self.removed = removed
        self.mergedInto = mergedInto
    }

    /// Neither removed nor merged into another entity.
    public var isLive: Bool { !removed && mergedInto == nil }
}
