import HeraldJSON

/// What changed in one entity, in the activity-log shape consumers know.
public struct Delta: Sendable, Equatable {
    public var items: [DeltaItem]
    /// Whether any operational value changed (an `ov` value appeared, disappeared or changed).
    public var ovChanged: Bool

    public init(items: [DeltaItem] = [], ovChanged: Bool = false) {
        self.items = items
        self.ovChanged = ovChanged
    }

    public var isEmpty: Bool { items.isEmpty }

    /// Whether an item touches the attribute `name` (top-level name, e.g. `FirstName`).
    public func touches(attribute name: String) -> Bool {
        items.contains { $0.attributeName == name }
    }
}

public enum DeltaKind: String, Sendable {
    case attributeAdded = "ATTRIBUTE_ADDED"
    case attributeChanged = "ATTRIBUTE_CHANGED"
    case attributeRemoved = "ATTRIBUTE_REMOVED"
    case crosswalkAdded = "CROSSWALK_ADDED"
    case crosswalkRemoved = "CROSSWALK_REMOVED"
}

/// One line of a delta.
public struct DeltaItem: Sendable, Equatable {
    public var kind: DeltaKind
    /// The attribute's short name for attribute items; empty for crosswalk items.
    public var attributeName: String
    public var oldValue: DeltaValue?
    public var newValue: DeltaValue?
    /// For crosswalk items.
    public var crosswalk: CrosswalkKey?

    public init(
        kind: DeltaKind, attributeName: String = "", oldValue: DeltaValue? = nil, newValue: DeltaValue? = nil,
        crosswalk: CrosswalkKey? = nil
    ) {
        self.kind = kind
        self.attributeName = attributeName
        self.oldValue = oldValue
        self.newValue = newValue
        self.crosswalk = crosswalk
    }
}

/// A value as the delta shows it: `{id, value, ov, sources}`.
public struct DeltaValue: Sendable, Equatable {
    public var id: String
    public var content: AttributeContent
    public var ov: Bool
    /// Source names (last component of the crosswalk type: `CRM`).
    public var sources: [String]

    public init(id: String, content: AttributeContent, ov: Bool, sources: [String]) {
        self.id = id
        self.content = content
        self.ov = ov
        self.sources = sources
    }
}

extension Delta {
    /// Computes the delta from `old` to `new` (either may be absent: creation, removal).
    ///
    /// Values are matched by id: same id with other content is ATTRIBUTE_CHANGED.
    public static func between(_ old: Entity?, _ new: Entity?) -> Delta {
        var delta = Delta()
        let oldAttributes = old?.attributes ?? []
        let newAttributes = new?.attributes ?? []

        func sourceNames(_ value: AttributeValue, in entity: Entity) -> [String] {
            var names: [String] = []
            for id in value.sources {
                if let c = entity.crosswalk(id: id) {
                    let n = uriLastComponent(c.type)
                    if !names.contains(n) { names.append(n) }
                }
            }
            return names
        }
        func deltaValue(_ v: AttributeValue, _ e: Entity) -> DeltaValue {
            DeltaValue(id: v.id, content: v.content, ov: v.ov, sources: sourceNames(v, in: e))
        }

        for entry in newAttributes {
            let oldEntry = oldAttributes.first { $0.name == entry.name }
            for value in entry.values {
                if let oldValue = oldEntry?.values.first(where: { $0.id == value.id }) {
                    if !oldValue.content.sameContent(as: value.content) {
                        delta.items.append(
                            DeltaItem(
                                kind: .attributeChanged, attributeName: entry.name, oldValue: deltaValue(oldValue, old!),
                                newValue: deltaValue(value, new!)))
                    }
                } else {
                    delta.items.append(
                        DeltaItem(kind: .attributeAdded, attributeName: entry.name, newValue: deltaValue(value, new!)))
                }
            }
            if ovContents(oldEntry) != ovContents(entry) { delta.ovChanged = true }
        }
        for oldEntry in oldAttributes {
            let newEntry = newAttributes.first { $0.name == oldEntry.name }
            for value in oldEntry.values where !(newEntry?.values.contains { $0.id == value.id } ?? false) {
                delta.items.append(
                    DeltaItem(kind: .attributeRemoved, attributeName: oldEntry.name, oldValue: deltaValue(value, old!)))
            }
            if newEntry == nil && oldEntry.values.contains(where: \.ov) { delta.ovChanged = true }
        }
        let oldKeys = Set((old?.crosswalks ?? []).map(\.key))
        let newKeys = Set((new?.crosswalks ?? []).map(\.key))
        for c in new?.crosswalks ?? [] where !oldKeys.contains(c.key) {
            delta.items.append(DeltaItem(kind: .crosswalkAdded, crosswalk: c.key))
        }
        for c in old?.crosswalks ?? [] where !newKeys.contains(c.key) {
            delta.items.append(DeltaItem(kind: .crosswalkRemoved, crosswalk: c.key))
        }
        return delta
    }

