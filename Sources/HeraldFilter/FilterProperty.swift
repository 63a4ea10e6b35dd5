/// What a condition looks at.
enum FilterProperty: Sendable, Equatable {
    case type
    case uri
    case createdTime
    case updatedTime
    case createdBy
    case updatedBy
    case crosswalkType
    case crosswalkValue
    /// `attributes`: every value of every attribute, including sub-values of nested ones.
    case anyAttribute
    /// `attributes.X` or `attributes.X.Y…`: never empty.
    case attribute([String])

    /// True for properties holding URIs whose last component a slash-free literal also matches.
    var matchesLastComponent: Bool { self == .type || self == .crosswalkType }

    var isAttribute: Bool {
        switch self {
        case .anyAttribute, .attribute: return true
        default: return false
        }
    }

    /// Fixed property names, for parsing and suggestions (attribute paths are handled apart).
    static let fixedNames: [(String, FilterProperty)] = [
        ("type", .type), ("uri", .uri), ("createdTime", .createdTime), ("updatedTime", .updatedTime),
        ("createdBy", .createdBy), ("updatedBy", .updatedBy), ("crosswalks.type", .crosswalkType),
        ("crosswalks.value", .crosswalkValue), ("attributes", .anyAttribute),
    ]
}

extension FilterProperty {
    /// The property as written in a filter.
    var text: String {
        switch self {
        case .attribute(let path): return "attributes." + path.joined(separator: ".")
        default: return FilterProperty.fixedNames.first { $0.1 == self }?.0 ?? "?"
        }
    }
}
