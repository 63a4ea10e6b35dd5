import Testing

@testable import HeraldFilter

struct ParseErrorCase: Sendable, CustomTestStringConvertible {
    var expression: String
    var position: Int
    /// A part of `expected`.
    var expected: String
    /// A part of `message`.
    var message: String

    var testDescription: String {
        "\(expression.count > 70 ? String(expression.prefix(70)) + "…" : expression) → \(position)"
    }
}

/// `needle`'s character offset in `expression` (its `occurrence`-th appearance), or the end with nil.
private func err(
    _ expression: String, at needle: String?, occurrence: Int = 1, expected: String, message: String
) -> ParseErrorCase {
    let chars = Array(expression)
    var position = chars.count
    if let needle {
        let n = Array(needle)
        var seen = 0
        position = -1
        for i in 0...(chars.count - n.count) where Array(chars[i..<(i + n.count)]) == n {
            seen += 1
            if seen == occurrence {
                position = i
                break
            }
        }
        precondition(position >= 0, "\(needle) not in \(expression)")
    }
    return ParseErrorCase(expression: expression, position: position, expected: expected, message: message)
}

private let tooDeepParentheses =
    String(repeating: "(", count: 101) + "exists(type)" + String(repeating: ")", count: 101)
private let tooManyNots = String(repeating: "not ", count: 101) + "exists(type)"