    private static func ovContents(_ entry: AttributeEntry?) -> [AttributeContent] {
        guard let entry else { return [] }
        return entry.values.filter(\.ov).map(\.content)
    }
}

extension Delta {
    /// Renders `{"ovChanged": …, "delta": [...]}`.
    ///
    /// - Parameter entityType: the entity type URI, to build `attributeType` URIs.
    public func render(into writer: inout JSONWriter, entityType: String) {
        writer.beginObject()
        writer.key("ovChanged")
        writer.bool(ovChanged)
        writer.key("delta")
        renderItems(into: &writer, entityType: entityType)
        writer.endObject()
    }

    /// `"crosswalk":{"type":…,"value":…[,"sourceTable":…]}` of a crosswalk item (no table when empty).
    static func writeCrosswalk(type: String, value: String, sourceTable: String, into writer: inout JSONWriter) {
        writer.key("crosswalk")
        writer.beginObject()
        writer.key("type")
        writer.string(type)
        writer.key("value")
        writer.string(value)
        if !sourceTable.isEmpty {
            writer.key("sourceTable")
            writer.string(sourceTable)
        }
        writer.endObject()
    }

    /// Renders only the `[...]` list of items.
    public func renderItems(into writer: inout JSONWriter, entityType: String, only attributeNames: Set<String>? = nil) {
        writer.beginArray()
        for item in items {
            if let names = attributeNames, !names.contains(item.attributeName) { continue }
            writer.beginObject()
            writer.key("type")
            writer.string(item.kind.rawValue)
            if let c = item.crosswalk {
                Delta.writeCrosswalk(type: c.type, value: c.value, sourceTable: c.sourceTable, into: &writer)
            } else {
                writer.key("attributeType")
                writer.openString()
                writer.stringPiece(entityType)
                writer.stringPiece("/attributes/")
                writer.stringPiece(item.attributeName)
                writer.closeString()
            }
            if let v = item.oldValue {
                writer.key("oldValue")
                Delta.renderValue(v, into: &writer)
            }
            if let v = item.newValue {
                writer.key("newValue")
                Delta.renderValue(v, into: &writer)
            }
            writer.endObject()
        }
        writer.endArray()
    }

    static func renderValue(_ v: DeltaValue, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("id")
        writer.string(v.id)
        writer.key("value")
        renderContent(v.content, into: &writer)
        writer.key("ov")
        writer.bool(v.ov)
        writer.key("sources")
        writer.beginArray()
        for s in v.sources { writer.string(s) }
        writer.endArray()
        writer.endObject()
    }

    static func renderContent(_ content: AttributeContent, into writer: inout JSONWriter) {
        switch content {
        case .simple(let s):
            writer.string(s)
        case .nested(let subs):
            writer.beginObject()
            for sub in subs {
                writer.key(sub.name)
                writer.beginArray()
                for v in sub.values {
                    writer.beginObject()
                    writer.key("id")
                    writer.string(v.id)
                    writer.key("value")
                    renderContent(v.content, into: &writer)
                    writer.key("ov")
                    writer.bool(v.ov)
                    writer.endObject()
                }
                writer.endArray()
            }
            writer.endObject()
        }
    }

