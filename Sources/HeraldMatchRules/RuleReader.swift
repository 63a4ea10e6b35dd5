import HeraldJSON
import HeraldModel

/// A rule read from JSON, with the path of the first branch that yields no match token (nil when all do).
struct ParsedRule {
    var rule: MatchRule
    var untokenablePath: JSONPath?
}

/// Reads the rule language: objects whose keys are operators.
struct RuleReader {
    let entityType: EntityTypeDefinition
    let issues: JSONShapeIssues
    var aliasTables: AliasTables = .shipped

    static let comparisons = [
        "exact", "exactOrNull", "exactOrAllNull", "fuzzy", "notExactSame", "similarCode", "similarDate",
    ]
    static let operators = ["and", "or"] + comparisons + ["equals"]

    func readRoot(_ value: JSONValue, at path: JSONPath) -> ParsedRule? {
        readObject(value, at: path, combinedWithOr: false)
    }

    /// An object of operators: its children are combined with AND, or with OR for the object of an `or`
    /// (where a comparison listing several attributes is one branch per attribute).
    private func readObject(_ value: JSONValue, at path: JSONPath, combinedWithOr: Bool) -> ParsedRule? {
        guard case .object(let members) = value else {
            issues.report(
                path,
                "expected a rule object (keys: \(RuleReader.operators.joined(separator: ", "))), found \(value.kindDescription)"
            )
            return nil
        }
        if members.isEmpty {
            issues.report(path, "a rule needs at least one operator: \(RuleReader.operators.joined(separator: ", "))")
            return nil
        }
        var seen = Set<String>()
        var children: [ParsedRule] = []
        var failed = false
        for m in members {
            let p = path + m.key
            guard seen.insert(m.key).inserted else {
                issues.report(p, "duplicate key '\(m.key)'")
                failed = true
                continue
            }
            switch m.key {
            case "and", "or":
                let isOr = m.key == "or"
                if case .array(let elements) = m.value {
                    if elements.isEmpty {
                        issues.report(p, "'\(m.key)' needs at least one rule object")
                        failed = true
                        continue
                    }
                    var parts: [ParsedRule] = []
                    for (i, e) in elements.enumerated() {
                        if let r = readObject(e, at: p + i, combinedWithOr: false) {
                            parts.append(r)
                        } else {
                            failed = true
                        }
                    }
                    if parts.count == elements.count { children.append(combine(parts, or: isOr, at: p)) }
                } else if let r = readObject(m.value, at: p, combinedWithOr: isOr) {
                    children.append(r)
                } else {
                    failed = true
                }
            case "exact", "fuzzy", "similarCode", "similarDate":
                let kind = Comparison.Kind(rawValue: m.key)!
                guard let comparison = readComparison(kind, m.value, at: p) else {
                    failed = true
                    continue
                }
                if case .array = m.value, kind == .exact || kind == .fuzzy {
                    // The plain form: today's operators.
                    let groups: [[AttributeReference]] =
                        combinedWithOr ? comparison.attributes.map { [$0] } : [comparison.attributes]
                    for refs in groups {
                        let rule: MatchRule = kind == .exact ? .exact(refs) : .fuzzy(refs)
                        children.append(ParsedRule(rule: rule, untokenablePath: nil))
                    }
                } else if combinedWithOr && !comparison.anyOrder {
                    for ref in comparison.attributes {
                        var one = comparison
                        one.attributes = [ref]
                        children.append(ParsedRule(rule: .compare(one), untokenablePath: nil))
                    }
                } else {
                    children.append(ParsedRule(rule: .compare(comparison), untokenablePath: nil))
                }
            case "exactOrNull", "exactOrAllNull", "notExactSame":
                guard let refs = readReferences(m.value, at: p) else {
                    failed = true
                    continue
                }
                let make: ([AttributeReference]) -> MatchRule
                switch m.key {
                case "exactOrNull": make = MatchRule.exactOrNull
                case "exactOrAllNull": make = MatchRule.exactOrAllNull
                default: make = MatchRule.notExactSame
                }
                if combinedWithOr {
                    for (i, ref) in refs.enumerated() {
                        children.append(ParsedRule(rule: make([ref]), untokenablePath: p + i))
                    }
                } else {
                    children.append(ParsedRule(rule: make(refs), untokenablePath: p))
                }
            case "equals":
                guard let pairs = readEquals(m.value, at: p) else {
                    failed = true
                    continue
                }
                if combinedWithOr {
                    for pair in pairs { children.append(ParsedRule(rule: .equals([pair]), untokenablePath: nil)) }
                } else {
                    children.append(ParsedRule(rule: .equals(pairs), untokenablePath: nil))
                }
            default:
                issues.report(
                    p,
                    "unknown operator '\(m.key)'"
                        + suggestion(m.key, RuleReader.operators).replacingKnown(
                            "; expected one of: \(RuleReader.operators.joined(separator: ", "))"))
                failed = true
            }
        }
        if failed { return nil }
        return combine(children, or: combinedWithOr, at: path)
    }

    private func combine(_ parts: [ParsedRule], or: Bool, at path: JSONPath) -> ParsedRule {
        if parts.count == 1 { return parts[0] }
        if or {
            return ParsedRule(
                rule: .or(parts.map(\.rule)), untokenablePath: parts.lazy.compactMap(\.untokenablePath).first)
        }
        let tokenable = parts.contains { $0.untokenablePath == nil }
        return ParsedRule(rule: .and(parts.map(\.rule)), untokenablePath: tokenable ? nil : path)
    }

