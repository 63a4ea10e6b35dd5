import HeraldJSON

/// One entity as posted by a source system, validated against the tenant's schema.
public struct EntityInput: Sendable, Equatable {
    /// Entity type URI.
    public var type: String
    /// Posted attributes, in the order of the type's declaration.
    public var attributes: [InputAttribute]
    /// At least one; the first one owns the posted values (see `docs/ingest.md`).
    public var crosswalks: [InputCrosswalk]

    public init(type: String, attributes: [InputAttribute], crosswalks: [InputCrosswalk]) {
        self.type = type
        self.attributes = attributes
        self.crosswalks = crosswalks
    }
}

public struct InputAttribute: Sendable, Equatable {
    public var name: String
    /// Distinct values in posted order.
    public var values: [AttributeContent]

    public init(name: String, values: [AttributeContent]) {
        self.name = name
        self.values = values
    }
}

public struct InputCrosswalk: Sendable, Equatable {
    public var type: String
    public var value: String
    public var sourceTable: String?
    public var createDate: Int64?
    public var updateDate: Int64?

    public init(type: String, value: String, sourceTable: String? = nil, createDate: Int64? = nil, updateDate: Int64? = nil) {
        self.type = type
        self.value = value
        self.sourceTable = sourceTable
        self.createDate = createDate
        self.updateDate = updateDate
    }

    public var key: CrosswalkKey { CrosswalkKey(type: type, value: value, sourceTable: sourceTable ?? "") }
}

extension EntityInput {
    /// Validates one posted item against `schema`.
    ///
    /// - Parameter path: the item's path in the request (`[3]`), prefixed to every error.
    /// - Throws: the first problem found, with its code and path.
    public init(json: JSONValue, schema: TenantSchema, at path: JSONPath) throws(IngestError) {
        try self.init(json: json, schema: schema, at: path, relation: false)
    }

    /// - Parameter relation: read a relation (its type among the relation types; `startObject` and
    ///   `endObject` are allowed and left to `RelationInput`).
    public init(json: JSONValue, schema: TenantSchema, at path: JSONPath, relation: Bool) throws(IngestError) {
        guard case .object(let members) = json else {
            throw IngestError(.invalidEntity, "an entity must be a JSON object, found \(json.kindDescription)", at: path)
        }
        var typeName: String?
        var attributesJSON: [JSONMember]?
        var crosswalksJSON: [JSONValue]?
        for m in members {
            switch m.key {
            case "type":
                guard case .string(let s) = m.value else {
                    throw IngestError(.invalidEntity, "'type' must be a string", at: path + "type")
                }
                typeName = s
            case "attributes":
                guard case .object(let a) = m.value else {
                    throw IngestError(.invalidEntity, "'attributes' must be an object of attribute arrays", at: path + "attributes")
                }
                attributesJSON = a
            case "crosswalks":
                guard case .array(let c) = m.value else {
                    throw IngestError(.invalidEntity, "'crosswalks' must be an array", at: path + "crosswalks")
                }
                crosswalksJSON = c
            case "startObject" where relation, "endObject" where relation:
                continue
            default:
                throw IngestError(
                    .invalidEntity, "unknown key '\(Echo.cut(m.key))'; an entity has 'type', 'attributes' and 'crosswalks'",
                    at: path + m.key)
            }
        }
        guard let typeName else {
            throw IngestError(
                .invalidEntity, "'type' is required (an \(relation ? "relation" : "entity") type URI)", at: path + "type")
        }
        let found = relation ? schema.relationType(typeName)?.definition : schema.entityType(typeName)
        guard let entityType = found else {
            let known = (relation ? schema.relationTypes.map(\.definition.uri) : schema.entityTypes.map(\.uri))
                .joined(separator: ", ")
            throw IngestError(
                .unknownEntityType,
                "unknown \(relation ? "relation" : "entity") type '\(Echo.cut(typeName))'; this tenant declares: \(known.isEmpty ? "none" : known)",
                at: path + "type")
        }
        self.type = entityType.uri
        self.attributes = []
        self.crosswalks = []

        for m in attributesJSON ?? [] {
            guard let definition = entityType.attribute(named: m.key) else {
                throw IngestError(
                    .unknownAttribute, "entity type '\(entityType.name)' has no attribute '\(Echo.cut(m.key))'",
                    at: path + "attributes" + m.key)
            }
            let values = try EntityInput.decodeValues(
                m.value, definition: definition, schema: schema, parent: path, key: m.key)
            if !values.isEmpty { attributes.append(InputAttribute(name: m.key, values: values)) }
        }
        attributes.sort { entityType.position(of: $0.name) < entityType.position(of: $1.name) }

        var seen = Set<CrosswalkKey>()
        for (i, c) in (crosswalksJSON ?? []).enumerated() {
            let cpath = path + "crosswalks" + i
            let crosswalk = try EntityInput.decodeCrosswalk(c, schema: schema, at: cpath)
            guard seen.insert(crosswalk.key).inserted else {
                throw IngestError(.invalidEntity, "crosswalk \(crosswalk.key) appears twice", at: cpath)
            }
            crosswalks.append(crosswalk)
        }
        if crosswalks.count > schema.limits.maxCrosswalksPerEntity {
            throw IngestError(
                .limitExceeded,
                "\(crosswalks.count) crosswalks, the limit is \(schema.limits.maxCrosswalksPerEntity) per entity",
                at: path + "crosswalks")
        }
    }

