import HeraldJSON

/// Which parts of an entity a payload carries (`payloadFields`, `ovOnly`).
public struct EntityRenderOptions: Sendable, Equatable {
    /// Top-level fields to keep (`uri`, `type`, `createdTime`, …, `attributes`, `crosswalks`); nil keeps all.
    public var fields: Set<String>?
    /// Attributes to keep when only some are selected (`attributes.X`); nil keeps all.
    public var attributes: Set<String>?
    /// Sub-attributes to keep per nested attribute (`attributes.X.Y`); an attribute absent here keeps all.
    public var subAttributes: [String: Set<String>]
    /// Keep only operational values.
    public var ovOnly: Bool

    public init(fields: Set<String>? = nil, attributes: Set<String>? = nil, subAttributes: [String: Set<String>] = [:], ovOnly: Bool = false) {
        self.fields = fields
        self.attributes = attributes
        self.subAttributes = subAttributes
        self.ovOnly = ovOnly
    }

    /// Builds options from `payloadFields` entries such as `uri`, `attributes`, `attributes.FirstName`,
    /// `attributes.Address.City`.
    public init(payloadFields: [String]?, ovOnly: Bool) {
        self.ovOnly = ovOnly
        self.subAttributes = [:]
        guard let payloadFields else {
            fields = nil
            attributes = nil
            return
        }
        var fields = Set<String>()
        var attributes: Set<String>? = Set<String>()
        var wholeAttributes = false
        var subs: [String: Set<String>] = [:]
        for f in payloadFields {
            if f == "attributes" {
                fields.insert("attributes")
                wholeAttributes = true
            } else if f.hasPrefix("attributes.") {
                fields.insert("attributes")
                let parts = f.dropFirst("attributes.".count).split(separator: ".", maxSplits: 1).map(String.init)
                attributes?.insert(parts[0])
                if parts.count == 2 { subs[parts[0], default: []].insert(parts[1]) }
            } else {
                fields.insert(f)
            }
        }
        if wholeAttributes { attributes = nil }
        self.fields = fields
        self.attributes = attributes
        // A nested attribute named whole as well as by sub-attribute keeps everything.
        for name in subs.keys where payloadFields.contains("attributes.\(name)") { subs.removeValue(forKey: name) }
        self.subAttributes = subs
    }

    public static let all = EntityRenderOptions()
}

extension Entity {
    /// Renders the API shape restricted by `options`.
    public func render(into w: inout JSONWriter, options: EntityRenderOptions) {
        if options == .all {
            render(into: &w)
            return
        }
        func wants(_ field: String) -> Bool { options.fields?.contains(field) ?? true }
        w.beginObject()
        if wants("uri") {
            w.key("uri")
            w.openString()
            w.stringPiece(uriPrefix)
            w.stringPiece(id)
            w.closeString()
        }
        if wants("type") {
            w.key("type")
            w.string(type)
        }
        renderEndpoints(into: &w)
        if wants("createdBy") {
            w.key("createdBy")
            w.string(createdBy)
        }
        if wants("createdTime") {
            w.key("createdTime")
            w.int(createdTime)
        }
        if wants("updatedBy") {
            w.key("updatedBy")
            w.string(updatedBy)
        }
        if wants("updatedTime") {
            w.key("updatedTime")
            w.int(updatedTime)
        }
        if wants("attributes") {
            if options.subAttributes.isEmpty {
                renderAttributes(into: &w, ovOnly: options.ovOnly, attributeNames: options.attributes)
            } else {
                var trimmed = self
                for ai in trimmed.attributes.indices {
                    guard let keep = options.subAttributes[trimmed.attributes[ai].name] else { continue }
                    for vi in trimmed.attributes[ai].values.indices {
                        if case .nested(let subs) = trimmed.attributes[ai].values[vi].content {
                            trimmed.attributes[ai].values[vi].content = .nested(subs.filter { keep.contains($0.name) })
                        }
                    }
                }
                trimmed.renderAttributes(into: &w, ovOnly: options.ovOnly, attributeNames: options.attributes)
            }
        }
        if wants("crosswalks") {
            renderCrosswalks(into: &w)
        }
        w.endObject()
    }
}
