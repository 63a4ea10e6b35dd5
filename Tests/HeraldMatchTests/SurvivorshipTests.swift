import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

struct SurvivorshipTests {
    static let crm = "configuration/sources/CRM", erp = "configuration/sources/ERP", web = "configuration/sources/WEB"

    /// An entity whose FirstName values come from three crosswalks:
    /// c1 CRM (created 3, updated 10), c2 ERP (created 1, updated 30), c3 WEB (created 2, updated 20).
    func entity(_ values: [(String, [String])], attribute: String = "FirstName") -> Entity {
        var e = makeEntity(
            "e",
            sources: [
                Source(id: "c1", type: SurvivorshipTests.crm, created: 3, updated: 10),
                Source(id: "c2", type: SurvivorshipTests.erp, created: 1, updated: 30),
                Source(id: "c3", type: SurvivorshipTests.web, created: 2, updated: 20),
            ])
        e.attributes = [
            AttributeEntry(
                name: attribute,
                values: values.enumerated().map { i, v in
                    AttributeValue(id: "v\(i)", content: .simple(v.0), sources: v.1)
                })
        ]
        return e
    }

    func ov(_ mapping: SurvivorshipMapping?, _ values: [(String, [String])]) -> [String] {
        var e = entity(values, attribute: mapping.map { SurvivorshipRulesName.short($0.attribute) } ?? "FirstName")
        SurvivorshipRules(mappings: mapping.map { [$0] } ?? []).apply(to: &e)
        return e.attributes[0].values.filter(\.ov).compactMap(\.content.simpleValue)
    }

    @Test func ludIsTheDefault() {
        #expect(ov(nil, [("Jon", ["c1"]), ("John", ["c2"]), ("Johnny", ["c3"])]) == ["John"])
    }

    @Test func ludBreaksTiesByTheCrosswalkAttachedLater() {
        var e = entity([("A", ["c1"]), ("B", ["c2"])])
        e.crosswalks[0].updateDate = 30
        SurvivorshipRules.lastUpdateWins.apply(to: &e)
        #expect(e.attributes[0].values.map(\.ov) == [false, true])
    }

    @Test func sourceSystemPicksTheFirstListedSourceThatContributes() {
        let m = SurvivorshipMapping(
            attribute: "FirstName", strategy: .sourceSystem, sourcesUriOrder: [Self.web, Self.crm])
        #expect(ov(m, [("Jon", ["c1"]), ("John", ["c2"]), ("Johnny", ["c3"])]) == ["Johnny"])
        #expect(ov(m, [("Jon", ["c1"]), ("John", ["c2"])]) == ["Jon"], "WEB does not contribute: CRM")
        #expect(ov(m, [("John", ["c2"])]) == ["John"], "no listed source contributes: the fallback, LUD, decides")
    }

    @Test func sourceSystemWithSeveralCrosswalksOfTheSourceFallsBack() {
        var e = entity([("Jon", ["c1"]), ("John", ["c2"]), ("Johnny", ["c3"])])
        e.crosswalks[1].type = Self.crm  // c1 (updated 10) and c2 (updated 30) are both CRM
        let lud = SurvivorshipRules(mappings: [
            SurvivorshipMapping(attribute: "FirstName", strategy: .sourceSystem, sourcesUriOrder: [Self.crm])
        ])
        var a = e
        lud.apply(to: &a)
        #expect(a.attributes[0].values.filter(\.ov).map(\.id) == ["v1"], "LUD among the CRM crosswalks")
        let oldest = SurvivorshipRules(mappings: [
            SurvivorshipMapping(
                attribute: "FirstName", strategy: .sourceSystem, sourcesUriOrder: [Self.crm], fallback: .oldestValue)
        ])
        var b = e
        oldest.apply(to: &b)
        #expect(b.attributes[0].values.filter(\.ov).map(\.id) == ["v1"], "c2 was created first")
        let minimum = SurvivorshipRules(mappings: [
            SurvivorshipMapping(
                attribute: "FirstName", strategy: .sourceSystem, sourcesUriOrder: [Self.crm], fallback: .minValue)
        ])
        var c = e
        minimum.apply(to: &c)
        #expect(c.attributes[0].values.filter(\.ov).map(\.id) == ["v1"], "John < Jon; Johnny (WEB) is not a candidate")
    }

    @Test func frequencyPicksTheValueMostCrosswalksContribute() {
        let m = SurvivorshipMapping(attribute: "FirstName", strategy: .frequency)
        #expect(ov(m, [("Jon", ["c1", "c3"]), ("John", ["c2"])]) == ["Jon"])
        #expect(ov(m, [("Jon", ["c1"]), ("John", ["c2"])]) == ["John"], "tie: LUD (c2 is the latest)")
        let f = SurvivorshipMapping(attribute: "FirstName", strategy: .frequency, fallback: .sourceSystem)
        var withOrder = f
        withOrder.sourcesUriOrder = [Self.crm]
        #expect(ov(withOrder, [("Jon", ["c1"]), ("John", ["c2"])]) == ["Jon"], "tie: SRC_SYS")
    }

    @Test func oldestValuePicksTheOldestCrosswalk() {
        let m = SurvivorshipMapping(attribute: "FirstName", strategy: .oldestValue)
        #expect(ov(m, [("Jon", ["c1"]), ("John", ["c2"]), ("Johnny", ["c3"])]) == ["John"])
        #expect(ov(m, [("Jon", ["c1"]), ("Johnny", ["c3"])]) == ["Johnny"])
    }

