import HeraldJSON
import HeraldModel
import Testing

struct EntityIngestorTests {
    @Test func createsAnEntityWithOperationalValuesAndAnAddedDelta() throws {
        var h = Harness()
        let outcome = try h.apply(post(id: "1", #""FirstName": [{"value": "John"}], "LastName": ["Smith"]"#))
        guard case .created(let e) = outcome else { Issue.record("expected created"); return }
        let delta = Delta.between(nil, e)
        #expect(e.uri == "entities/E1")
        #expect(e.simpleValues("FirstName") == ["John"])
        #expect(e.ovValues("LastName") == ["Smith"])
        #expect(e.crosswalks.count == 1)
        #expect(e.crosswalks[0].key == CrosswalkKey(type: "configuration/sources/CRM", value: "1"))
        #expect(delta.items.filter { $0.kind == .attributeAdded }.count == 2)
        #expect(delta.items.contains { $0.kind == .crosswalkAdded })
        #expect(delta.ovChanged)
        #expect(e.createdBy == "tester")
    }

    @Test func repostingTheSameDataIsUnchanged() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["John"]"#))
        let before = h.entity
        let outcome = try h.apply(post(id: "1", #""FirstName": ["John"]"#))
        guard case .unchanged(let e) = outcome else { Issue.record("expected unchanged, got \(outcome)"); return }
        #expect(e == before)
    }

    @Test func aSourceReplacesItsOwnContributionAndKeepsTheValueId() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["Jon"], "Email": ["a@x.com"]"#))
        let oldId = h.entity!.values(of: "FirstName")![0].id
        let outcome = try h.apply(post(id: "1", #""FirstName": ["John"]"#))
        guard case .updated(_, let e, let delta) = outcome else { Issue.record("expected updated"); return }
        #expect(e.simpleValues("FirstName") == ["John"])
        #expect(e.values(of: "FirstName")![0].id == oldId)
        #expect(e.values(of: "Email") == nil, "Email was only contributed by CRM/1 and is no longer posted")
        let changed = delta.items.first { $0.kind == .attributeChanged }
        #expect(changed?.oldValue?.content == .simple("Jon"))
        #expect(changed?.newValue?.content == .simple("John"))
        #expect(delta.items.contains { $0.kind == .attributeRemoved && $0.attributeName == "Email" })
        #expect(delta.ovChanged)
    }

    @Test func aSecondSourceSharesEqualValuesAndAddsItsOwn() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["John"], "LastName": ["Smith"]"#))
        // Another crosswalk of the same source record set would be a new entity; attach ERP via a post
        // that names both crosswalks (CRM first owns the values, so use ERP first with CRM attached).
        let both = """
            {"type": "\(individual)", "attributes": {"FirstName": ["John"], "LastName": ["Smyth"]}, \
            "crosswalks": [{"type": "configuration/sources/ERP", "value": "9"}, {"type": "configuration/sources/CRM", "value": "1"}]}
            """
        let outcome = try h.apply(both)
        guard case .updated(_, let e, let delta) = outcome else { Issue.record("expected updated"); return }
        #expect(e.crosswalks.count == 2)
        let first = e.values(of: "FirstName")!
        #expect(first.count == 1, "equal values are stored once")
        #expect(first[0].sources.count == 2)
        #expect(e.simpleValues("LastName") == ["Smith", "Smyth"])
        // LUD: ERP is the most recently updated crosswalk, so its values are operational.
        #expect(e.ovValues("LastName") == ["Smyth"])
        #expect(e.ovValues("FirstName") == ["John"])
        #expect(delta.items.contains { $0.kind == .attributeAdded && $0.newValue?.content == .simple("Smyth") })
        #expect(delta.items.contains { $0.kind == .crosswalkAdded && $0.crosswalk?.type == "configuration/sources/ERP" })
    }

    @Test func operationalValuesFollowTheLatestUpdatedCrosswalk() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["John"]"#, updateDate: 5_000))
        let both = """
            {"type": "\(individual)", "attributes": {"FirstName": ["Johnny"]}, \
            "crosswalks": [{"type": "configuration/sources/ERP", "value": "9", "updateDate": 1000}, \
            {"type": "configuration/sources/CRM", "value": "1"}]}
            """
        _ = try h.apply(both)
        #expect(h.entity!.ovValues("FirstName") == ["John"], "CRM (5000) is newer than ERP (1000)")
        // CRM posts again with an older date: ERP wins now.
        _ = try h.apply(post(id: "1", #""FirstName": ["Jonathan"]"#, updateDate: 500))
        #expect(h.entity!.ovValues("FirstName") == ["Johnny"])
    }

    @Test func nestedValuesAreComparedWholeAndKeepSubIds() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""Address": [{"value": {"City": ["Paris"], "Zip": ["75001"]}}]"#))
        let address = h.entity!.values(of: "Address")![0]
        guard case .nested(let subs) = address.content else { Issue.record("expected nested"); return }
        #expect(subs.map(\.name) == ["City", "Zip"])
        let zipId = subs[1].values[0].id
        #expect(!zipId.isEmpty)
        let outcome = try h.apply(post(id: "1", #""Address": [{"value": {"Zip": ["75001"], "City": ["Lyon"]}}]"#))
        guard case .updated(_, let e, let delta) = outcome else { Issue.record("expected updated"); return }
        let newAddress = e.values(of: "Address")![0]
        #expect(newAddress.id == address.id)
        guard case .nested(let newSubs) = newAddress.content else { Issue.record("expected nested"); return }
        #expect(newSubs[1].values[0].id == zipId, "an unchanged sub-value keeps its id")
        #expect(delta.items.map(\.kind) == [.attributeChanged])
    }

    @Test func anEmptyPostRemovesTheSourcesValuesButKeepsItsCrosswalk() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["John"]"#))
        let outcome = try h.apply(post(id: "1", ""))
        guard case .updated(_, let e, let delta) = outcome else { Issue.record("expected updated"); return }
        #expect(e.attributes.isEmpty)
        #expect(e.crosswalks.count == 1)
        #expect(delta.items.map(\.kind) == [.attributeRemoved])
    }

    @Test func aCrosswalkOfAnotherTypeIsRefused() throws {
        var h = Harness()
        _ = try h.apply(post(id: "1", #""FirstName": ["John"]"#))
        #expect {
            _ = try h.apply(
                #"{"type": "configuration/entityTypes/Organization", "crosswalks": [{"type": "configuration/sources/CRM", "value": "1"}]}"#)
        } throws: { error in
            (error as? IngestError)?.code == .entityTypeMismatch
        }
    }

    @Test func limitsApplyToTheMergedEntity() throws {
        var limits = ObjectLimits()
        limits.maxValuesPerAttribute = 2
        var h = Harness()
        h.ingestor = EntityIngestor(schema: testSchema(limits: limits))
        _ = try h.apply(post(id: "1", #""Email": ["a@x", "b@x"]"#))
        let second = """
            {"type": "\(individual)", "attributes": {"Email": ["c@x"]}, \
            "crosswalks": [{"type": "configuration/sources/ERP", "value": "2"}, {"type": "configuration/sources/CRM", "value": "1"}]}
            """
        #expect {
            _ = try h.apply(second)
        } throws: { error in
            let e = error as? IngestError
            return e?.code == .limitExceeded && e?.path.description == "[0].attributes.Email"
        }
    }

    @Test func postsWithoutCrosswalksGetABuiltInOne() throws {
        var h = Harness()
        let outcome = try h.apply(#"{"type": "Individual", "attributes": {"FirstName": ["Ann"]}}"#)
        #expect(outcome.entity.crosswalks.map(\.type) == [TenantSchema.builtInSource])
        #expect(outcome.entity.crosswalks[0].value == "E1")
        #expect(outcome.entity.type == individual, "a short type name resolves to its URI")
    }
}
