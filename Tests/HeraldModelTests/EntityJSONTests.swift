import HeraldJSON
@testable import HeraldModel
import Testing

struct EntityJSONTests {
    @Test func renderedEntitiesParseBackToTheSameEntity() throws {
        var h = Harness()
        _ = try h.apply(
            post(
                id: "1",
                #""FirstName": ["Zoë \"Z\""], "Email": ["a@x", "b@x"], "Address": [{"value": {"City": ["Paris"], "Zip": ["75001"]}}]"#
            ))
        _ = try h.apply(
            """
            {"type": "\(individual)", "attributes": {"Email": ["b@x", "c@x"]}, \
            "crosswalks": [{"type": "configuration/sources/ERP", "value": "2", "sourceTable": "T"}, {"type": "configuration/sources/CRM", "value": "1"}]}
            """)
        let entity = h.entity!
        let parsed = try Entity(jsonBytes: entity.jsonBytes())
        #expect(parsed == entity)
        let stored = try Entity(storedBytes: entity.storedBytes())
        #expect(stored == entity)
        #expect(entity.storedBytes().count * 3 < entity.jsonBytes().count, "the stored form is compact")
    }

    /// The id after a URI's last `/`, found on bytes, is what the Character search finds, also where a
    /// combining mark or a prepended character joins the `/` to its neighbour (the bytes then defer to it).
    @Test(arguments: [
        "entities/1/attributes/Name/abc", "abc", "a/", "/", "", "entities/x/attributes/N/é", "entities/x/attributes/N/\u{301}b",
        "a/\u{301}/b\u{301}", "a\u{600}/b", "日本/語", "a/b/c\u{301}", "x/\u{1F600}",
    ])
    func lastURIComponentIsTheCharacterSearchs(uri: String) {
        let expected = uri.lastIndex(of: "/").map { String(uri[uri.index(after: $0)...]) }
        #expect(Entity.lastURIComponent(uri) == expected)
    }

    @Test func rendersTheAPIShape() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["Ann"], "Address": [{"value": {"City": ["Oslo"]}}]"#))
        let json = try JSONParser.parse(h.entity!.jsonBytes())
        #expect(json["uri"] == .string("entities/E1"))
        let first = json["attributes"]?["FirstName"]?.arrayValue?.first
        #expect(first?["type"] == .string(individual + "/attributes/FirstName"))
        #expect(first?["ov"] == .bool(true))
        #expect(first?["value"] == .string("Ann"))
        let valueURI = first?["uri"]?.stringValue ?? ""
        #expect(valueURI.hasPrefix("entities/E1/attributes/FirstName/"))
        let city = json["attributes"]?["Address"]?.arrayValue?.first?["value"]?["City"]?.arrayValue?.first
        #expect(city?["type"] == .string(individual + "/attributes/Address/attributes/City"))
        let crosswalk = json["crosswalks"]?.arrayValue?.first
        #expect(crosswalk?["type"] == .string("configuration/sources/CRM"))
        let contributed = crosswalk?["attributes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(contributed.contains(valueURI))
        #expect(contributed.contains(city?["uri"]?.stringValue ?? "-"))
    }

    @Test func rendersOnlyOperationalOrSelectedAttributes() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["Ann"], "LastName": ["Lee"]"#, updateDate: 10))
        _ = try h.apply(
            """
            {"type": "\(individual)", "attributes": {"FirstName": ["Anne"]}, \
            "crosswalks": [{"type": "configuration/sources/ERP", "value": "2", "updateDate": 20}, {"type": "configuration/sources/CRM", "value": "1"}]}
            """)
        var w = JSONWriter()
        h.entity!.render(into: &w, ovOnly: true, attributeNames: ["FirstName"])
        let json = try JSONParser.parse(w.bytes)
        #expect(json["attributes"]?.objectValue?.map(\.key) == ["FirstName"])
        #expect(json["attributes"]?["FirstName"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == ["Anne"])
    }

    @Test func deltasRenderInTheActivityLogShape() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["Jon"]"#))
        guard case .updated(_, let e, let delta) = try h.apply(post(id: "1", #""FirstName": ["John"]"#)) else {
            Issue.record("expected updated")
            return
        }
        let json = try JSONParser.parse(delta.jsonBytes(entityType: e.type))
        #expect(json["ovChanged"] == .bool(true))
        let item = json["delta"]?.arrayValue?.first
        #expect(item?["type"] == .string("ATTRIBUTE_CHANGED"))
        #expect(item?["attributeType"] == .string(individual + "/attributes/FirstName"))
        #expect(item?["oldValue"]?["value"] == .string("Jon"))
        #expect(item?["newValue"]?["value"] == .string("John"))
        #expect(item?["newValue"]?["sources"] == .array([.string("CRM")]))
        #expect(item?["newValue"]?["ov"] == .bool(true))
    }

    @Test(arguments: [
        ("2024-02-29T12:00:00Z", Int64(1_709_208_000_000)),
        ("1970-01-01T00:00:00.5Z", Int64(500)),
        ("2024-01-01T01:00:00+01:00", Int64(1_704_067_200_000)),
    ])
    func parsesISOTimes(text: String, millis: Int64) {
        #expect(parseISODateTime(text) == millis)
    }

    @Test func rejectsBadDates() {
        #expect(parseISODateTime("2023-02-29T00:00:00Z") == nil)
        #expect(parseISODateTime("2024-01-01") == nil)
        #expect(isISODate("2024-02-29"))
        #expect(!isISODate("2023-02-29"))
        #expect(!isISODate("2024-13-01"))
    }
}

struct DeltaDecodingTests {
    @Test func renderedDeltasDecodeBack() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["Jon"], "Address": [{"value": {"City": ["Paris"]}}]"#))
        guard case .updated(_, let e, let delta) = try h.apply(
            """
            {"type": "\(individual)", "attributes": {"FirstName": ["John"], "Address": [{"value": {"City": ["Lyon"]}}]}, \
            "crosswalks": [{"type": "configuration/sources/CRM", "value": "1"}, {"type": "configuration/sources/ERP", "value": "2"}]}
            """)
        else {
            Issue.record("expected updated")
            return
        }
        let decoded = try Delta(jsonBytes: delta.jsonBytes(entityType: e.type))
        #expect(decoded.ovChanged == delta.ovChanged)
        #expect(decoded.items.map(\.kind) == delta.items.map(\.kind))
        #expect(decoded.items.map(\.attributeName) == delta.items.map(\.attributeName))
        #expect(decoded.items.map { $0.newValue?.content } == delta.items.map { $0.newValue?.content })
        #expect(decoded.items.map { $0.oldValue?.id } == delta.items.map { $0.oldValue?.id })
        #expect(decoded.items.compactMap(\.crosswalk) == delta.items.compactMap(\.crosswalk))
    }
}
