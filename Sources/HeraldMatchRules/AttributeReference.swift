import HeraldJSON
import HeraldModel

/// An attribute named in a match rule: a top-level attribute (`Email`) or a sub-attribute of a nested
/// one (`Address.PostalCode`).
public struct AttributeReference: Hashable, Sendable, CustomStringConvertible {
    /// Short name of the top-level attribute (`Address`).
    public var attribute: String
    /// Short name of the sub-attribute (`PostalCode`), nil for a simple attribute.
    public var subAttribute: String?

    public init(attribute: String, subAttribute: String? = nil) {
        self.attribute = attribute
        self.subAttribute = subAttribute
    }

    /// `Email` or `Address.PostalCode`; also the attribute's name in match tokens.
    public var description: String {
        subAttribute.map { attribute + "." + $0 } ?? attribute
    }

    /// The simple values of this attribute in `entity`; for a sub-attribute, its values across all the
    /// nested values (every value, not only operational ones).
    public func values(in entity: Entity) -> [String] {
        valuesWithSources(in: entity).map(\.0)
    }

    /// `values(in:)` with the crosswalk ids that contributed each value (a sub-value's are its nested value's).
    public func valuesWithSources(in entity: Entity) -> [(String, [String])] {
        guard let values = entity.values(of: attribute) else { return [] }
        var out: [(String, [String])] = []
        for v in values {
            switch v.content {
            case .simple(let s):
                if subAttribute == nil { out.append((s, v.sources)) }
            case .nested(let entries):
                guard let sub = subAttribute else { continue }
                for e in entries where e.name == sub {
                    for sv in e.values { if let s = sv.content.simpleValue { out.append((s, v.sources)) } }
                }
            }
        }
        return out
    }
}

extension AttributeReference {
    /// Resolves a reference as written in the configuration against `entityType`.
    ///
    /// Accepts the full URI (`configuration/entityTypes/Individual/attributes/Address/attributes/PostalCode`),
    /// the path below the entity type (`Address/attributes/PostalCode`) or the dotted short form
    /// (`Address.PostalCode`, `Email`).
    /// - Returns: the reference and the data type of the value it names, or a message saying what is wrong.
    public static func resolve(_ text: String, in entityType: EntityTypeDefinition) -> Result<
        (AttributeReference, AttributeDataType), ReferenceError
    > {
        var names: [String]
        let typePrefix = entityType.uri + "/attributes/"
        if text.hasPrefix("configuration/") {
            guard text.hasPrefix(typePrefix) else {
                return .failure(
                    ReferenceError("'\(text)' is not an attribute of \(entityType.uri) (expected '\(typePrefix)…')"))
            }
            names = String(text.dropFirst(typePrefix.count)).splitKeepingEmpty("/attributes/")
        } else if text.contains("/") {
            names = text.splitKeepingEmpty("/attributes/")
        } else {
            names = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        }
        guard (1...2).contains(names.count), names.allSatisfy({ !$0.isEmpty && !$0.contains("/") }) else {
            return .failure(
                ReferenceError(
                    "'\(text)' is not an attribute reference; write 'Name', 'Parent.Sub' or the attribute's URI"))
        }
        guard let definition = entityType.attribute(named: names[0]) else {
            return .failure(
                ReferenceError(
                    "entity type '\(entityType.name)' has no attribute '\(names[0])'"
                        + suggestion(names[0], entityType.attributes.map(\.name))))
        }
        if names.count == 1 {
            if definition.dataType == .nested {
                let example = definition.attributes.first.map { "'\(names[0]).\($0.name)'" } ?? "'Parent.Sub'"
                return .failure(
                    ReferenceError(
                        "'\(names[0])' is a Nested attribute: name one of its sub-attributes, e.g. \(example)"))
            }
            return .success((AttributeReference(attribute: names[0]), definition.dataType))
        }
        guard definition.dataType == .nested else {
            return .failure(ReferenceError("'\(names[0])' is not a Nested attribute; it has no '\(names[1])'"))
        }
        guard let sub = definition.attribute(named: names[1]) else {
            return .failure(
                ReferenceError(
                    "'\(names[0])' has no sub-attribute '\(names[1])'"
                        + suggestion(names[1], definition.attributes.map(\.name))))
        }
        return .success((AttributeReference(attribute: names[0], subAttribute: names[1]), sub.dataType))
    }

    /// The data type of the value named by this reference in `entityType`, nil when it does not exist.
    public func dataType(in entityType: EntityTypeDefinition) -> AttributeDataType? {
        guard let definition = entityType.attribute(named: attribute) else { return nil }
        guard let subAttribute else { return definition.dataType }
        return definition.attribute(named: subAttribute)?.dataType
    }
}

/// Why an attribute reference does not resolve.
public struct ReferenceError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `" (did you mean 'X'?)"` when a known name is close to `name`, else `"; known: A, B, C"` (first few).
func suggestion(_ name: String, _ known: [String]) -> String {
    var best: (String, Int)?
    for k in known {
        let d = editDistance(Array(name.lowercased().utf8), Array(k.lowercased().utf8))
        if d <= max(1, k.utf8.count / 3), best == nil || d < best!.1 { best = (k, d) }
    }
    if let best { return " (did you mean '\(best.0)'?)" }
    if known.isEmpty { return "" }
    let shown = known.prefix(12).joined(separator: ", ")
    return "; known: \(shown)\(known.count > 12 ? ", …" : "")"
}

extension String {
    /// Splits at every occurrence of `separator`, keeping empty pieces.
    fileprivate func splitKeepingEmpty(_ separator: String) -> [String] {
        var pieces: [String] = []
        var rest = self[...]
        while let r = rest.firstRange(of: separator) {
            pieces.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        pieces.append(String(rest))
        return pieces
    }
}
