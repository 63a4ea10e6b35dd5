/// A recursive-descent parser from tokens to a `FilterNode` tree.
///
/// Grammar (keywords `and`, `or`, `not` are case-insensitive; precedence not > and > or):
///
///     expression := and ( "or" and )*
///     and        := unary ( "and" unary )*
///     unary      := "not" unary | primary
///     primary    := "(" expression ")" | OPERATOR "(" arguments ")"
struct FilterParser {
    /// Deepest nesting of parentheses, `not` and operator calls accepted.
    static let maxDepth = 100

    let tokens: [FilterToken]
    var index = 0
    var depth = 0
    /// True while parsing the inside of `inSameAttributeValue`.
    var inSameValue = false
    /// Every condition parsed so far, with the span of its call.
    var conditions: [(condition: FilterCondition, span: Range<Int>)] = []

    init(_ expression: String) throws(FilterParseError) {
        tokens = try FilterLexer(expression).tokenize()
    }

    /// Parses the whole expression.
    mutating func parse() throws(FilterParseError) -> FilterNode {
        if current.kind == .end {
            throw FilterParseError(
                position: current.start, expected: "a condition such as equals(type, 'Individual')",
                message: "the filter is empty; write a condition such as equals(type, 'Individual')")
        }
        let node = try parseOr()
        switch current.kind {
        case .end:
            return node
        case .close:
            throw FilterParseError(
                position: current.start, expected: "'and', 'or' or the end of the expression",
                message: "unmatched ')' at position \(current.start); remove it or add the '(' it should close")
        default:
            throw FilterParseError(
                position: current.start, expected: "'and', 'or' or the end of the expression",
                message:
                    "found \(current.quoted) at position \(current.start) after a complete condition; "
                    + "join conditions with 'and' or 'or'")
        }
    }

    // MARK: - Logical structure

    var current: FilterToken { tokens[index] }

    mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    private func isKeyword(_ keyword: String) -> Bool {
        if case .word(let w) = current.kind { return w.lowercased() == keyword }
        return false
    }

    mutating func enter(at position: Int) throws(FilterParseError) {
        depth += 1
        if depth > Self.maxDepth {
            throw FilterParseError(
                position: position, expected: "a less deeply nested expression",
                message:
                    "the expression nests deeper than \(Self.maxDepth) levels at position \(position); "
                    + "simplify it (for example, list alternatives with in(...) or join them with 'or')")
        }
    }

    mutating func parseOr() throws(FilterParseError) -> FilterNode {
        var children = [try parseAnd()]
        while isKeyword("or") {
            advance()
            children.append(try parseAnd())
        }
        if children.count == 1 { return children[0] }
        return FilterNode(kind: .or(children), span: children[0].span.lowerBound..<children.last!.span.upperBound)
    }

    private mutating func parseAnd() throws(FilterParseError) -> FilterNode {
        var children = [try parseUnary()]
        while isKeyword("and") {
            advance()
            children.append(try parseUnary())
        }
        if children.count == 1 { return children[0] }
        return FilterNode(kind: .and(children), span: children[0].span.lowerBound..<children.last!.span.upperBound)
    }

    private mutating func parseUnary() throws(FilterParseError) -> FilterNode {
        guard isKeyword("not") else { return try parsePrimary() }
        let start = current.start
        advance()
        try enter(at: start)
        let operand = try parseUnary()
        depth -= 1
        return FilterNode(kind: .not(operand), span: start..<operand.span.upperBound)
    }

    private mutating func parsePrimary() throws(FilterParseError) -> FilterNode {
        let token = current
        switch token.kind {
        case .open:
            advance()
            try enter(at: token.start)
            var inner = try parseOr()
            depth -= 1
            guard current.kind == .close else {
                throw FilterParseError(
                    position: current.start, expected: "')'",
                    message:
                        "missing ')' to close the '(' at position \(token.start); found \(current.quoted) at "
                        + "position \(current.start)")
            }
            inner.span = token.start..<current.end
            advance()
            return inner
        case .word(let word):
            let lowered = word.lowercased()
            if lowered == "and" || lowered == "or" {
                throw FilterParseError(
                    position: token.start, expected: "a condition such as equals(attributes.FirstName, 'John')",
                    message:
                        "'\(word)' at position \(token.start) has no condition before it; '\(lowered)' joins two "
                        + "conditions, as in equals(type, 'Individual') \(lowered) exists(attributes.Email)")
            }
            if let op = FilterOperator(rawValue: word) {
                return try parseCall(op, name: token)
            }
            if Self.resolveProperty(word) != nil {
                throw FilterParseError(
                    position: token.start, expected: "an operator such as equals",
                    message:
                        "'\(word)' at position \(token.start) is a property, not a condition; apply an operator to "
                        + "it, e.g. equals(\(word), 'value') or exists(\(word))")
            }
            let names = FilterOperator.allCases.map(\.rawValue) + ["not"]
            let hint: String
            if let suggestion = closest(to: word, among: names) {
                hint = "did you mean '\(suggestion)'?"
            } else {
                hint = "the operators are " + names.joined(separator: ", ")
            }
            throw FilterParseError(
                position: token.start, expected: "an operator such as equals",
                message: "unknown operator '\(word)' at position \(token.start); \(hint)")
        default:
            let after: String
            if index > 0, case .word(let w) = tokens[index - 1].kind, ["and", "or", "not"].contains(w.lowercased()) {
                after = " after '\(w)'"
            } else {
                after = ""
            }
            throw FilterParseError(
                position: token.start, expected: "a condition such as equals(attributes.FirstName, 'John')",
                message:
                    "expected a condition\(after) at position \(token.start), found \(token.quoted); write e.g. "
                    + "equals(attributes.FirstName, 'John')")
        }
    }
}