    @Test func minAndMaxCompareNumbersDatesAndText() {
        let min = SurvivorshipMapping(attribute: "FirstName", strategy: .minValue)
        let max = SurvivorshipMapping(attribute: "FirstName", strategy: .maxValue)
        #expect(ov(min, [("10", ["c1"]), ("9", ["c2"]), ("9.5", ["c3"])]) == ["9"], "numeric, not text order")
        #expect(ov(max, [("10", ["c1"]), ("9", ["c2"]), ("9.5", ["c3"])]) == ["10"])
        #expect(ov(min, [("1980-05-01", ["c1"]), ("1979-12-31", ["c2"])]) == ["1979-12-31"])
        #expect(
            ov(max, [("2020-01-01T10:00:00Z", ["c1"]), ("2020-01-01T09:00:00-02:00", ["c2"])]) == [
                "2020-01-01T09:00:00-02:00"
            ])
        #expect(
            ov(min, [("beta", ["c1"]), ("Alpha", ["c2"]), ("alpha", ["c3"])]) == ["Alpha"], "folded text, then raw")
        #expect(ov(max, [("beta", ["c1"]), ("Alpha", ["c2"])]) == ["beta"])
        #expect(ov(max, [("12", ["c1"]), ("x", ["c2"])]) == ["x"], "not all numbers: text")
    }

    @Test func aggregationMakesEveryValueOperational() {
        let m = SurvivorshipMapping(attribute: "FirstName", strategy: .aggregation)
        #expect(ov(m, [("Jon", ["c1"]), ("John", ["c2"]), ("Johnny", ["c3"])]) == ["Jon", "John", "Johnny"])
    }

    @Test func nestedSubValuesFollowTheirValue() {
        var e = makeEntity(
            "e", nested: ["Address": [["City": "Austin"], ["City": "Boston"]]],
            sources: [Source(id: "c1", updated: 10), Source(id: "c2", type: Self.erp, updated: 5)])
        e.attributes[0].values[1].sources = ["c2"]
        SurvivorshipRules(mappings: [
            SurvivorshipMapping(attribute: "Address", strategy: .sourceSystem, sourcesUriOrder: [Self.erp])
        ]).apply(to: &e)
        let values = e.attributes[0].values
        #expect(values.map(\.ov) == [false, true])
        guard case .nested(let subs) = values[1].content, case .nested(let loserSubs) = values[0].content else {
            Issue.record("expected nested values")
            return
        }
        #expect(subs.allSatisfy { $0.values.allSatisfy(\.ov) })
        #expect(loserSubs.allSatisfy { $0.values.allSatisfy { !$0.ov } })
        // MinValue cannot order nested values: the fallback decides (LUD: c1).
        SurvivorshipRules(mappings: [SurvivorshipMapping(attribute: "Address", strategy: .minValue)]).apply(to: &e)
        #expect(e.attributes[0].values.map(\.ov) == [true, false])
    }

    @Test func mappingsNameAttributesByShortNameOrURI() {
        let rules = SurvivorshipRules(mappings: [
            SurvivorshipMapping(attribute: individualURI + "/attributes/FirstName", strategy: .aggregation)
        ])
        #expect(rules.mapping(for: "FirstName")?.strategy == .aggregation)
        #expect(rules.mapping(for: "LastName") == nil)
    }

    /// Without mappings the rules are exactly today's `Survivorship.applyLastUpdateWins`, on entities built
    /// by the ingest path from generated records posted through several crosswalks.
    @Test func lastUpdateWinsIsTodaysRule() throws {
        let records = Array(SampleSet.default.entities.prefix(300))
        let ingestor = EntityIngestor(schema: Demo.schema)
        var ids = IDGenerator(seed: 5)
        var rng = SplitMix(seed: 9)
        var compared = 0
        for chunk in stride(from: 0, to: records.count - 3, by: 3) {
            // Post three records' values into one entity through three crosswalks, in random update order.
            var entity: Entity?
            for k in 0..<3 {
                let r = records[chunk + k]
                let input = EntityInput(
                    type: r.type,
                    attributes: r.attributes.map { InputAttribute(name: $0.name, values: $0.values.map(\.content)) },
                    crosswalks: [
                        InputCrosswalk(
                            type: r.crosswalks[0].type, value: r.crosswalks[0].value,
                            updateDate: Int64(rng.next() % 4))
                    ])
                entity = try ingestor.apply(
                    input, to: entity, newEntityId: "M\(chunk)", now: Int64(100 + k), user: "t", ids: &ids, at: .root
                ).entity
            }
            var expected = entity!
            var actual = entity!
            for ai in expected.attributes.indices {
                for vi in expected.attributes[ai].values.indices {
                    expected.attributes[ai].values[vi].setOperational(vi % 2 == 0)
                    actual.attributes[ai].values[vi].setOperational(vi % 3 == 0)
                }
            }
            Survivorship.applyLastUpdateWins(to: &expected)
            SurvivorshipRules.lastUpdateWins.apply(to: &actual)
            #expect(actual == expected)
            compared += 1
        }
        #expect(compared > 90)
    }
}

enum SurvivorshipRulesName {
    static func short(_ attribute: String) -> String {
        attribute.split(separator: "/").last.map(String.init) ?? attribute
    }
}
