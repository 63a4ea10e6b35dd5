/// A master-data entity: a person, an organisation, a product.
///
/// Every attribute holds an array of values; each value knows which crosswalks
/// (source records) contributed it, and whether it is the operational value
/// (`ov`). The JSON form (see `Entity+JSON.swift`) is both the API shape and
/// the stored shape.
public struct Entity: Sendable, Equatable {
    /// Short random id; the URI is `entities/{id}`.
    public var id: String
    /// Entity type URI, e.g. `configuration/entityTypes/Individual`.
    public var type: String
    /// Attributes in declaration order; never holds an entry without values.
    public var attributes: [AttributeEntry]
    public var crosswalks: [Crosswalk]
    public var createdBy: String
    public var createdTime: Int64
    public var updatedBy: String
    public var updatedTime: Int64
    /// Set for relations: the entities the relation connects. A relation is stored, versioned,
    /// contributed to and streamed exactly like an entity; its URI is `relations/{id}`.
    public var endpoints: RelationEndpoints?

    public init(
        id: String, type: String, attributes: [AttributeEntry] = [], crosswalks: [Crosswalk] = [],
        createdBy: String, createdTime: Int64, updatedBy: String? = nil, updatedTime: Int64? = nil
    ) {
        self.id = id
        self.type = type
        self.attributes = attributes
        self.crosswalks = crosswalks
        self.createdBy = createdBy
        self.createdTime = createdTime
        self.updatedBy = updatedBy ?? createdBy
        self.updatedTime = updatedTime ?? createdTime
    }

    public var uri: String { uriPrefix + id }

    /// `entities/` or `relations/`.
    public var uriPrefix: String { endpoints == nil ? "entities/" : "relations/" }

    public var isRelation: Bool { endpoints != nil }

    /// The values of the attribute called `name`, or nil.
    public func values(of name: String) -> [AttributeValue]? {
        attributes.first { $0.name == name }?.values
    }

    public func crosswalk(id: String) -> Crosswalk? {
        crosswalks.first { $0.id == id }
    }
}

/// All values of one attribute.
public struct AttributeEntry: Sendable, Equatable {
    public var name: String
    public var values: [AttributeValue]

    public init(name: String, values: [AttributeValue]) {
        self.name = name
        self.values = values
    }
}

/// One value of an attribute.
public struct AttributeValue: Sendable, Equatable {
    /// Short id, unique within the entity; the URI is `entities/{eid}/attributes/{name}/{id}`.
    public var id: String
    public var content: AttributeContent
    /// Whether this is an operational value (chosen by survivorship).
    public var ov: Bool
    /// Ids of the crosswalks that contributed this value (never empty in a stored entity).
    public var sources: [String]

    public init(id: String, content: AttributeContent, ov: Bool = false, sources: [String] = []) {
        self.id = id
        self.content = content
        self.ov = ov
        self.sources = sources
    }
}

/// The value itself: a scalar kept as text, or the sub-attributes of a nested attribute.
public enum AttributeContent: Sendable, Equatable {
    case simple(String)
    case nested([AttributeEntry])

    /// Compares contents, ignoring value ids, `ov` and sources (used to de-duplicate values across sources).
    public func sameContent(as other: AttributeContent) -> Bool {
        switch (self, other) {
        case (.simple(let a), .simple(let b)):
            return a == b
        case (.nested(let a), .nested(let b)):
            guard a.count == b.count else { return false }
            for (ea, eb) in zip(a, b) {
                guard ea.name == eb.name, ea.values.count == eb.values.count else { return false }
                for (va, vb) in zip(ea.values, eb.values) where !va.content.sameContent(as: vb.content) {
                    return false
                }
            }
            return true
        default:
            return false
        }
    }

    public var simpleValue: String? {
        if case .simple(let s) = self { return s }
        return nil
    }
}

/// A source record that contributed to an entity, identified by `type` + `value` (+ `sourceTable`).
public struct Crosswalk: Sendable, Equatable {
    /// Short id; the URI is `entities/{eid}/crosswalks/{id}`.
    public var id: String
    /// Source URI, e.g. `configuration/sources/CRM`.
    public var type: String
    /// The record's id in the source system.
    public var value: String
    public var sourceTable: String?
    public var createDate: Int64
    public var updateDate: Int64

    public init(
        id: String, type: String, value: String, sourceTable: String? = nil, createDate: Int64, updateDate: Int64
    ) {
        self.id = id
        self.type = type
        self.value = value
        self.sourceTable = sourceTable
        self.createDate = createDate
        self.updateDate = updateDate
    }

    public var key: CrosswalkKey { CrosswalkKey(type: type, value: value, sourceTable: sourceTable ?? "") }
}

/// The identity of a source record across the tenant.
public struct CrosswalkKey: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var value: String
    /// Empty when the crosswalk has no source table.
    public var sourceTable: String

    public init(type: String, value: String, sourceTable: String = "") {
        self.type = type
        self.value = value
        self.sourceTable = sourceTable
    }

    public var description: String {
        sourceTable.isEmpty ? "\(type)/\(value)" : "\(type)/\(sourceTable)/\(value)"
    }
}

/// The two ends of a relation (entity ids).
public struct RelationEndpoints: Sendable, Equatable {
    public var startId: String
    public var endId: String

    public init(startId: String, endId: String) {
        self.startId = startId
        self.endId = endId
    }
}
