/// Operator calls: `name(arguments)`, checked against each operator's signature.
extension FilterParser {
    mutating func parseCall(_ op: FilterOperator, name: FilterToken) throws(FilterParseError) -> FilterNode {
        advance()
        guard current.kind == .open else {
            throw FilterParseError(
                position: current.start, expected: "'('",
                message: "expected '(' at position \(current.start) after '\(op.rawValue)': an operator is followed by "
                    + "its arguments in parentheses, e.g. \(op.example)")
        }
        advance()
        try enter(at: name.start)
        defer { depth -= 1 }

        if op.signature == .expression {
            return try parseSameValue(name: name)
        }
        let (property, propertyPosition) = try parseProperty(op)
        let test: ValueTest
        switch op.signature {
        case .property:
            if op == .changes && !property.isAttribute {
                throw FilterParseError(
                    position: propertyPosition, expected: "an attribute property such as attributes.LastName",
                    message: "changes(...) looks at attribute changes only, but position \(propertyPosition) has "
                        + "'\(property.text)'; use attributes, attributes.NAME or attributes.NAME.SUB")
            }
            test = op == .exists ? .exists : op == .missing ? .missing : .changes
        case .propertyAndValue:
            try expectComma(op, name: name, argumentsSoFar: 1)
            let (value, position) = try parseValue(op)
            test = try makeTextTest(op, value: value, at: position)
        case .propertyAndValues:
            try expectComma(op, name: name, argumentsSoFar: 1)
            var values = PackedLiterals<UInt8>()
            repeat {
                if values.count > 0 { advance() }
                let literal = FoldedLiteral(try parseValue(op).text, fold: true)
                values.append(literal.bytes, hasSlash: literal.hasSlash)
            } while current.kind == .comma
            test = .oneOf(values)
        case .propertyAndNumber:
            try expectComma(op, name: name, argumentsSoFar: 1)
            let bound = try parseNumber(op)
            var bounds = NumericBounds()
            switch op {
            case .gt: (bounds.lower, bounds.lowerInclusive) = (bound, false)
            case .gte: (bounds.lower, bounds.lowerInclusive) = (bound, true)
            case .lt: (bounds.upper, bounds.upperInclusive) = (bound, false)
            default: (bounds.upper, bounds.upperInclusive) = (bound, true)
            }
            test = .compare(bounds)
        case .propertyAndTwoNumbers:
            try expectComma(op, name: name, argumentsSoFar: 1)
            let lowerPosition = current.start
            let lower = try parseNumber(op)
            try expectComma(op, name: name, argumentsSoFar: 2)
            let upper = try parseNumber(op)
            if lower > upper {
                throw FilterParseError(
                    position: lowerPosition, expected: "a lower bound not greater than the upper bound",
                    message: "the bounds of range(...) are the wrong way round: the lower bound at position "
                        + "\(lowerPosition) is greater than the upper one, so it could never match; write the lower "
                        + "bound first")
            }
            test = .compare(NumericBounds(lower: lower, upper: upper))
        case .expression:
            preconditionFailure("handled above")
        }
        let end = try expectClose(op, name: name)
        let condition = FilterCondition(
            property: property, propertyPosition: propertyPosition, test: test, scoped: inSameValue)
        let span = name.start..<end
        conditions.append((condition, span))
        return FilterNode(kind: .condition(condition), span: span)
    }

    mutating func parseSameValue(name: FilterToken) throws(FilterParseError) -> FilterNode {
        if inSameValue {
            throw FilterParseError(
                position: name.start, expected: "a condition on a sub-attribute",
                message:
                    "inSameAttributeValue at position \(name.start) is inside another inSameAttributeValue; "
                    + "put all the conditions in the outer one")
        }
        let firstCondition = conditions.count
        inSameValue = true
        let inner = try parseOr()
        inSameValue = false
        var attribute: String?
        for (condition, span) in conditions[firstCondition...] {
            if case .changes = condition.test {
                throw FilterParseError(
                    position: span.lowerBound, expected: "a condition on a sub-attribute",
                    message:
                        "changes(...) at position \(span.lowerBound) cannot be used inside inSameAttributeValue; "
                        + "put it outside, joined with 'and'")
            }
            guard case .attribute(let path) = condition.property, path.count >= 2 else {
                throw FilterParseError(
                    position: condition.propertyPosition, expected: "a sub-attribute such as attributes.Address.City",
                    message:
                        "inSameAttributeValue at position \(name.start) needs every condition on a sub-attribute of "
                        + "one nested attribute (such as attributes.Address.City), but position "
                        + "\(condition.propertyPosition) uses '\(condition.property.text)'")
            }
            if let attribute, attribute != path[0] {
                throw FilterParseError(
                    position: condition.propertyPosition, expected: "a sub-attribute of attributes.\(attribute)",
                    message:
                        "inSameAttributeValue at position \(name.start) needs every condition on the same nested "
                        + "attribute: 'attributes.\(attribute)' was used first, but position "
                        + "\(condition.propertyPosition) uses '\(condition.property.text)'")
            }
            attribute = path[0]
        }
        let end = try expectClose(.inSameAttributeValue, name: name)
        // The inner expression always holds at least one condition, so `attribute` is set.
        return FilterNode(kind: .sameValue(attribute: attribute ?? "", inner: inner), span: name.start..<end)
    }

    mutating func expectComma(_ op: FilterOperator, name: FilterToken, argumentsSoFar: Int)
        throws(FilterParseError)
    {
        switch current.kind {
        case .comma:
            advance()
        case .close:
            throw FilterParseError(
                position: current.start, expected: "','",
                message:
                    "\(op.rawValue)(...) at position \(name.start) takes \(op.argumentsDescription), but the ')' at "
                    + "position \(current.start) closes it after "
                    + (argumentsSoFar == 1 ? "the property" : "\(argumentsSoFar) arguments") + "; e.g. \(op.example)")
        case .end:
            throw FilterParseError(
                position: current.start, expected: "','",
                message: "the expression ends at position \(current.start) inside \(op.rawValue)(...) opened at "
                    + "position \(name.start); it takes \(op.argumentsDescription), e.g. \(op.example)")
        default:
            throw FilterParseError(
                position: current.start, expected: "','",
                message:
                    "expected ',' at position \(current.start) between the arguments of \(op.rawValue)(...), found "
                    + "\(current.quoted)")
        }
    }

    /// Consumes the closing parenthesis of a call and returns the end of the call's span.
    mutating func expectClose(_ op: FilterOperator, name: FilterToken) throws(FilterParseError) -> Int {
        switch current.kind {
        case .close:
            let end = current.end
            advance()
            return end
        case .comma:
            let alternative = op.signature == .propertyAndValue ? "; to accept any of several values use in(...)" : ""
            throw FilterParseError(
                position: current.start, expected: "')'",
                message:
                    "\(op.rawValue)(...) at position \(name.start) takes \(op.argumentsDescription); remove the "
                    + "extra argument at position \(current.start)\(alternative)")
        case .end:
            throw FilterParseError(
                position: current.start, expected: "')'",
                message: "missing ')' at position \(current.start) to close \(op.rawValue)( opened at position "
                    + "\(name.start)")
        default:
            throw FilterParseError(
                position: current.start, expected: "')'",
                message:
                    "expected ')' at position \(current.start) to close \(op.rawValue)( at position \(name.start), "
                    + "found \(current.quoted)")
        }
    }
}
