import HeraldJSON

/// The data types an attribute can declare, as in the MDM configuration users know.
public enum AttributeDataType: String, Sendable, CaseIterable {
    case string = "String"
    case int = "Int"
    case long = "Long"
    case float = "Float"
    case double = "Double"
    case number = "Number"
    case boolean = "Boolean"
    case date = "Date"
    case timestamp = "Timestamp"
    case url = "URL"
    case email = "Email"
    case blob = "Blob"
    case nested = "Nested"
}

/// One attribute of an entity type (possibly nested).
public struct AttributeDefinition: Sendable {
    /// Short name, the key under `attributes` (`FirstName`).
    public var name: String
    /// Full URI, e.g. `configuration/entityTypes/Individual/attributes/FirstName`.
    public var uri: String
    public var label: String
    public var dataType: AttributeDataType
    /// Sub-attributes when `dataType` is `.nested`.
    public var attributes: [AttributeDefinition]

    public init(
        name: String, uri: String, label: String? = nil, dataType: AttributeDataType,
        attributes: [AttributeDefinition] = []
    ) {
        self.name = name
        self.uri = uri
        self.label = label ?? name
        self.dataType = dataType
        self.attributes = attributes
    }

    /// The sub-attribute called `name`.
    public func attribute(named name: String) -> AttributeDefinition? {
        attributes.first { $0.name == name }
    }
}

/// An entity type (`configuration/entityTypes/Individual`) and its attributes.
public struct EntityTypeDefinition: Sendable {
    public var uri: String
    public var label: String
    public var attributes: [AttributeDefinition]
    private var index: [String: Int]

    public init(uri: String, label: String? = nil, attributes: [AttributeDefinition]) {
        self.uri = uri
        self.label = label ?? uriLastComponent(uri)
        self.attributes = attributes
        var index: [String: Int] = [:]
        for (i, a) in attributes.enumerated() { index[a.name] = i }
        self.index = index
    }

    /// The short name (`Individual`).
    public var name: String { uriLastComponent(uri) }

    public func attribute(named name: String) -> AttributeDefinition? {
        index[name].map { attributes[$0] }
    }

    /// Position of the attribute in the declaration, used to order rendered attributes.
    public func position(of name: String) -> Int {
        index[name] ?? Int.max
    }
}

/// A source system (`configuration/sources/CRM`).
public struct SourceDefinition: Sendable {
    public var uri: String
    public var abbreviation: String
    public var label: String

    public init(uri: String, abbreviation: String? = nil, label: String? = nil) {
        self.uri = uri
        self.abbreviation = abbreviation ?? uriLastComponent(uri)
        self.label = label ?? uriLastComponent(uri)
    }
}

/// Limits on one entity, with the defaults of the platform our users know.
public struct ObjectLimits: Sendable, Equatable {
    public var maxValuesPerAttribute: Int = 200
    public var maxValueBytes: Int = 10_240
    public var maxCrosswalksPerEntity: Int = 200
    /// A match token shared by more entities than this is skipped when looking for candidates.
    public var maxEntitiesPerToken: Int = 300
    /// A coarse token (one without the fuzzy parts of its rule, when the entity also has the finer
    /// tokens with them) shared by more entities than this is skipped: the finer tokens find the
    /// candidates whose names sound alike, at a fraction of the comparisons.
    public var maxEntitiesPerCoarseToken: Int = 8

    public init() {}
}

/// Everything the ingest stage needs to know about one tenant's data model.
public struct TenantSchema: Sendable {
    public var tenant: String
    public var entityTypes: [EntityTypeDefinition]
    public var sources: [SourceDefinition]
    public var limits: ObjectLimits
    /// Relation types (`configuration/relationTypes/{Name}`): attributes like an entity type's.
    public var relationTypes: [RelationTypeDefinition] = []
    private var typeIndex: [String: Int]
    private var sourceIndex: Set<String>

    /// The source used for entities posted without any crosswalk.
    public static let builtInSource = "configuration/sources/Herald"

    public init(
        tenant: String, entityTypes: [EntityTypeDefinition], sources: [SourceDefinition],
        limits: ObjectLimits = ObjectLimits()
    ) {
        self.tenant = tenant
        self.entityTypes = entityTypes
        self.sources = sources
        self.limits = limits
        var typeIndex: [String: Int] = [:]
        for (i, t) in entityTypes.enumerated() {
            typeIndex[t.uri] = i
            typeIndex[t.name] = i
        }
        self.typeIndex = typeIndex
        self.sourceIndex = Set(sources.map(\.uri) + [TenantSchema.builtInSource])
    }

    /// Looks an entity type up by URI (`configuration/entityTypes/Individual`) or short name (`Individual`).
    public func entityType(_ uriOrName: String) -> EntityTypeDefinition? {
        typeIndex[uriOrName].map { entityTypes[$0] }
    }

    public func hasSource(_ uri: String) -> Bool { sourceIndex.contains(uri) }

    /// Looks a relation type up by URI or short name.
    public func relationType(_ uriOrName: String) -> RelationTypeDefinition? {
        relationTypes.first { $0.definition.uri == uriOrName || $0.definition.name == uriOrName }
    }
}

/// A relation type: its attributes, and which entity types it may connect (nil: any).
public struct RelationTypeDefinition: Sendable {
    public var definition: EntityTypeDefinition
    public var startType: String?
    public var endType: String?

    public init(definition: EntityTypeDefinition, startType: String? = nil, endType: String? = nil) {
        self.definition = definition
        self.startType = startType
        self.endType = endType
    }
}

/// The last `/`-separated component of a URI (`configuration/sources/CRM` → `CRM`).
public func uriLastComponent(_ uri: String) -> String {
    if let slash = uri.lastIndex(of: "/") { return String(uri[uri.index(after: slash)...]) }
    return uri
}

extension TenantSchema {
    /// Why `attributes.<path>` names no attribute of this tenant's entity types, or nil when it does: the one
    /// check behind `payloadFields` and the attributes an object filter names (configuration and validate API).
    public func attributePathProblem(_ path: [String]) -> String? {
        let field = "attributes." + path.joined(separator: ".")
        guard let top = path.first else { return "'\(field)' names no attribute" }
        let definitions = entityTypes.compactMap { $0.attribute(named: top) }
        if definitions.isEmpty {
            return "unknown field '\(Echo.cut(field))': no entity type of this tenant has an attribute '\(Echo.cut(top))'"
        }
        if path.count == 2, !definitions.contains(where: { $0.attribute(named: path[1]) != nil }) {
            return "unknown field '\(Echo.cut(field))': '\(top)' has no sub-attribute '\(Echo.cut(path[1]))'"
        }
        if path.count > 2 { return "'\(Echo.cut(field))' is too deep: use attributes.X or attributes.X.Y" }
        return nil
    }
}
