import HeraldConfig
import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

/// A tenant's own alias tables (`aliasTables`) and the shipped `englishGivenNames`, used by a fuzzy comparison.
struct AliasTableConfigurationTests {
    let base = ConfigurationTests()

    func tenant(aliasTables: String, comparison: String = #"{"fuzzy": {"attributes": ["FirstName"], "aliases": "mine"}}"#)
        -> String
    {
        #"""
        {"dataDirectory": "data", "tenants": [{"id": "t1", "aliasTables": \#(aliasTables),
          "entityTypes": [{"uri": "configuration/entityTypes/Individual", "attributes": [{"name": "FirstName"}, {"name": "Email"}],
            "matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "automatic",
                             "rule": {"exact": ["Email"], "and": \#(comparison)}}]}]}]}
        """#
    }

    func person(_ id: String, _ first: String) -> Entity {
        var e = Entity(id: id, type: "configuration/entityTypes/Individual", createdBy: "t", createdTime: 0)
        e.crosswalks = [Crosswalk(id: "c", type: "configuration/sources/CRM", value: id, createDate: 1, updateDate: 1)]
        e.attributes = [
            AttributeEntry(name: "FirstName", values: [AttributeValue(id: "f", content: .simple(first), sources: ["c"])]),
            AttributeEntry(name: "Email", values: [AttributeValue(id: "e", content: .simple("x@y.com"), sources: ["c"])]),
        ]
        return e
    }

    func engine(_ text: String) throws -> MatchEngine {
        let c = try base.parse(text)
        let t = c.tenants[0]
        let type = t.schema.entityType("Individual")!
        return CompiledMatching(t.matching[type.uri]!, entityType: type).engine
    }

    @Test func theTestTenantIsValid() {
        #expect(base.issues(tenant(aliasTables: #"[{"name": "mine", "groups": [["A", "B"]]}]"#)) == [])
    }

    @Test func aTenantTableExtendsTheShippedOne() throws {
        let e = try engine(tenant(aliasTables: #"[{"name": "mine", "extends": "englishGivenNames", "groups": [["Giovanni", "Gianni", "Nino"]]}]"#))
        #expect(e.evaluate(person("a", "Giovanni"), person("b", "Nino")).merges, "the tenant's own group")
        #expect(e.evaluate(person("a", "Margaret"), person("b", "Peggy")).merges, "the shipped groups it extends")
        #expect(!e.evaluate(person("a", "Margaret"), person("b", "Nino")).merges)
        #expect(!e.tokens(for: person("a", "Giovanni")).isDisjoint(with: e.tokens(for: person("b", "Gianni"))))
    }

    @Test func withoutExtendsOnlyTheTenantsGroupsCount() throws {
        let e = try engine(tenant(aliasTables: #"[{"name": "mine", "groups": [["Giovanni", "Nino"]]}]"#))
        #expect(e.evaluate(person("a", "Giovanni"), person("b", "Nino")).merges)
        #expect(!e.evaluate(person("a", "Margaret"), person("b", "Peggy")).merges)
    }

    @Test func theShippedTableNeedsNoConfiguration() throws {
        let e = try engine(
            tenant(aliasTables: "[]", comparison: #"{"fuzzy": {"attributes": ["FirstName"], "aliases": "englishGivenNames"}}"#))
        for (a, b) in [("William", "Bill"), ("Margaret", "Peggy"), ("Robert", "Bob"), ("Elizabeth", "Liz"), ("Richard", "Dick")] {
            #expect(e.evaluate(person("a", a), person("b", b)).merges, "\(a) / \(b)")
            #expect(!e.tokens(for: person("a", a)).isDisjoint(with: e.tokens(for: person("b", b))), "\(a) / \(b) share a token")
        }
        #expect(!e.evaluate(person("a", "William"), person("b", "Margaret")).merges)
    }

    @Test(arguments: [
        (#"[{"name": "englishGivenNames", "groups": [["A", "B"]]}]"#, "tenants[0].aliasTables[0].name", "is a shipped table"),
        (#"[{"name": "mine", "extends": "nope", "groups": [["A", "B"]]}]"#, "tenants[0].aliasTables[0].extends", "no alias table 'nope'"),
        (#"[{"name": "mine", "groups": []}]"#, "tenants[0].aliasTables[0].groups", "non-empty array of name groups"),
        (#"[{"name": "mine", "groups": [["A", 3]]}]"#, "tenants[0].aliasTables[0].groups[0][1]", "expected a name"),
        (#"[{"name": "mine", "groups": ["A"]}]"#, "tenants[0].aliasTables[0].groups[0]", "the canonical name first"),
        (#"[{"name": "a b", "groups": [["A"]]}]"#, "tenants[0].aliasTables[0].name", "may only contain"),
        (
            #"[{"name": "mine", "groups": [["A"]]}, {"name": "mine", "groups": [["B"]]}]"#, "tenants[0].aliasTables[1].name",
            "duplicate alias table"
        ),
    ])
    func errors(tables: String, path: String, message: String) {
        let issues = base.issues(tenant(aliasTables: tables))
        #expect(issues.contains { $0.hasPrefix(path + ":") && $0.contains(message) }, "\(issues)")
    }

    @Test func aRuleNamingAnUnknownTableSaysWhichExist() {
        let issues = base.issues(
            tenant(
                aliasTables: #"[{"name": "mine", "groups": [["A", "B"]]}]"#,
                comparison: #"{"fuzzy": {"attributes": ["FirstName"], "aliases": "mien"}}"#))
        #expect(issues.contains { $0.contains("rule.and.fuzzy.aliases") && $0.contains("did you mean 'mine'") }, "\(issues)")
    }
}

struct ShippedAliasTableTests {
    @Test func knowsCommonNicknames() {
        let t = AliasTable.englishGivenNames
        #expect(t.count > 2_000)
        #expect(t.areAliases("william", "bill") && t.areAliases("bill", "will") && t.areAliases("margaret", "peggy"))
        let bill = t.canonicalNames(of: "bill")
        #expect(bill.contains("robert") && bill.contains("william"), "a nickname stands for every name that lists it: \(bill)")
        #expect(!t.areAliases("william", "margaret"))
        #expect(t.canonicalNames(of: "zzzz").isEmpty)
    }
}
