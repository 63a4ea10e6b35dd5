/// The operators of the filter language and the arguments each takes.
enum FilterOperator: String, CaseIterable, Sendable {
    case equals, equalsCaseSensitive, startsWith, containsWordStartingWith, fullText, fuzzy, contains, regexp
    case `in`, range, gt, gte, lt, lte, exists, missing, inSameAttributeValue, changes

    enum Signature {
        /// `op(property)`
        case property
        /// `op(property, 'value')`
        case propertyAndValue
        /// `op(property, 'value', 'value', …)`
        case propertyAndValues
        /// `op(property, number)`
        case propertyAndNumber
        /// `op(property, number, number)`
        case propertyAndTwoNumbers
        /// `op(condition)`
        case expression
    }

    var signature: Signature {
        switch self {
        case .equals, .equalsCaseSensitive, .startsWith, .containsWordStartingWith, .fullText, .fuzzy, .contains,
            .regexp:
            return .propertyAndValue
        case .in: return .propertyAndValues
        case .range: return .propertyAndTwoNumbers
        case .gt, .gte, .lt, .lte: return .propertyAndNumber
        case .exists, .missing, .changes: return .property
        case .inSameAttributeValue: return .expression
        }
    }

    /// What the arguments are, for error messages.
    var argumentsDescription: String {
        switch signature {
        case .property: return "one argument, a property"
        case .propertyAndValue: return "two arguments, a property and a value"
        case .propertyAndValues: return "a property and one or more values"
        case .propertyAndNumber: return "two arguments, a property and a number (or a quoted ISO date)"
        case .propertyAndTwoNumbers: return "three arguments, a property and two numbers (or quoted ISO dates)"
        case .expression: return "one condition on sub-attributes of a nested attribute"
        }
    }

    /// A correct call, for error messages.
    var example: String {
        switch self {
        case .equals: return "equals(attributes.FirstName, 'John')"
        case .equalsCaseSensitive: return "equalsCaseSensitive(attributes.Code, 'AbC')"
        case .startsWith: return "startsWith(attributes.LastName, 'Mc')"
        case .containsWordStartingWith: return "containsWordStartingWith(attributes.Name, 'acme')"
        case .fullText: return "fullText(attributes.Description, 'blue car')"
        case .fuzzy: return "fuzzy(attributes.LastName, 'Smith')"
        case .contains: return "contains(attributes.Email, '*@example.com')"
        case .regexp: return "regexp(attributes.Zip, '[0-9]{5}')"
        case .in: return "in(type, 'Individual', 'Organization')"
        case .range: return "range(attributes.Age, 18, 65)"
        case .gt: return "gt(attributes.Age, 18)"
        case .gte: return "gte(updatedTime, 1700000000000)"
        case .lt: return "lt(attributes.BirthDate, '2000-01-01')"
        case .lte: return "lte(attributes.Score, 9.5)"
        case .exists: return "exists(attributes.Email)"
        case .missing: return "missing(attributes.Email)"
        case .changes: return "changes(attributes.LastName)"
        case .inSameAttributeValue:
            return "inSameAttributeValue(equals(attributes.Address.City, 'Paris') and "
                + "equals(attributes.Address.Zip, '75001'))"
        }
    }
}

/// Levenshtein distance, case-insensitive, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.lowercased())
    let y = Array(b.lowercased())
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var previous = Array(0...y.count)
    var current = previous
    for i in 1...x.count {
        current[0] = i
        for j in 1...y.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[y.count]
}

/// The candidate closest to `word`, when it is close enough to be a likely typo.
func closest(to word: String, among candidates: [String]) -> String? {
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(word, c)
        if d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    if let (candidate, distance) = best, distance <= max(2, min(word.count, candidate.count) / 3),
        distance < word.count
    {
        return candidate
    }
    // A truncated name (`containsWord`) still points at the operator it starts.
    let lowered = word.lowercased()
    guard lowered.count >= 4 else { return nil }
    return candidates.first { $0.lowercased().hasPrefix(lowered) }
}
