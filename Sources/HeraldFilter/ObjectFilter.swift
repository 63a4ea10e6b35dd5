import HeraldModel

/// A parsed object filter: the search-filter language destinations use to pick events.
///
/// Parse once (at configuration time), then evaluate per event:
///
///     let filter = try ObjectFilter.parse("equals(type, 'Individual') and changes(attributes.LastName)")
///     if filter.matches(FilterSubject(entity: entity, delta: delta)) { … }
///
/// The language is described in `docs/filters.md`. An `ObjectFilter` is immutable and may be shared
/// across threads; `matches` does not allocate for ASCII values.
public struct ObjectFilter: Sendable {
    /// The expression as given to `parse`.
    public let expression: String
    let root: FilterNode
    private let references: [AttributeReference]

    private struct AttributeReference: Sendable {
        var path: [String]
        var position: Int
    }

    /// Parses an expression.
    ///
    /// - Throws: `FilterParseError` with the character position of the problem, what was expected there,
    ///   and a message saying how to fix it. Regular expressions are compiled here, so a bad pattern is
    ///   a parse error too.
    public static func parse(_ expression: String) throws(FilterParseError) -> ObjectFilter {
        var parser = try FilterParser(expression)
        let root = try parser.parse()
        var references: [AttributeReference] = []
        for (condition, _) in parser.conditions {
            if case .attribute(let path) = condition.property {
                references.append(AttributeReference(path: path, position: condition.propertyPosition))
            }
        }
        return ObjectFilter(expression: expression, root: root, references: references)
    }

    private init(expression: String, root: FilterNode, references: [AttributeReference]) {
        self.expression = expression
        self.root = root
        self.references = references
    }

    /// Whether the subject passes the filter.
    /// Whether an event passes: the one way delivery and `FilterCheck` put an event before a filter (the
    /// delta is derived only when the filter uses `changes(…)`).
    public func matches(entity: Entity, delta: EventDelta, ovOnly: Bool) -> Bool {
        matches(subject(entity: entity, delta: delta, ovOnly: ovOnly))
    }

    /// The subject an event gives this filter.
    public func subject(entity: Entity, delta: EventDelta, ovOnly: Bool) -> FilterSubject {
        FilterSubject(entity: entity, delta: usesChanges ? delta.delta : nil, ovOnly: ovOnly)
    }

    public func matches(_ subject: FilterSubject) -> Bool {
        FilterEvaluator.holds(root, subject, scope: nil)
    }

    /// Attribute paths the filter references (`["FirstName"]`, `["Address", "City"]`) with the character
    /// position of each property, in the order they appear, so the configuration loader can reject
    /// unknown attributes. The bare property `attributes` (any attribute) is not listed.
    public var referencedAttributes: [(path: [String], position: Int)] {
        references.map { ($0.path, $0.position) }
    }

    /// The attributes this filter names that the tenant's data model does not have, with their positions:
    /// what the configuration loader refuses and the validate API reports.
    public func schemaProblems(_ schema: TenantSchema) -> [(message: String, position: Int)] {
        referencedAttributes.compactMap { reference in
            schema.attributePathProblem(reference.path).map { ($0, reference.position) }
        }
    }
}

extension ObjectFilter {
    /// Whether the filter uses `changes(...)`, i.e. needs the event's delta (callers decode it only then).
    public var usesChanges: Bool { ObjectFilter.containsChanges(root) }

    private static func containsChanges(_ node: FilterNode) -> Bool {
        switch node.kind {
        case .and(let children), .or(let children): return children.contains(where: containsChanges)
        case .not(let inner): return containsChanges(inner)
        case .sameValue(_, let inner): return containsChanges(inner)
        case .condition(let c):
            if case .changes = c.test { return true }
            return false
        }
    }
}

extension ObjectFilter {
    /// What the filter reads of an entity: the attributes it names (every attribute for the bare `attributes`) and
    /// the crosswalks when it names `crosswalks.type` or `crosswalks.value`. Decoding a stored entity with this scope
    /// (`Entity(storedBytes:scope:)`) gives the filter the same answer as decoding all of it, for the entity and for
    /// the delta derived from it (`changes(…)` looks only at the attributes it names).
    public var decodeScope: EntityDecodeScope {
        var scope = EntityDecodeScope(attributes: [], crosswalks: false)
        ObjectFilter.widen(&scope, for: root)
        return scope
    }

    private static func widen(_ scope: inout EntityDecodeScope, for node: FilterNode) {
        switch node.kind {
        case .and(let children), .or(let children):
            for child in children { widen(&scope, for: child) }
        case .not(let inner):
            widen(&scope, for: inner)
        case .sameValue(let attribute, let inner):
            scope.attributes?.insert(attribute)
            widen(&scope, for: inner)
        case .condition(let c):
            switch c.property {
            case .crosswalkType, .crosswalkValue: scope.crosswalks = true
            case .anyAttribute: scope.attributes = nil
            // A scoped path (inside `inSameAttributeValue`) is below the scope's attribute; naming its first part
            // too only decodes more.
            case .attribute(let path): scope.attributes?.insert(path[0])
            case .type, .uri, .createdTime, .updatedTime, .createdBy, .updatedBy: break
            }
        }
    }
}
