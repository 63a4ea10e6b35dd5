import HeraldJSON

/// The parts of an entity a reader needs, so that decoding can skip the rest: an object filter usually names a
/// few attributes of entities that have dozens (`ObjectFilter.decodeScope`).
///
/// An entity decoded with a scope narrower than `all` is partial: it has only the attributes named here, no
/// crosswalks unless asked, and no values' sources unless asked. It is for testing a filter, and for rendering
/// only what the scope holds (`filter apply` writes the selected fields of an entity whose scope covers them);
/// never for storing, comparing or rendering whole.
public struct EntityDecodeScope: Sendable, Equatable {
    /// Top-level attribute names to decode; nil decodes every attribute.
    public var attributes: Set<String>?
    /// Whether crosswalks are decoded.
    public var crosswalks: Bool
    /// Whether attribute values' sources are decoded.
    public var sources: Bool

    public init(attributes: Set<String>?, crosswalks: Bool, sources: Bool = false) {
        self.attributes = attributes
        self.crosswalks = crosswalks
        self.sources = sources
    }

    /// The whole entity.
    public static let all = EntityDecodeScope(attributes: nil, crosswalks: true, sources: true)

    public var isAll: Bool { self == .all }

    @inline(__always)
    func wants(attribute name: String) -> Bool { attributes?.contains(name) ?? true }
}

extension EntityDecodeScope {
    /// What either scope reads.
    public func union(_ other: EntityDecodeScope) -> EntityDecodeScope {
        var attributes: Set<String>?
        if let mine = self.attributes, let theirs = other.attributes { attributes = mine.union(theirs) }
        return EntityDecodeScope(
            attributes: attributes, crosswalks: crosswalks || other.crosswalks, sources: sources || other.sources)
    }

    /// What a payload restricted by `options` shows: the selected attributes, and crosswalks (whose `attributes`
    /// lists name every value's sources) only when they are selected, which needs the whole entity.
    public init(rendering options: EntityRenderOptions) {
        guard let fields = options.fields, !fields.contains("crosswalks") else {
            self = .all
            return
        }
        self.init(attributes: fields.contains("attributes") ? options.attributes : [], crosswalks: false)
    }

    /// The same scope over the API form (`Entity(json:)`): the members of the document a pruned parse
    /// (`JSONParser.parse(_:pruning:)`) leaves out. Values' sources come from the crosswalks.
    public var apiPruning: JSONPruning {
        JSONPruning(skip: crosswalks ? [] : ["crosswalks"], keepOnly: attributes.map { ["attributes": $0] } ?? [:])
    }
}