let parseErrorCases: [ParseErrorCase] = [
    // empty
    err("", at: nil, expected: "a condition", message: "empty"),
    err("   \n ", at: nil, expected: "a condition", message: "empty"),
    // unknown operators, with suggestions
    err(
        "equal(attributes.FirstName, 'John')", at: "equal", expected: "an operator",
        message: "unknown operator 'equal' at position 0; did you mean 'equals'?"),
    err("Equals(type, 'x')", at: "Equals", expected: "an operator", message: "did you mean 'equals'?"),
    err("EXISTS(type)", at: "EXISTS", expected: "an operator", message: "did you mean 'exists'?"),
    err("fuzy(attributes.X, 'a')", at: "fuzy", expected: "an operator", message: "did you mean 'fuzzy'?"),
    err(
        "containsWord(attributes.X, 'a')", at: "containsWord", expected: "an operator",
        message: "did you mean 'containsWordStartingWith'?"),
    err(
        "startWith(attributes.X, 'a')", at: "startWith", expected: "an operator",
        message: "did you mean 'startsWith'?"),
    err("exists(type) and mising(uri)", at: "mising", expected: "an operator", message: "did you mean 'missing'?"),
    err("frobnicate(type)", at: "frobnicate", expected: "an operator", message: "the operators are equals"),
    err("ŝ(type)", at: "ŝ", expected: "an operator", message: "unknown operator 'ŝ'"),
    err("attributes.FirstName", at: "attributes", expected: "an operator", message: "is a property, not a condition"),
    err("equals type", at: "type", expected: "'('", message: "expected '(' at position 7"),
    // unexpected characters
    err("attributes.FirstName = 'x'", at: "=", expected: "a condition", message: "equals(property, 'value')"),
    err("equals(type, 'x') & exists(type)", at: "&", expected: "a condition", message: "'and'"),
    err("equals(type, 'x') && exists(type)", at: "&", expected: "a condition", message: "'and'"),
    err("exists(type) | exists(uri)", at: "|", expected: "a condition", message: "'or'"),
    err("!exists(type)", at: "!", expected: "a condition", message: "not(...)"),
    err("gt(attributes.Age, 18) and attributes.Age > 3", at: ">", expected: "a condition", message: "gt, gte"),
    err(
        "equals(attributes.FirstName, \"John\")", at: "\"", expected: "a condition",
        message: "single quotes"),
    err("exists(type) ; exists(uri)", at: ";", expected: "a condition", message: "unexpected character ';'"),
    // strings
    err(
        "equals(attributes.FirstName, 'John", at: "'John", expected: "a closing quote",
        message: "unterminated value"),
    err(
        "equals(attributes.LastName, 'O'Brien')", at: "'Brien", expected: "a doubled quote",
        message: "write it twice, e.g. 'O''Brien'"),
    err("equals(attributes.LastName, 'O''Brien)", at: "'O'", expected: "a closing quote", message: "''"),
    // properties
    err(
        "equals(FirstName, 'John')", at: "FirstName", expected: "a property",
        message: "did you mean 'attributes.FirstName'?"),
    err(
        "equals(attribute.FirstName, 'John')", at: "attribute.", expected: "a property",
        message: "did you mean 'attributes.FirstName'?"),
    err("equals(Type, 'x')", at: "Type", expected: "a property", message: "did you mean 'type'?"),
    err("equals(crosswalk.type, 'x')", at: "crosswalk", expected: "a property", message: "'crosswalks.type'"),
    err("equals(crosswalks.source, 'x')", at: "crosswalks", expected: "a property", message: "unknown property"),
    err("equals(updatedtime, 1)", at: "updatedtime", expected: "a property", message: "did you mean 'updatedTime'?"),
    err("equals(attributes., 'x')", at: ",", expected: "an attribute name", message: "missing attribute name"),
    err("equals(attributes..City, 'x')", at: ".City", expected: "an attribute name", message: "position 18"),
    err("equals(attributes.Address., 'x')", at: ",", expected: "an attribute name", message: "position 26"),
    err("equals('John', attributes.FirstName)", at: "'John'", expected: "a property", message: "first argument"),
    err("equals(, 'x')", at: ",", expected: "a property", message: "needs a property"),
    err("exists()", at: ")", expected: "a property", message: "needs a property"),
    err("exists(equals(type, 'x'))", at: "equals(type", expected: "a property", message: "needs a property"),
    err("changes(type)", at: "type", expected: "an attribute property", message: "attribute changes only"),
    err("changes(crosswalks.value)", at: "crosswalks", expected: "an attribute property", message: "position 8"),
    // argument counts and kinds
    err("equals(attributes.FirstName 'John')", at: "'John'", expected: "','", message: "expected ','"),
    err("equals(type 'x')", at: "'x'", expected: "','", message: "between the arguments"),
    err("equals(attributes.FirstName)", at: ")", expected: "','", message: "takes two arguments"),
    err(
        "equals(attributes.FirstName, 'John', 'Jane')", at: ",", occurrence: 2, expected: "')'",
        message: "use in(...)"),
    err("equals(type, 'x',)", at: ",", occurrence: 2, expected: "')'", message: "extra argument"),
    err("equals(attributes.FirstName, John)", at: "John", expected: "single quotes", message: "'John'"),
    err("equals(attributes.FirstName, )", at: ")", expected: "single quotes", message: "needs a value"),
    err("equals(attributes.FirstName, 'John'", at: nil, expected: "')'", message: "missing ')'"),
    err("equals(attributes.FirstName, 'John' and exists(type)", at: "and", expected: "')'", message: "found 'and'"),
    err("equals(attributes.FirstName", at: nil, expected: "','", message: "the expression ends"),
    err("in(type)", at: ")", expected: "','", message: "one or more values"),
    err("in(type, )", at: ")", expected: "single quotes", message: "needs a value"),
    err("in(type, 'a' 'b')", at: "'b'", expected: "')'", message: "found the value 'b'"),
    err("range(attributes.Age, 18)", at: ")", expected: "','", message: "three arguments"),
    err("range(attributes.Age, 1, 2, 3)", at: ",", occurrence: 3, expected: "')'", message: "extra argument"),
    err(
        "range(attributes.Age, 'young', 65)", at: "'young'", expected: "a number or a quoted ISO date",
        message: "neither a number nor an ISO date"),
    err("range(attributes.Age, 65, 18)", at: "65", expected: "lower bound", message: "wrong way round"),
    err("range(attributes.Age, x, 18)", at: "x", expected: "a number", message: "needs a number"),
    err("gt(attributes.Age, 'abc')", at: "'abc'", expected: "a number", message: "neither a number"),
    err("gt(attributes.BirthDate, '2020-13-45')", at: "'2020", expected: "a number", message: "ISO date"),
    err("gt(attributes.Age)", at: ")", expected: "','", message: "two arguments"),
    err("gt(attributes.Age, 1,)", at: ",", occurrence: 2, expected: "')'", message: "extra argument"),
    err("exists(attributes.Email, 'x')", at: ",", expected: "')'", message: "one argument"),
    err(
        "containsWordStartingWith(attributes.Name, ' , ')", at: "' , '", expected: "at least one word",
        message: "no"),
    err("fullText(attributes.Name, '')", at: "''", expected: "at least one word", message: "needs at least one word"),
    // regular expressions: reported at the pattern, a POSIX-only construct where it is
    err("regexp(attributes.Zip, '[0-9')", at: "'[", expected: "RE2", message: "invalid regular expression"),
    err("regexp(attributes.Zip, 'a(b')", at: "'a(", expected: "RE2", message: "position 23: missing ): a(b"),
    err("regexp(attributes.Zip, '*a')", at: "'*", expected: "RE2", message: "invalid regular expression"),
    err("regexp(attributes.Zip, 'a{2,1}')", at: "'a{", expected: "RE2", message: "needs n <= m"),
    err("exists(type) and regexp(attributes.Zip, 'x)(')", at: "'x", expected: "RE2", message: "unexpected )"),
    err("regexp(attributes.Zip, '\\y')", at: "'\\y", expected: "RE2", message: "invalid escape sequence: \\y"),
    err("regexp(attributes.FirstName, '(.*){1,32767}')", at: "'(", expected: "RE2", message: "at most 1000"),
    err("regexp(attributes.FirstName, '((a{255}){255}){255}')", at: "'(", expected: "RE2", message: "multiply"),
    err("regexp(attributes.Zip, '[0-9]{,5}')", at: "{,5}", expected: "RE2", message: "write {0,5}"),
    err("regexp(attributes.Zip, '\\pL{1000}')", at: "'\\pL", expected: "smaller", message: "4 MiB"),
    err(
        "regexp(attributes.Zip, '\(String(repeating: "9", count: 1_001))')", at: "'9", expected: "at most 1000 bytes",
        message: "too long"),
    // structure: parentheses, trailing input, dangling keywords
    err("equals(type, 'x') extra", at: "extra", expected: "'and', 'or'", message: "join conditions"),
    err("exists(attributes.Email) 'x'", at: "'x'", expected: "'and', 'or'", message: "found the value 'x'"),
    err("equals(type, 'x'))", at: ")", occurrence: 2, expected: "'and', 'or'", message: "unmatched ')'"),
    err("(equals(type, 'x')", at: nil, expected: "')'", message: "missing ')' to close the '(' at position 0"),
    err("equals(type, 'x') or (exists(type)", at: nil, expected: "')'", message: "missing ')'"),
    err("equals(type, 'x') and", at: nil, expected: "a condition", message: "after 'and'"),
    err("equals(type, 'x') and not", at: nil, expected: "a condition", message: "after 'not'"),
    err("and equals(type, 'x')", at: "and", expected: "a condition", message: "no condition before it"),
    err("equals(type, 'x') or or exists(type)", at: "or", occurrence: 2, expected: "a condition", message: "'or'"),
    err("not", at: nil, expected: "a condition", message: "after 'not'"),
    err("equals(type, 'x') and ()", at: ")", occurrence: 2, expected: "a condition", message: "found ')'"),
    err("equals(type, 'x') and 12", at: "12", expected: "a condition", message: "the number 12"),
    err("equals(type, 'x') and 'y'", at: "'y'", expected: "a condition", message: "found the value 'y'"),
    err("(", at: nil, expected: "a condition", message: "expected a condition"),
    err(")", at: ")", expected: "a condition", message: "found ')'"),
    err(
        "equals(attributes.Prénom, 'é') and fooé(type)", at: "fooé", expected: "an operator",
        message: "position 35"),
    // inSameAttributeValue
    err(
        "inSameAttributeValue(equals(attributes.Address.City, 'Paris') and equals(attributes.Phone.Type, 'x'))",
        at: "attributes.Phone", expected: "a sub-attribute of attributes.Address", message: "same nested attribute"),
    err(
        "inSameAttributeValue(equals(attributes.City, 'Paris'))", at: "attributes.City", expected: "a sub-attribute",
        message: "one nested attribute"),
    err("inSameAttributeValue(equals(type, 'x'))", at: "type", expected: "a sub-attribute", message: "'type'"),
    err(
        "inSameAttributeValue(exists(attributes))", at: "attributes", expected: "a sub-attribute",
        message: "position 28"),
    err(
        "inSameAttributeValue(changes(attributes.Address.City))", at: "changes", expected: "a condition",
        message: "cannot be used inside inSameAttributeValue"),
    err(
        "inSameAttributeValue(inSameAttributeValue(equals(attributes.Address.City, 'x')))", at: "inSame",
        occurrence: 2, expected: "a condition", message: "inside another"),
    err("inSameAttributeValue()", at: ")", expected: "a condition", message: "expected a condition"),
    err(
        "inSameAttributeValue(attributes.Address.City)", at: "attributes", expected: "an operator",
        message: "property"),
    // nesting limit
    err(tooDeepParentheses, at: "(exists", expected: "less deeply nested", message: "deeper than 100 levels"),
    err(tooManyNots, at: "not exists", expected: "less deeply nested", message: "deeper than 100 levels"),
]