    static func decodeCrosswalk(_ c: JSONValue, schema: TenantSchema, at path: JSONPath) throws(IngestError) -> InputCrosswalk {
        guard case .object(let members) = c else {
            throw IngestError(.invalidEntity, "a crosswalk must be an object with 'type' and 'value'", at: path)
        }
        var type: String?
        var value: String?
        var sourceTable: String?
        var createDate: Int64?
        var updateDate: Int64?
        for m in members {
            switch m.key {
            case "type":
                guard case .string(let s) = m.value else {
                    throw IngestError(.invalidEntity, "'type' must be a source URI string", at: path + "type")
                }
                type = s
            case "value":
                switch m.value {
                case .string(let s): value = s
                case .number(let n): value = n
                default: throw IngestError(.invalidEntity, "'value' must be a string", at: path + "value")
                }
            case "sourceTable":
                guard case .string(let s) = m.value else {
                    throw IngestError(.invalidEntity, "'sourceTable' must be a string", at: path + "sourceTable")
                }
                sourceTable = s.isEmpty ? nil : s
            case "createDate", "updateDate":
                guard let t = parseTimestamp(m.value) else {
                    throw IngestError(
                        .invalidEntity, "'\(m.key)' must be epoch milliseconds or an ISO-8601 date-time", at: path + m.key)
                }
                if m.key == "createDate" { createDate = t } else { updateDate = t }
            default:
                throw IngestError(
                    .invalidEntity,
                    "unknown key '\(Echo.cut(m.key))'; a crosswalk has 'type', 'value', 'sourceTable', 'createDate', 'updateDate'",
                    at: path + m.key)
            }
        }
        guard let type else { throw IngestError(.invalidEntity, "'type' is required (a source URI)", at: path + "type") }
        guard let value, !value.isEmpty else {
            throw IngestError(.invalidEntity, "'value' is required (the record's id in the source)", at: path + "value")
        }
        // Crosswalk values and source tables are identifiers: the crosswalk index compares them as SQLite text,
        // which stops at NUL, and merge records separate them with U+001E/U+001F. Control characters are refused.
        for (key, text) in [("value", value), ("sourceTable", sourceTable ?? "")] {
            if let bad = text.utf8.firstIndex(where: { $0 < 0x20 || $0 == 0x7F }) {
                let offset = text.utf8.distance(from: text.utf8.startIndex, to: bad)
                throw IngestError(
                    .invalidEntity,
                    "'\(key)' holds the control character \(ObjectID.describe(Unicode.Scalar(text.utf8[bad]))) at byte "
                        + "\(offset); crosswalk identifiers may not contain control characters (U+0000 to U+001F, U+007F)",
                    at: path + key)
            }
        }
        let sourceURI = type.hasPrefix("configuration/sources/") ? type : "configuration/sources/" + type
        guard schema.hasSource(sourceURI) else {
            let known = schema.sources.map(\.uri).joined(separator: ", ")
            throw IngestError(.unknownSource, "unknown source '\(Echo.cut(type))'; this tenant declares: \(known)", at: path + "type")
        }
        if value.utf8.count > schema.limits.maxValueBytes {
            throw IngestError(
                .limitExceeded, "crosswalk value is \(value.utf8.count) bytes, the limit is \(schema.limits.maxValueBytes)",
                at: path + "value")
        }
        return InputCrosswalk(
            type: sourceURI, value: value, sourceTable: sourceTable, createDate: createDate, updateDate: updateDate)
    }