    /// Writes what `Delta.between(nil, entity).render(…)` (`added`) or `Delta.between(entity, nil)`
    /// writes, without building the delta: every CREATED and REMOVED event renders this, and the
    /// intermediate items (a copy of every value, its source names as new strings) cost more
    /// than the rendering.
    static func renderDerived(from entity: Entity, added: Bool, into writer: inout JSONWriter, entityType: String) {
        // `sourceNames` of `between`: the last component of the first crosswalk with the source id,
        // each name once, in source order.
        let crosswalkNames = entity.crosswalks.map { uriLastComponent($0.type) }
        func crosswalkIndex(_ id: String) -> Int? { entity.crosswalks.firstIndex { $0.id == id } }
        var attributeTypePrefix = JSONWriter.escapedContent(entityType)
        attributeTypePrefix.append(contentsOf: "/attributes/".utf8)

        writer.beginObject()
        writer.key("ovChanged")
        let ovChanged = entity.attributes.contains { $0.values.contains(where: \.ov) }
        writer.bool(ovChanged)
        writer.key("delta")
        writer.beginArray()
        // Index loops and fixed tokens as single fragments, as in Entity.renderValue (the hot path).
        for e in entity.attributes.indices {
            for v in entity.attributes[e].values.indices {
                writer.beginObject()
                writer.fragment(
                    added ? #""type":"ATTRIBUTE_ADDED","attributeType":""# : #""type":"ATTRIBUTE_REMOVED","attributeType":""#)
                writer.fragment(attributeTypePrefix)
                writer.stringPiece(entity.attributes[e].name)
                // The value as `renderValue` writes it, with the sources resolved here.
                writer.fragment(added ? #"","newValue":{"id":""# : #"","oldValue":{"id":""#)
                writer.stringPiece(entity.attributes[e].values[v].id)
                writer.fragment(#"","value":"#)
                renderContent(entity.attributes[e].values[v].content, into: &writer)
                writer.key("ov")
                writer.bool(entity.attributes[e].values[v].ov)
                writer.key("sources")
                writer.beginArray()
                let sources = entity.attributes[e].values[v].sources
                for i in sources.indices {
                    guard let c = crosswalkIndex(sources[i]) else { continue }
                    // Already written for an earlier source of this value?
                    let seen = sources[..<i].contains { earlier in
                        crosswalkIndex(earlier).map { crosswalkNames[$0] == crosswalkNames[c] } ?? false
                    }
                    if !seen { writer.string(crosswalkNames[c]) }
                }
                writer.endArray()
                // Closes the value and the item; `endArray` left the comma state as `endObject` would.
                writer.fragment("}}")
            }
        }
        for c in entity.crosswalks {
            writer.beginObject()
            writer.key("type")
            writer.string(added ? DeltaKind.crosswalkAdded.rawValue : DeltaKind.crosswalkRemoved.rawValue)
            Delta.writeCrosswalk(type: c.type, value: c.value, sourceTable: c.sourceTable ?? "", into: &writer)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }

    public func jsonBytes(entityType: String) -> [UInt8] {
        var writer = JSONWriter(capacity: 512)
        render(into: &writer, entityType: entityType)
        return writer.bytes
    }
}

extension Delta {
    /// Reads a delta rendered by `render(into:entityType:)` (stored deltas of `ENTITY_CHANGED` events).
    public init(json: JSONValue) {
        self.init(ovChanged: json["ovChanged"]?.boolValue ?? false)
        for item in json["delta"]?.arrayValue ?? [] {
            guard let kindName = item["type"]?.stringValue, let kind = DeltaKind(rawValue: kindName) else { continue }
            var d = DeltaItem(kind: kind)
            if let type = item["attributeType"]?.stringValue { d.attributeName = uriLastComponent(type) }
            d.oldValue = item["oldValue"].flatMap(Delta.decodeValue)
            d.newValue = item["newValue"].flatMap(Delta.decodeValue)
            if let c = item["crosswalk"], let t = c["type"]?.stringValue, let v = c["value"]?.stringValue {
                d.crosswalk = CrosswalkKey(type: t, value: v, sourceTable: c["sourceTable"]?.stringValue ?? "")
            }
            items.append(d)
        }
    }

    public init(jsonBytes: [UInt8]) throws {
        self.init(json: try JSONParser.parse(jsonBytes))
    }

    static func decodeValue(_ json: JSONValue) -> DeltaValue? {
        guard let id = json["id"]?.stringValue, let value = json["value"] else { return nil }
        return DeltaValue(
            id: id, content: decodeContent(value), ov: json["ov"]?.boolValue ?? false,
            sources: json["sources"]?.arrayValue?.compactMap(\.stringValue) ?? [])
    }

    static func decodeContent(_ json: JSONValue) -> AttributeContent {
        guard case .object(let members) = json else { return .simple(json.stringValue ?? json.serializedString()) }
        return .nested(
            members.map { m in
                AttributeEntry(
                    name: m.key,
                    values: (m.value.arrayValue ?? []).map { v in
                        AttributeValue(
                            id: v["id"]?.stringValue ?? "", content: decodeContent(v["value"] ?? .null),
                            ov: v["ov"]?.boolValue ?? false)
                    })
            })
    }
}

