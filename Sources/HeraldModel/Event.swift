import HeraldJSON

/// The event types of the CRUD queue, named as in the platform our users know.
public enum EventType: String, Sendable, CaseIterable, Codable {
    case entityCreated = "ENTITY_CREATED"
    case entityChanged = "ENTITY_CHANGED"
    case entityRemoved = "ENTITY_REMOVED"
    case entitiesMerged = "ENTITIES_MERGED"
    case entityLostMerge = "ENTITY_LOST_MERGE"
    case entitiesSplitted = "ENTITIES_SPLITTED"
    case potentialMatchesFound = "POTENTIAL_MATCHES_FOUND"
    case potentialMatchesRemoved = "POTENTIAL_MATCHES_REMOVED"
    case relationshipCreated = "RELATIONSHIP_CREATED"
    case relationshipChanged = "RELATIONSHIP_CHANGED"
    case relationshipRemoved = "RELATIONSHIP_REMOVED"

    /// Events whose message body is `{"type", "uris", "updatedTime"}` rather than `{"type", "object", …}`.
    public var isMergeEvent: Bool {
        self == .entitiesMerged || self == .entitiesSplitted
    }
}

/// An event about to be appended to the CRUD queue (its sequence number is assigned on insert).
public struct NewEvent: Sendable {
    public var type: EventType
    /// `entities/{id}` (or `relations/{id}`).
    public var objectURI: String
    /// The object's version after the change (+1 per change, starting at 1).
    public var objectVersion: Int64
    /// Epoch milliseconds.
    public var time: Int64
    /// The object's snapshot after the change (before it, for removals), in the compact stored
    /// form (`Entity+Storage.swift`).
    public var snapshot: [UInt8]
    /// `{"ovChanged": …, "delta": [...]}` in the API shape, or empty when it is derived from the
    /// snapshot (creations: everything added; removals: everything removed).
    public var delta: [UInt8]
    /// Other objects the event is about (merge participants, potential matches).
    public var uris: [String]
    /// Event-specific JSON (potential matches: `[{"uri", "matchRules": [...]}]`), or empty.
    public var details: [UInt8]

    public init(
        type: EventType, objectURI: String, objectVersion: Int64, time: Int64, snapshot: [UInt8], delta: [UInt8],
        uris: [String] = [], details: [UInt8] = []
    ) {
        self.details = details
        self.type = type
        self.objectURI = objectURI
        self.objectVersion = objectVersion
        self.time = time
        self.snapshot = snapshot
        self.delta = delta
        self.uris = uris
    }
}

/// One row of the CRUD queue.
public struct EventRecord: Sendable {
    /// Global, strictly increasing sequence number.
    public var seq: Int64
    public var tenant: String
    public var event: NewEvent

    public init(seq: Int64, tenant: String, event: NewEvent) {
        self.seq = seq
        self.tenant = tenant
        self.event = event
    }

    public var type: EventType { event.type }
}

/// An event's delta: stored bytes in the API shape, or implied by the snapshot (creations and
/// removals), computed only when something asks for it.
public enum EventDelta: Sendable {
    case stored([UInt8])
    /// Everything in the entity was added.
    case created(Entity)
    /// Everything in the entity was removed.
    case removed(Entity)
    /// No delta (merge events).
    case none

    /// The delta as a value (stored bytes are parsed).
    public var delta: Delta {
        switch self {
        case .stored(let bytes): return (try? Delta(jsonBytes: bytes)) ?? Delta()
        case .created(let e): return Delta.between(nil, e)
        case .removed(let e): return Delta.between(e, nil)
        case .none: return Delta()
        }
    }

    /// Whether an operational value changed, without computing a derived delta.
    public var ovChanged: Bool {
        switch self {
        case .stored(let bytes):
            // `{"ovChanged":true,…` is how Delta.render starts; read the flag without parsing the rest.
            let prefix: [UInt8] = Array("{\"ovChanged\":true".utf8)
            return bytes.count >= prefix.count && bytes[0..<prefix.count].elementsEqual(prefix)
        case .created(let e), .removed(let e):
            return e.attributes.contains { $0.values.contains(where: \.ov) }
        case .none:
            return false
        }
    }

    /// Writes `{"ovChanged": …, "delta": [...]}`.
    public func render(into writer: inout JSONWriter, entityType: String) {
        switch self {
        case .stored(let bytes): writer.raw(bytes)
        // Creations and removals: written straight from the entity, without building the items.
        case .created(let e): Delta.renderDerived(from: e, added: true, into: &writer, entityType: entityType)
        case .removed(let e): Delta.renderDerived(from: e, added: false, into: &writer, entityType: entityType)
        case .none: Delta().render(into: &writer, entityType: entityType)
        }
    }
}

extension NewEvent {
    /// The snapshot as an entity.
    public func entity() throws -> Entity {
        try Entity(storedBytes: snapshot)
    }

    /// The event's delta (derived lazily for creations and removals).
    public func delta(for entity: Entity) -> EventDelta {
        delta.isEmpty ? .derived(for: type, entity: entity) : .stored(delta)
    }
}

extension EventType {
    /// What the delta `EventDelta.derived` gives this type when the event carries none: everything added (true, a
    /// creation), everything removed (false, a removal), or nil (no delta). For renderers that derive it from the
    /// stored bytes.
    public var derivedDeltaAdds: Bool? {
        switch self {
        case .entityCreated: return true
        case .entityRemoved: return false
        default: return nil
        }
    }
}

extension EventDelta {
    /// The delta of an event that carries none: everything added for a creation, everything removed for a
    /// removal, nothing otherwise. Delivery and `herald filter test` both derive it here.
    public static func derived(for type: EventType, entity: Entity) -> EventDelta {
        switch type {
        case .entityCreated: return .created(entity)
        case .entityRemoved: return .removed(entity)
        default: return .none
        }
    }
}