    /// Decodes one attribute's values. Paths are only built when there is an error to report.
    ///
    /// - Parameters:
    ///   - parent: the item's path for top-level attributes (`[3]`), the nested value's path otherwise.
    ///   - key: the attribute name.
    static func decodeValues(
        _ json: JSONValue, definition: AttributeDefinition, schema: TenantSchema, parent: JSONPath, key: String,
        nested: Bool = false
    ) throws(IngestError) -> [AttributeContent] {
        func attributePath() -> JSONPath { nested ? parent + key : parent + "attributes" + key }
        guard case .array(let elements) = json else {
            throw IngestError(
                .invalidAttributeValue, "attribute values must be an array, e.g. [{\"value\": \"x\"}]",
                at: attributePath())
        }
        var out: [AttributeContent] = []
        out.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            var raw = element
            var wrapped = false
            if case .object(let members) = element,
                definition.dataType != .nested || members.contains(where: { $0.key == "value" })
            {
                var found: JSONValue?
                for m in members {
                    if m.key == "value" {
                        found = m.value
                    } else {
                        throw IngestError(
                            .invalidAttributeValue, "unknown key '\(Echo.cut(m.key))'; a value is {\"value\": …}",
                            at: attributePath() + i + m.key)
                    }
                }
                guard let found else {
                    throw IngestError(.invalidAttributeValue, "missing 'value'", at: attributePath() + i)
                }
                raw = found
                wrapped = true
            }
            func rawPath() -> JSONPath { wrapped ? attributePath() + i + "value" : attributePath() + i }
            let content: AttributeContent
            if definition.dataType == .nested {
                guard case .object(let subMembers) = raw else {
                    throw IngestError(
                        .invalidAttributeValue,
                        "'\(definition.name)' is nested: its value is an object of sub-attribute arrays", at: rawPath())
                }
                var subs: [AttributeEntry] = []
                for m in subMembers {
                    guard let sub = definition.attribute(named: m.key) else {
                        throw IngestError(
                            .unknownAttribute, "nested attribute '\(definition.name)' has no sub-attribute '\(Echo.cut(m.key))'",
                            at: rawPath() + m.key)
                    }
                    let subValues = try decodeValues(
                        m.value, definition: sub, schema: schema, parent: rawPath(), key: m.key, nested: true)
                    if !subValues.isEmpty {
                        subs.append(AttributeEntry(name: m.key, values: subValues.map { AttributeValue(id: "", content: $0) }))
                    }
                }
                if subs.count > 1 {
                    subs.sort { a, b in
                        (definition.attributes.firstIndex { $0.name == a.name } ?? 0)
                            < (definition.attributes.firstIndex { $0.name == b.name } ?? 0)
                    }
                }
                if subs.isEmpty { continue }
                content = .nested(subs)
            } else {
                let text: String
                do {
                    text = try normalizeScalar(raw, type: definition.dataType)
                } catch {
                    throw IngestError(.invalidAttributeValue, error.message, at: rawPath())
                }
                if text.utf8.count > schema.limits.maxValueBytes {
                    throw IngestError(
                        .limitExceeded, "value is \(text.utf8.count) bytes, the limit is \(schema.limits.maxValueBytes)",
                        at: rawPath())
                }
                content = .simple(text)
            }
            if !out.contains(where: { $0.sameContent(as: content) }) { out.append(content) }
        }
        if out.count > schema.limits.maxValuesPerAttribute {
            throw IngestError(
                .limitExceeded,
                "\(out.count) values for '\(definition.name)', the limit is \(schema.limits.maxValuesPerAttribute)",
                at: attributePath())
        }
        return out
    }

    struct ScalarError: Error {
        var message: String
    }

    /// Checks a scalar against the attribute's data type and returns its stored text.
    static func normalizeScalar(_ raw: JSONValue, type: AttributeDataType) throws(ScalarError) -> String {
        let text: String
        switch raw {
        case .string(let s): text = s
        case .number(let n): text = n
        case .bool(let b): text = b ? "true" : "false"
        default:
            throw ScalarError(message: "expected a string, number or boolean, found \(raw.kindDescription)")
        }
        func bad(_ expected: String) -> ScalarError {
            ScalarError(message: "'\(text.prefix(64))' is not \(expected)")
        }
        switch type {
        case .int, .long:
            guard Int64(text) != nil else { throw bad("an integer") }
        case .float, .double, .number:
            guard let d = Double(text), d.isFinite else { throw bad("a number") }
        case .boolean:
            guard text == "true" || text == "false" else { throw bad("a boolean (true or false)") }
        case .date:
            guard canonicalDate(text) != nil else {
                throw bad("a date: yyyy-MM-dd, yyyyMMdd, an ISO date-time or epoch milliseconds (9+ digits), on the calendar")
            }
        case .timestamp:
            guard Int64(text) != nil || parseISODateTime(text) != nil else {
                throw bad("a timestamp (epoch milliseconds or ISO-8601)")
            }
        case .string, .url, .email, .blob, .nested:
            break
        }
        return text
    }
}