    /// A comparison of `kind`: an array of attribute references, or an object with `attributes` and options.
    private func readComparison(_ kind: Comparison.Kind, _ value: JSONValue, at path: JSONPath) -> Comparison? {
        if case .array = value {
            guard let refs = readReferences(value, at: path) else { return nil }
            let comparison = Comparison(kind, refs)
            return checkTypes(comparison, at: path) ? comparison : nil
        }
        guard case .object = value else {
            issues.report(
                path,
                "expected a non-empty array of attribute references, or an object with 'attributes' and options, found \(value.kindDescription)")
            return nil
        }
        var o = JSONObjectReader(value, at: path, issues: issues)!
        var failed = false
        var refs: [AttributeReference]?
        if let list = o.value("attributes", required: true) {
            refs = readReferences(list, at: path + "attributes")
        }
        let anyOrder = o.bool("anyOrder") ?? false
        var aliases: String?
        var minLength = Comparison.defaultMinLength
        var sameYearAndMonth = false
        switch kind {
        case .fuzzy:
            if let name = o.string("aliases") {
                if aliasTables[name] == nil {
                    let known = aliasTables.tables.keys.sorted()
                    o.report(
                        "aliases",
                        "no alias table '\(name)'"
                            + (known.isEmpty
                                ? "; define it in the tenant's 'aliasTables'"
                                : suggestion(name, known)))
                    failed = true
                } else {
                    aliases = name
                }
            }
        case .similarCode:
            if let n = o.int("minLength", in: 1...64) { minLength = Int(n) }
        case .similarDate:
            sameYearAndMonth = o.bool("sameYearAndMonth") ?? false
        case .exact:
            break
        }
        o.finish()
        guard let refs, !failed else { return nil }
        if anyOrder && !(2...Comparison.maxAnyOrderAttributes).contains(refs.count) {
            o.report(
                "anyOrder",
                "'anyOrder' compares 2 or \(Comparison.maxAnyOrderAttributes) attributes in either order; this lists \(refs.count)")
            return nil
        }
        let comparison = Comparison(
            kind, refs, anyOrder: anyOrder, aliases: aliases, minLength: minLength, sameYearAndMonth: sameYearAndMonth)
        return checkTypes(comparison, at: path) ? comparison : nil
    }

    /// `similarDate` needs dates; attributes compared in any order need the same data type.
    private func checkTypes(_ c: Comparison, at path: JSONPath) -> Bool {
        let types = c.attributes.map { $0.dataType(in: entityType) ?? .string }
        if c.kind == .similarDate, let i = types.firstIndex(where: { $0 != .date }) {
            issues.report(
                path,
                "similarDate compares dates; '\(c.attributes[i])' is \(types[i].rawValue): use similarCode or fuzzy for it")
            return false
        }
        if c.anyOrder, Set(types).count > 1 {
            issues.report(
                path,
                "attributes compared in any order need the same data type; found "
                    + zip(c.attributes, types).map { "\($0.0) (\($0.1.rawValue))" }.joined(separator: ", "))
            return false
        }
        return true
    }

    private func readReferences(_ value: JSONValue, at path: JSONPath) -> [AttributeReference]? {
        guard case .array(let elements) = value, !elements.isEmpty else {
            issues.report(
                path, "expected a non-empty array of attribute references ('LastName', 'Address.PostalCode' or a URI)")
            return nil
        }
        var refs: [AttributeReference] = []
        var failed = false
        for (i, e) in elements.enumerated() {
            guard case .string(let text) = e else {
                issues.report(path + i, "expected an attribute reference (a string), found \(e.kindDescription)")
                failed = true
                continue
            }
            switch AttributeReference.resolve(text, in: entityType) {
            case .success(let (ref, _)):
                if refs.contains(ref) {
                    issues.report(path + i, "'\(text)' is listed twice")
                    failed = true
                }
                refs.append(ref)
            case .failure(let error):
                issues.report(path + i, error.message)
                failed = true
            }
        }
        return failed ? nil : refs
    }

    private func readEquals(_ value: JSONValue, at path: JSONPath) -> [(AttributeReference, String)]? {
        guard case .array(let elements) = value, !elements.isEmpty else {
            issues.report(path, "expected a non-empty array of {\"attribute\": …, \"value\": …} objects")
            return nil
        }
        var pairs: [(AttributeReference, String)] = []
        var failed = false
        for (i, e) in elements.enumerated() {
            guard var o = JSONObjectReader(e, at: path + i, issues: issues) else {
                failed = true
                continue
            }
            let attribute = o.string("attribute")
            let uri = o.string("uri")
            var text: String?
            switch o.value("value", required: true) {
            case .string(let s)?: text = s
            case .number(let n)?: text = n
            case .bool(let b)?: text = b ? "true" : "false"
            case let other?:
                o.report("value", "expected a string, number or boolean, found \(other.kindDescription)")
            case nil:
                break
            }
            o.finish()
            if attribute != nil && uri != nil {
                o.report("uri", "give either 'attribute' or 'uri', not both")
                failed = true
                continue
            }
            guard let name = attribute ?? uri else {
                o.report("attribute", "required key 'attribute' is missing (the attribute to test)")
                failed = true
                continue
            }
            guard let text else {
                failed = true
                continue
            }
            switch AttributeReference.resolve(name, in: entityType) {
            case .success(let (ref, _)): pairs.append((ref, text))
            case .failure(let error):
                o.report(attribute != nil ? "attribute" : "uri", error.message)
                failed = true
            }
        }
        return failed ? nil : pairs
    }
}

extension String {
    /// Keeps a "did you mean" hint; replaces a list of known names by `replacement`.
    fileprivate func replacingKnown(_ replacement: String) -> String {
        hasPrefix(" (did you mean") ? self : replacement
    }
}
