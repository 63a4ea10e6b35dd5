import HeraldJSON
import HeraldModel
import Testing

struct EntityInputTests {
    @Test(arguments: [
        (#"[1]"#, "INVALID_ENTITY", "[0]"),
        (#"{"attributes": {}}"#, "INVALID_ENTITY", "[0].type"),
        (#"{"type": "configuration/entityTypes/Nope"}"#, "UNKNOWN_ENTITY_TYPE", "[0].type"),
        (#"{"type": "Individual", "colour": 1}"#, "INVALID_ENTITY", "[0].colour"),
        (#"{"type": "Individual", "attributes": {"Nick": ["x"]}}"#, "UNKNOWN_ATTRIBUTE", "[0].attributes.Nick"),
        (#"{"type": "Individual", "attributes": {"FirstName": "x"}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.FirstName"),
        (#"{"type": "Individual", "attributes": {"Age": ["old"]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.Age[0]"),
        (#"{"type": "Individual", "attributes": {"Age": [{"value": 1.5}]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.Age[0].value"),
        (#"{"type": "Individual", "attributes": {"BirthDate": ["2001-02-30"]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.BirthDate[0]"),
        (#"{"type": "Individual", "attributes": {"BirthDate": ["19561332"]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.BirthDate[0]"),
        (#"{"type": "Individual", "attributes": {"BirthDate": [19561332]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.BirthDate[0]"),
        (#"{"type": "Individual", "attributes": {"BirthDate": ["1956-2-3"]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.BirthDate[0]"),
        (#"{"type": "Individual", "attributes": {"VIP": ["yes"]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.VIP[0]"),
        (#"{"type": "Individual", "attributes": {"FirstName": [{"val": "x"}]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.FirstName[0].val"),
        (#"{"type": "Individual", "attributes": {"FirstName": [{"value": {"a": 1}}]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.FirstName[0].value"),
        (#"{"type": "Individual", "attributes": {"Address": [{"value": {"Street": ["x"]}}]}}"#, "UNKNOWN_ATTRIBUTE", "[0].attributes.Address[0].value.Street"),
        (#"{"type": "Individual", "attributes": {"Address": ["Paris"]}}"#, "INVALID_ATTRIBUTE_VALUE", "[0].attributes.Address[0]"),
        (#"{"type": "Individual", "crosswalks": [{"type": "configuration/sources/XYZ", "value": "1"}]}"#, "UNKNOWN_SOURCE", "[0].crosswalks[0].type"),
        (#"{"type": "Individual", "crosswalks": [{"type": "configuration/sources/CRM"}]}"#, "INVALID_ENTITY", "[0].crosswalks[0].value"),
        (#"{"type": "Individual", "crosswalks": [{"type": "configuration/sources/CRM", "value": "1"}, {"type": "configuration/sources/CRM", "value": "1"}]}"#, "INVALID_ENTITY", "[0].crosswalks[1]"),
        (#"{"type": "Individual", "crosswalks": [{"type": "configuration/sources/CRM", "value": "1", "updateDate": "yesterday"}]}"#, "INVALID_ENTITY", "[0].crosswalks[0].updateDate"),
    ])
    func rejectsBadItemsWithCodeAndPath(json: String, code: String, path: String) throws {
        let value: JSONValue = json == "[1]" ? .number("1") : try JSONParser.parse(json)
        do {
            _ = try EntityInput(json: value, schema: testSchema(), at: JSONPath.root + 0)
            Issue.record("expected \(code) for \(json)")
        } catch {
            #expect(error.code.rawValue == code, "\(json): \(error)")
            #expect(error.path.description == path, "\(json): \(error)")
            #expect(!error.message.isEmpty)
        }
    }

    /// One rule for Date values, the one matching normalises with: accepted forms, and the date they name.
    @Test(arguments: [
        ("1956-02-03", "1956-02-03"), ("1956/02/03", "1956-02-03"), ("1956.02.03", "1956-02-03"), ("19560203", "1956-02-03"),
        ("1956-02-03T10:00:00Z", "1956-02-03"), ("-437184000000", "1956-02-24"), ("2000-02-29", "2000-02-29"),
    ])
    func datesFollowOneRule(text: String, date: String) throws {
        #expect(canonicalDate(text) == date)
        let json = try JSONParser.parse(#"{"type": "Individual", "attributes": {"BirthDate": ["\#(text)"]}}"#)
        _ = try EntityInput(json: json, schema: testSchema(), at: JSONPath.root + 0)
    }

    @Test func enforcesValueSizeAndCountLimits() throws {
        var limits = ObjectLimits()
        limits.maxValueBytes = 8
        limits.maxValuesPerAttribute = 2
        limits.maxCrosswalksPerEntity = 1
        let schema = testSchema(limits: limits)
        func code(_ json: String) -> String? {
            do {
                _ = try input(json, schema: schema)
                return nil
            } catch { return (error as? IngestError)?.code.rawValue }
        }
        #expect(code(#"{"type": "Individual", "attributes": {"FirstName": ["123456789"]}}"#) == "LIMIT_EXCEEDED")
        #expect(code(#"{"type": "Individual", "attributes": {"FirstName": ["12345678"]}}"#) == nil)
        #expect(code(#"{"type": "Individual", "attributes": {"FirstName": ["a", "b", "c"]}}"#) == "LIMIT_EXCEEDED")
        #expect(code(#"{"type": "Individual", "attributes": {"FirstName": ["a", "b", "a"]}}"#) == nil, "duplicates count once")
        #expect(
            code(
                #"{"type": "Individual", "crosswalks": [{"type": "configuration/sources/CRM", "value": "1"}, {"type": "configuration/sources/ERP", "value": "1"}]}"#
            ) == "LIMIT_EXCEEDED")
    }

    @Test func acceptsShortFormsAndNormalises() throws {
        let i = try input(
            #"{"type": "Individual", "attributes": {"Age": [42], "VIP": [true], "LastName": ["Smith", {"value": "Smith"}], "FirstName": ["Ann"]}, "crosswalks": [{"type": "CRM", "value": 7, "updateDate": "2024-01-02T03:04:05.678Z"}]}"#
        )
        #expect(i.type == individual)
        #expect(i.attributes.map(\.name) == ["FirstName", "LastName", "Age", "VIP"], "declaration order")
        #expect(i.attributes[1].values == [.simple("Smith")])
        #expect(i.attributes[2].values == [.simple("42")])
        #expect(i.attributes[3].values == [.simple("true")])
        #expect(i.crosswalks[0].type == "configuration/sources/CRM")
        #expect(i.crosswalks[0].value == "7")
        #expect(i.crosswalks[0].updateDate == 1_704_164_645_678)
    }
}
