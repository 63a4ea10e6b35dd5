import HeraldModel
import Testing

@testable import HeraldFilter

struct EvaluationCase: Sendable, CustomTestStringConvertible {
    var expression: String
    var subject: SubjectName
    var expected: Bool

    var testDescription: String {
        let shown = expression.count > 90 ? String(expression.prefix(90)) + "…" : expression
        return "[\(subject.rawValue)] \(shown) → \(expected)"
    }
}

private func on(_ subject: SubjectName, _ expression: String, _ expected: Bool) -> EvaluationCase {
    EvaluationCase(expression: expression, subject: subject, expected: expected)
}

private let a256 = String(repeating: "a", count: 256)

let evaluationCases: [EvaluationCase] = [
    // equals: case-insensitive, quotes, Unicode, nested, any attribute, ovOnly
    on(.person, "equals(attributes.FirstName, 'John')", true),
    on(.person, "equals(attributes.FirstName, 'john')", true),
    on(.person, "equals(attributes.FirstName, 'JOHN')", true),
    on(.person, "equals(attributes.FirstName, 'Jo')", false),
    on(.person, "equals(attributes.FirstName, 'Jon')", true),
    on(.personOV, "equals(attributes.FirstName, 'Jon')", false),
    on(.personOV, "equals(attributes.FirstName, 'John')", true),
    on(.person, "equals(attributes.LastName, 'O''Brien')", true),
    on(.person, "equals(attributes.LastName, 'o''brien')", true),
    on(.person, "equals(attributes.LastName, 'OBrien')", false),
    on(.person, "equals(attributes.MiddleName, 'JÉRÔME')", true),
    on(.person, "equals(attributes.MiddleName, 'jérôme')", true),
    on(.person, "equals(attributes.MiddleName, 'Jerome')", false),
    on(.person, "equals(attributes.Address.City, 'MÜNCHEN')", true),
    on(.person, "equals(attributes.Address.City, 'Lyon')", true),
    on(.personOV, "equals(attributes.Address.City, 'Lyon')", false),
    on(.person, "equals(attributes.Address, 'paris')", true),
    on(.person, "equals(attributes, 'paris')", true),
    on(.person, "equals(attributes, 'mobile')", true),
    on(.person, "equals(attributes, 'Johnny')", true),
    on(.personOV, "equals(attributes, 'Johnny')", false),
    on(.person, "equals(attributes.NoSuch, 'John')", false),
    on(.person, "equals(attributes.FirstName.Sub, 'John')", false),
    on(.person, "equals(attributes.Address.City.Deeper, 'Paris')", false),
    on(.person, "equals(attributes.Age, 42)", true),
    on(.person, "equals(attributes.Age, 42.0)", false),
    on(.person, "equals(attributes.Notes, '\(a256)')", true),
    on(.person, "equals(attributes.Notes, '\(a256)needle')", false),
    on(.empty, "equals(attributes.FirstName, 'John')", false),
    // type, uri, audit fields, crosswalks
    on(.person, "equals(type, 'Individual')", true),
    on(.person, "equals(type, 'individual')", true),
    on(.person, "equals(type, 'configuration/entityTypes/Individual')", true),
    on(.person, "equals(type, 'entityTypes/Individual')", false),
    on(.organization, "equals(type, 'Organization')", true),
    on(.organization, "equals(type, 'Individual')", false),
    on(.person, "equals(uri, 'entities/P1')", true),
    on(.person, "equals(uri, 'ENTITIES/p1')", true),
    on(.person, "equals(uri, 'P1')", false),
    on(.person, "equals(createdBy, 'ALICE')", true),
    on(.person, "equals(updatedBy, 'bob.smith@example.com')", true),
    on(.person, "equals(createdBy, 'bob.smith@example.com')", false),
    on(.person, "equals(createdTime, 1600000000000)", true),
    on(.person, "equals(createdTime, '1600000000000')", true),
    on(.person, "equals(updatedTime, 1600000000000)", false),
    on(.person, "equals(crosswalks.type, 'CRM')", true),
    on(.person, "equals(crosswalks.type, 'configuration/sources/ERP')", true),
    on(.person, "equals(crosswalks.type, 'SAP')", false),
    on(.person, "equals(crosswalks.value, 'crm-002')", true),
    on(.person, "equals(crosswalks.value, 'erp/77')", true),
    on(.person, "equals(crosswalks.value, '77')", false),
    on(.empty, "equals(crosswalks.type, 'CRM')", false),
    // equalsCaseSensitive
    on(.person, "equalsCaseSensitive(attributes.Code, 'AbC-123')", true),
    on(.person, "equalsCaseSensitive(attributes.Code, 'abc-123')", false),
    on(.person, "equalsCaseSensitive(type, 'Individual')", true),
    on(.person, "equalsCaseSensitive(type, 'individual')", false),
    on(.person, "equalsCaseSensitive(attributes.MiddleName, 'Jérôme')", true),
    on(.person, "equalsCaseSensitive(attributes.MiddleName, 'jérôme')", false),
    on(.person, "equalsCaseSensitive(attributes.Notes, '\(a256)')", true),
    // startsWith
    on(.person, "startsWith(attributes.LastName, 'o''b')", true),
    on(.person, "startsWith(attributes.Email, 'JOHN.')", true),
    on(.person, "startsWith(attributes.Email, 'example')", false),
    on(.person, "startsWith(attributes.Address.Zip, '75')", true),
    on(.person, "startsWith(attributes.Address.Zip, 69)", true),
    on(.personOV, "startsWith(attributes.Address.Zip, 69)", false),
    on(.person, "startsWith(type, 'Indiv')", true),
    on(.person, "startsWith(type, 'configuration/')", true),
    on(.person, "startsWith(type, 'entityTypes/')", false),
    on(.person, "startsWith(attributes.MiddleName, 'JÉR')", true),
    on(.person, "startsWith(attributes.Notes, 'aaaa')", true),
    on(.person, "startsWith(attributes.FirstName, '')", true),
    on(.person, "startsWith(crosswalks.value, 'CRM-')", true),
    // containsWordStartingWith: separators are white space and ' , @ # $ ; : & % < > ( ) [ ] * | / \ ! ?
    on(.person, "containsWordStartingWith(attributes.Description, 'integ')", false),
    on(.person, "containsWordStartingWith(attributes.Description, 'data-int')", true),
    on(.person, "containsWordStartingWith(attributes.Description, 'mdm')", true),
    on(.person, "containsWordStartingWith(attributes.Description, 'herald')", true),
    on(.person, "containsWordStartingWith(attributes.Description, 'stream')", true),
    on(.person, "containsWordStartingWith(attributes.Description, 'eng sen')", true),
    on(.person, "containsWordStartingWith(attributes.Description, 'eng xyz')", false),
    on(.person, "containsWordStartingWith(attributes.Description, 'gineer')", false),
    on(.person, "containsWordStartingWith(attributes.Description, 'Senior,engineer')", true),
    on(.person, "containsWordStartingWith(attributes.Email, 'example')", true),
    on(.person, "containsWordStartingWith(attributes.Email, 'obrien')", false),
    on(.person, "containsWordStartingWith(attributes.Email, 'corp')", true),
    on(.personOV, "containsWordStartingWith(attributes.Email, 'corp')", false),
    on(.person, "containsWordStartingWith(attributes.Address.Street, 'riv')", true),
    on(.person, "containsWordStartingWith(type, 'entityt')", true),
    on(.person, "containsWordStartingWith(attributes.Phone.Number, '45')", true),
    on(.person, "containsWordStartingWith(attributes, 'MÜNCH')", true),
    on(.person, "containsWordStartingWith(attributes.Notes, 'aaa')", true),
    // fullText: every word, as a whole word, in the property's values
    on(.person, "fullText(attributes.Description, 'engineer')", true),
    on(.person, "fullText(attributes.Description, 'ENGINEER senior')", true),
    on(.person, "fullText(attributes.Description, 'engine')", false),
    on(.person, "fullText(attributes.Description, 'queues mdm')", true),
    on(.person, "fullText(attributes.Tags, 'alpha gamma')", true),
    on(.person, "fullText(attributes.Tags, 'alpha beta')", true),
    on(.personOV, "fullText(attributes.Tags, 'alpha beta')", false),
    on(.person, "fullText(attributes.Address.Street, 'rue rivoli')", true),
    on(.person, "fullText(attributes.Address.Street, 'rue paris')", false),
    on(.person, "fullText(crosswalks.value, 'erp 77')", true),
    on(.person, "fullText(attributes.Notes, 'needle')", false),
    // fuzzy: distance ≤ 1 up to 5 characters, ≤ 2 beyond
    on(.person, "fuzzy(attributes.FirstName, 'Jhon')", true),
    on(.person, "fuzzy(attributes.FirstName, 'Joan')", true),
    on(.person, "fuzzy(attributes.FirstName, 'Jane')", false),
    on(.person, "fuzzy(attributes.FirstName, 'j')", false),
    on(.person, "fuzzy(attributes.FirstName, 'ohn')", true),
    on(.person, "fuzzy(attributes.LastName, 'obrian')", true),
    on(.person, "fuzzy(attributes.LastName, 'obrain')", false),
    on(.person, "fuzzy(attributes.Nickname, 'Jonny')", true),
    on(.personOV, "fuzzy(attributes.Nickname, 'Jonny')", false),
    on(.person, "fuzzy(attributes.MiddleName, 'jerome')", true),
    on(.person, "fuzzy(attributes.MiddleName, 'jeromes')", false),
    on(.person, "fuzzy(type, 'Individal')", true),
    on(.person, "fuzzy(attributes.Code, 'abc123')", true),
    on(.person, "fuzzy(attributes.Address.City, 'Pariss')", true),
    // contains: * and ? wildcards over the whole value
    on(.person, "contains(attributes.Email, '*@example.com')", true),
    on(.person, "contains(attributes.Email, '*@EXAMPLE.COM')", true),
    on(.person, "contains(attributes.Email, '*@example')", false),
    on(.person, "contains(attributes.Email, '*example*')", true),
    on(.person, "contains(attributes.FirstName, 'J?hn')", true),
    on(.person, "contains(attributes.FirstName, 'J?n')", true),
    on(.personOV, "contains(attributes.FirstName, 'J?n')", false),
    on(.person, "contains(attributes.FirstName, 'john')", true),
    on(.person, "contains(attributes.FirstName, 'jo')", false),
    on(.person, "contains(attributes.MiddleName, 'j?r?me')", true),
    on(.person, "contains(attributes.Address.City, 'M*N')", true),
    on(.person, "contains(type, 'Indiv*')", true),
    on(.organization, "contains(type, '*entityTypes/Org*')", true),
    on(.person, "contains(type, '*entityTypes/Org*')", false),
    on(.person, "contains(attributes.Code, '*-*')", true),
    on(.person, "contains(attributes.Notes, '*needle')", false),
    on(.person, "contains(attributes.Notes, 'a*')", true),
    on(.person, "contains(attributes.FirstName, '*')", true),
    // regexp: RE2 syntax, whole value, case-sensitive
    on(.person, "regexp(attributes.Address.Zip, '[0-9]{5}')", true),
    on(.person, "regexp(attributes.Address.Zip, '750')", false),
    on(.person, "regexp(attributes.Address.Zip, '750.*')", true),
    on(.person, "regexp(attributes.FirstName, 'john')", false),
    on(.person, "regexp(attributes.FirstName, 'J(oh|o)n')", true),
    on(.person, "regexp(attributes.Email, '.*@example\\.com')", true),
    on(.person, "regexp(type, 'Indiv.*')", true),
    on(.person, "regexp(type, 'configuration/.*/Individual')", true),
    on(.person, "regexp(attributes.Nickname, 'J.*')", true),
    on(.personOV, "regexp(attributes.Nickname, 'J.*')", false),
    on(.person, "regexp(attributes.Notes, 'a{256}')", true),
    on(.person, "regexp(attributes.Notes, '.*needle')", false),
    on(.person, "regexp(attributes.Age, '4|17')", true),
    on(.personOV, "regexp(attributes.Age, '4|17')", false),
    // in
    on(.person, "in(attributes.FirstName, 'Jane', 'john')", true),
    on(.person, "in(attributes.FirstName, 'Jane', 'Mary')", false),
    on(.person, "in(type, 'Organization', 'Individual')", true),
    on(.person, "in(type, 'Organization')", false),
    on(.person, "in(attributes.Age, 17, 99)", true),
    on(.personOV, "in(attributes.Age, 17, 99)", false),
    on(.person, "in(crosswalks.type, 'SAP', 'ERP')", true),
    on(.person, "in(attributes.Address.Country, 'de')", true),
    on(.person, "in(type, 'configuration/entityTypes/Individual', 'x')", true),
    // range, gt, gte, lt, lte: numbers and ISO dates
    on(.person, "range(attributes.Age, 18, 65)", true),
    on(.personOV, "range(attributes.Age, 18, 65)", true),
    on(.person, "range(attributes.Age, 43, 65)", false),
    on(.person, "range(attributes.Age, 42, 42)", true),
    on(.person, "gt(attributes.Age, 42)", false),
    on(.person, "gte(attributes.Age, 42)", true),
    on(.person, "gte(attributes.Age, 4.2e1)", true),
    on(.person, "lt(attributes.Age, 18)", true),
    on(.personOV, "lt(attributes.Age, 18)", false),
    on(.person, "lte(attributes.Age, 17)", true),
    on(.person, "lt(attributes.Age, 17)", false),
    on(.person, "gt(attributes.Score, -4)", true),
    on(.person, "lt(attributes.Score, -3.5)", false),
    on(.person, "lte(attributes.Score, -3.5)", true),
    on(.person, "gt(attributes.Score, '-3.6')", true),
    on(.person, "gt(attributes.BirthDate, '1981-05-16')", true),
    on(.person, "gt(attributes.BirthDate, '1981-05-17')", false),
    on(.person, "range(attributes.BirthDate, '1980-01-01', '1990-12-31')", true),
    on(.person, "gte(attributes.BirthDate, 358905600000)", true),
    on(.person, "gt(attributes.BirthDate, 358905600000)", false),
    on(.person, "gt(attributes.LastSeen, '2023-11-14')", true),
    on(.person, "range(attributes.LastSeen, 1700000000000, 1700000000000)", true),
    on(.person, "gt(attributes.LastSeen, '2023-11-14T22:13:20.001Z')", false),
    on(.person, "gte(attributes.LastSeen, '2023-11-15T00:13:20+02:00')", true),
    on(.person, "gt(createdTime, 1599999999999)", true),
    on(.person, "gt(createdTime, '2020-09-14')", false),
    on(.person, "range(updatedTime, '2023-11-14', '2023-11-15')", true),
    on(.person, "lt(updatedTime, 1700000000000)", false),
    on(.person, "gt(attributes.FirstName, 0)", false),
    on(.person, "gt(attributes, 40)", true),
    on(.person, "gt(attributes.Address.Zip, 80000)", true),
    on(.person, "gt(attributes.Address.Zip, 90000)", false),
    on(.empty, "lt(attributes.Age, 100)", false),
    // exists, missing
    on(.person, "exists(attributes.Email)", true),
    on(.person, "exists(attributes.Nickname)", true),
    on(.personOV, "exists(attributes.Nickname)", false),
    on(.personOV, "missing(attributes.Nickname)", true),
    on(.person, "missing(attributes.Nickname)", false),
    on(.empty, "missing(attributes.Email)", true),
    on(.empty, "exists(attributes)", false),
    on(.person, "exists(attributes)", true),
    on(.person, "exists(attributes.Address.Street)", true),
    on(.organization, "exists(attributes.Address.Street)", false),
    on(.organization, "missing(attributes.Address.Street)", true),
    on(.empty, "exists(crosswalks.type)", false),
    on(.person, "exists(crosswalks.value)", true),
    on(.empty, "exists(type)", true),
    on(.person, "exists(attributes.FirstName.Sub)", false),
    on(.personOV, "exists(attributes.Address)", true),
    // inSameAttributeValue
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Address.City, 'Paris') and equals(attributes.Address.Zip, '75001'))",
        true),
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Address.City, 'Paris') and equals(attributes.Address.Zip, '80331'))",
        false),
    on(.person, "equals(attributes.Address.City, 'Paris') and equals(attributes.Address.Zip, '80331')", true),
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Address.City, 'Lyon') and equals(attributes.Address.Country, 'FR'))",
        true),
    on(
        .personOV,
        "inSameAttributeValue(equals(attributes.Address.City, 'Lyon') and equals(attributes.Address.Country, 'FR'))",
        false),
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Address.Country, 'DE') and missing(attributes.Address.Street))", true),
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Address.Country, 'FR') and missing(attributes.Address.Street))", true),
    on(
        .personOV,
        "inSameAttributeValue(equals(attributes.Address.Country, 'FR') and missing(attributes.Address.Street))", false),
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Address.City, 'Paris') or equals(attributes.Address.City, 'Berlin'))",
        true),
    on(.person, "inSameAttributeValue(not equals(attributes.Address.Country, 'FR'))", true),
    on(.empty, "inSameAttributeValue(equals(attributes.Address.City, 'Paris'))", false),
    on(.person, "not inSameAttributeValue(equals(attributes.Address.City, 'Rome'))", true),
    on(
        .person,
        "inSameAttributeValue(startsWith(attributes.Address.Zip, '75') and gt(attributes.Address.Zip, 75000))", true),
    on(
        .organization,
        "inSameAttributeValue(equals(attributes.Address.City, 'Paris') and equals(attributes.Address.Zip, '75008'))",
        true),
    on(
        .person,
        "inSameAttributeValue(equals(attributes.Phone.Type, 'mobile') and startsWith(attributes.Phone.Number, '+33'))",
        true),
    // changes
    on(.personDelta, "changes(attributes.LastName)", true),
    on(.person, "changes(attributes.LastName)", false),
    on(.personDelta, "changes(attributes.FirstName)", false),
    on(.personDelta, "changes(attributes)", true),
    on(.person, "changes(attributes)", false),
    on(.personDelta, "changes(attributes.Address)", true),
    on(.personDelta, "changes(attributes.Address.Zip)", true),
    on(.personDelta, "changes(attributes.Address.City)", false),
    on(.personDelta, "changes(attributes.Address.Street)", false),
    on(.personDelta, "changes(attributes.Phone.Type)", true),
    on(.personDelta, "changes(attributes.Phone.Extension)", false),
    on(.personDeltaOV, "changes(attributes.Phone)", false),
    on(.personDelta, "changes(attributes.Nickname)", true),
    on(.personDeltaOV, "changes(attributes.Nickname)", false),
    on(.personDeltaOV, "changes(attributes.LastName)", true),
    on(.personDelta, "not changes(attributes.FirstName)", true),
    on(.personDelta, "changes(attributes.Address.Zip) and equals(attributes.Address.City, 'Paris')", true),
    // and, or, not, precedence, parentheses, keyword case, white space
    on(.person, "equals(attributes.FirstName, 'John') and equals(attributes.LastName, 'Smith')", false),
    on(.person, "equals(attributes.FirstName, 'John') or equals(attributes.LastName, 'Smith')", true),
    on(.person, "not equals(attributes.FirstName, 'John')", false),
    on(.person, "not(equals(attributes.FirstName, 'John'))", false),
    on(.person, "NOT equals(attributes.FirstName, 'Mary')", true),
    on(.person, "equals(attributes.FirstName, 'Mary') OR equals(type, 'Individual')", true),
    on(.person, "equals(type, 'Individual') AnD exists(attributes.Email)", true),
    on(.person, "not equals(type, 'Individual') and equals(type, 'Organization')", false),
    on(.person, "equals(type, 'Organization') and equals(type, 'Individual') or exists(attributes.Email)", true),
    on(.person, "equals(type, 'Individual') or equals(type, 'Organization') and missing(type)", true),
    on(.person, "(equals(type, 'Individual') or equals(type, 'Organization')) and missing(type)", false),
    on(.person, "not (equals(type, 'Individual') or equals(type, 'Organization'))", false),
    on(.person, "not not equals(type, 'Individual')", true),
    on(.person, "((((equals(type, 'Individual')))))", true),
    on(.person, "equals(type,'Individual')and(exists(attributes.Email))", true),
    on(.person, "  equals( type ,  'Individual' )  \n and\texists( attributes.Email )  ", true),
    on(.person, "not(equals(attributes.FirstName, 'John') and equals(attributes.FirstName, 'Jon'))", false),
    on(.personOV, "not(equals(attributes.FirstName, 'John') and equals(attributes.FirstName, 'Jon'))", true),
    on(
        .person,
        "(equals(type, 'Individual') and (startsWith(attributes.Email, 'john') or missing(attributes.Email))) "
            + "and not changes(attributes)", true),
    on(
        .personDelta,
        "(equals(type, 'Individual') and (startsWith(attributes.Email, 'john') or missing(attributes.Email))) "
            + "and not changes(attributes)", false),
]

struct EvaluationTableTests {
    @Test func tableIsLargeAndCoversEveryOperator() {
        #expect(evaluationCases.count >= 150)
        for op in FilterOperator.allCases {
            #expect(evaluationCases.contains { $0.expression.contains(op.rawValue + "(") }, "no case uses \(op)")
        }
        for subject in SubjectName.allCases {
            #expect(evaluationCases.contains { $0.subject == subject }, "no case uses \(subject)")
        }
        #expect(evaluationCases.contains { $0.expected } && evaluationCases.contains { !$0.expected })
    }

    @Test(arguments: evaluationCases)
    func evaluates(_ c: EvaluationCase) throws {
        let filter = try ObjectFilter.parse(c.expression)
        let subject = c.subject.subject
        #expect(filter.matches(subject) == c.expected)
        #expect(filter.explain(subject).result == c.expected)
    }
}