struct ParseErrorTests {
    @Test(arguments: parseErrorCases)
    func reportsPositionAndExpectation(_ c: ParseErrorCase) {
        #expect(throws: FilterParseError.self) { try ObjectFilter.parse(c.expression) }
        do {
            _ = try ObjectFilter.parse(c.expression)
        } catch {
            #expect(error.position == c.position, "\(error.message)")
            #expect(error.expected.contains(c.expected), "expected: \(error.expected)")
            #expect(error.message.contains(c.message), "message: \(error.message)")
            #expect(error.description == error.message)
            if !c.expression.allSatisfy(\.isWhitespace) {
                #expect(error.message.contains("position \(error.position)"), "message: \(error.message)")
            }
        }
    }

    @Test func nestingUpToTheLimitParses() throws {
        let deep = String(repeating: "(", count: 99) + "exists(type)" + String(repeating: ")", count: 99)
        #expect(try ObjectFilter.parse(deep).matches(SubjectName.person.subject))
        let nots = String(repeating: "not ", count: 98) + "exists(type)"
        #expect(try ObjectFilter.parse(nots).matches(SubjectName.person.subject))
    }

    @Test func longFlatChainsParseAndEvaluate() throws {
        let terms = Array(repeating: "exists(type)", count: 5_000)
        let and = try ObjectFilter.parse(terms.joined(separator: " and "))
        #expect(and.matches(SubjectName.person.subject))
        let or = try ObjectFilter.parse(Array(repeating: "missing(type)", count: 5_000).joined(separator: " or "))
        #expect(!or.matches(SubjectName.person.subject))
    }
}
