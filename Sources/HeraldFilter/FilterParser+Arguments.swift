/// The arguments of operator calls: properties, quoted values and numbers.
extension FilterParser {
    mutating func parseProperty(_ op: FilterOperator) throws(FilterParseError) -> (FilterProperty, Int) {
        let token = current
        guard case .word(let word) = token.kind, tokens[index + 1].kind != .open else {
            throw FilterParseError(
                position: token.start, expected: "a property such as attributes.FirstName",
                message:
                    "\(op.rawValue)(...) needs a property as its first argument, found \(token.quoted) at position "
                    + "\(token.start); e.g. \(op.example)")
        }
        if word.hasPrefix("attributes.") {
            // Report an empty segment (`attributes..City`, `attributes.Address.`) where it is.
            var offset = token.start + "attributes.".count
            for segment in word.dropFirst("attributes.".count).split(separator: ".", omittingEmptySubsequences: false) {
                if segment.isEmpty {
                    throw FilterParseError(
                        position: offset, expected: "an attribute name",
                        message:
                            "missing attribute name at position \(offset) in '\(word)'; write e.g. "
                            + "attributes.Address.City")
                }
                offset += segment.count + 1
            }
        }
        guard let property = Self.resolveProperty(word) else {
            throw FilterParseError(
                position: token.start, expected: "a property such as attributes.FirstName",
                message:
                    "unknown property '\(word)' at position \(token.start); \(Self.propertyHint(word))"
                    + "the properties are type, uri, createdTime, updatedTime, createdBy, updatedBy, attributes, "
                    + "attributes.NAME, attributes.NAME.SUB, crosswalks.type and crosswalks.value")
        }
        advance()
        return (property, token.start)
    }

    static func resolveProperty(_ word: String) -> FilterProperty? {
        if let fixed = FilterProperty.fixedNames.first(where: { $0.0 == word }) { return fixed.1 }
        guard word.hasPrefix("attributes.") else { return nil }
        let path = word.dropFirst("attributes.".count).split(separator: ".", omittingEmptySubsequences: false)
        guard !path.contains(where: \.isEmpty) else { return nil }
        return .attribute(path.map(String.init))
    }

    static func propertyHint(_ word: String) -> String {
        if let dot = word.firstIndex(of: ".") {
            let head = String(word[..<dot])
            let rest = word[word.index(after: dot)...]
            if editDistance(head, "attributes") <= 2 { return "did you mean 'attributes.\(rest)'? " }
            if editDistance(head, "crosswalks") <= 2, ["type", "value"].contains(rest.lowercased()) {
                return "did you mean 'crosswalks.\(rest.lowercased())'? "
            }
        }
        if let suggestion = closest(to: word, among: FilterProperty.fixedNames.map(\.0)) {
            return "did you mean '\(suggestion)'? "
        }
        if !word.contains(".") { return "did you mean 'attributes.\(word)'? " }
        return ""
    }

    mutating func parseValue(_ op: FilterOperator) throws(FilterParseError) -> (text: String, position: Int) {
        let token = current
        switch token.kind {
        case .string(let s):
            advance()
            return (s, token.start)
        case .number(let n):
            advance()
            return (n, token.start)
        case .word(let w):
            throw FilterParseError(
                position: token.start, expected: "a value in single quotes such as 'John'",
                message:
                    "\(op.rawValue)(...) needs a value, found the word '\(w)' at position \(token.start); put "
                    + "values in single quotes: '\(w)'")
        default:
            throw FilterParseError(
                position: token.start, expected: "a value in single quotes such as 'John'",
                message:
                    "\(op.rawValue)(...) needs a value in single quotes, found \(token.quoted) at position "
                    + "\(token.start); e.g. \(op.example)")
        }
    }

    mutating func parseNumber(_ op: FilterOperator) throws(FilterParseError) -> Double {
        let token = current
        let expected = "a number or a quoted ISO date such as '2020-01-31'"
        switch token.kind {
        case .number(let n):
            advance()
            if let v = NumericValue.parse(n) { return v }
        case .string(let s):
            advance()
            if let v = NumericValue.parse(s) { return v }
            throw FilterParseError(
                position: token.start, expected: expected,
                message:
                    "\(op.rawValue)(...) compares numbers, but '\(s)' at position \(token.start) is neither a number "
                    + "nor an ISO date (yyyy-MM-dd or yyyy-MM-ddTHH:mm:ssZ)")
        default:
            break
        }
        throw FilterParseError(
            position: token.start, expected: expected,
            message:
                "\(op.rawValue)(...) needs \(expected), found \(token.quoted) at position \(token.start); e.g. "
                + "\(op.example)")
    }

    func makeTextTest(_ op: FilterOperator, value: String, at position: Int) throws(FilterParseError)
        -> ValueTest
    {
        switch op {
        case .equals: return .equals(FoldedLiteral(value, fold: true))
        case .equalsCaseSensitive: return .equalsCaseSensitive(FoldedLiteral(value, fold: false))
        case .startsWith: return .startsWith(FoldedLiteral(value, fold: true))
        case .containsWordStartingWith, .fullText:
            let words = literalWords(value)
            if words.isEmpty {
                throw FilterParseError(
                    position: position, expected: "a value with at least one word",
                    message:
                        "\(op.rawValue)(...) needs at least one word to look for, but the value at position "
                        + "\(position) has none (white space and ' , @ # $ ; : & % < > ( ) [ ] * | / \\ ! ? "
                        + "separate words)")
            }
            return op == .fullText ? .fullText(words) : .wordsStartingWith(words)
        case .fuzzy: return .fuzzy(FuzzyPattern(value))
        case .contains: return .wildcard(WildcardPattern(value))
        case .regexp:
            switch CompiledRegex.compile(value) {
            case .success(let regex):
                return .regexp(regex, hasSlash: value.contains("/"))
            case .failure(let error):
                throw regexError(error, value: value, at: position)
            }
        default:
            preconditionFailure("\(op) takes no text value")
        }
    }
}
