import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

struct ConfigurationReaderTests {
    static let groupURI = "configuration/entityTypes/Individual/matchGroups/G"

    /// Reads `{"matchGroups": [group]}` (or any entity-type fragment) against the demo Individual type.
    func read(_ json: String) -> (CompiledMatching, [JSONShapeIssue]) {
        let value = try! JSONParser.parse(json)
        let issues = JSONShapeIssues()
        var r = JSONObjectReader(value, at: JSONPath.root + "entityTypes" + 0, issues: issues)!
        let m = MatchConfigurationReader.read(&r, entityType: Demo.individual, sources: Demo.schema.sources)
        r.finish()
        return (CompiledMatching(m, entityType: Demo.individual), issues.issues)
    }

    func group(_ rule: String, type: String = "automatic", extra: String = "") -> String {
        #"{"matchGroups": [{"uri": "\#(Self.groupURI)", "type": "\#(type)", "rule": \#(rule)\#(extra)}]}"#
    }

    @Test func theDemoRulesAreValid() {
        let (m, issues) = Demo.matching()
        #expect(issues.isEmpty, "\(issues)")
        #expect(m.groups.map(\.type) == [.automatic, .automatic, .suspect, .negative])
        #expect(m.survivorship.mappings.count == 6)
        #expect(!m.engine.isEmpty)
    }

    @Test func readsTheRuleLanguage() {
        let (m, issues) = read(
            group(
                #"{"and": {"exact": ["configuration/entityTypes/Individual/attributes/Email"], "fuzzy": ["LastName"]}, "#
                    + #""or": {"exact": ["Address.PostalCode", "Phone/attributes/Number"], "#
                    + #""and": [{"exact": ["BirthDate"]}, {"equals": [{"attribute": "Gender", "value": "Female"}]}]}}"#,
                extra: #", "label": "L", "fuzzyThreshold": 0.85"#))
        #expect(issues.isEmpty, "\(issues)")
        guard let g = m.groups.first else { return }
        #expect(g.label == "L")
        #expect(g.fuzzyThreshold == 0.85)
        #expect(
            g.rule.description
                == "(exact(Email) and fuzzy(LastName)) and (exact(Address.PostalCode) or exact(Phone.Number) or "
                + "(exact(BirthDate) and equals(Gender=Female)))")
    }

    @Test func orArraysAreBranchesOfAndedObjects() {
        let (m, issues) = read(group(#"{"or": [{"exact": ["Email", "BirthDate"]}, {"fuzzy": ["LastName"]}]}"#))
        #expect(issues.isEmpty, "\(issues)")
        #expect(m.groups.first?.rule.description == "exact(Email, BirthDate) or fuzzy(LastName)")
    }

    @Test func negativeGroupsNeedNoTokens() {
        let (m, issues) = read(group(#"{"notExactSame": ["Identifiers.ID"]}"#, type: "negative"))
        #expect(issues.isEmpty, "\(issues)")
        #expect(m.groups.first?.type == .negative)
    }

    /// (entity-type fragment, path of the error, part of its message).
    @Test(arguments: [
        (#"{"exact": ["Emial"]}"#, "entityTypes[0].matchGroups[0].rule.exact[0]", "did you mean 'Email'"),
        (#"{"exact": ["Address"]}"#, "entityTypes[0].matchGroups[0].rule.exact[0]", "'Address.AddressType'"),
        (#"{"exact": ["Address.Zip"]}"#, "entityTypes[0].matchGroups[0].rule.exact[0]", "no sub-attribute 'Zip'"),
        (#"{"exact": ["Email.Domain"]}"#, "entityTypes[0].matchGroups[0].rule.exact[0]", "not a Nested attribute"),
        (
            #"{"exact": ["configuration/entityTypes/Organization/attributes/Name"]}"#,
            "entityTypes[0].matchGroups[0].rule.exact[0]", "not an attribute of"
        ),
        (#"{"exact": []}"#, "entityTypes[0].matchGroups[0].rule.exact", "non-empty array"),
        (#"{"exact": "Email"}"#, "entityTypes[0].matchGroups[0].rule.exact", "non-empty array"),
        (#"{"exakt": ["Email"]}"#, "entityTypes[0].matchGroups[0].rule.exakt", "did you mean 'exact'"),
        (#"{"similar": ["Email"]}"#, "entityTypes[0].matchGroups[0].rule.similar", "unknown operator"),
        (#"{}"#, "entityTypes[0].matchGroups[0].rule", "at least one operator"),
        (#"{"exactOrNull": ["Email"]}"#, "entityTypes[0].matchGroups[0].rule.exactOrNull", "yields no match token"),
        (
            #"{"or": {"exact": ["Email"], "exactOrNull": ["BirthDate"]}}"#,
            "entityTypes[0].matchGroups[0].rule.or.exactOrNull[0]", "yields no match token"
        ),
        (
            #"{"or": [{"exact": ["Email"]}, {"exactOrAllNull": ["BirthDate"]}]}"#,
            "entityTypes[0].matchGroups[0].rule.or[1].exactOrAllNull", "yields no match token"
        ),
        (
            #"{"equals": [{"attribute": "Gender"}]}"#, "entityTypes[0].matchGroups[0].rule.equals[0].value",
            "required key 'value'"
        ),
        (
            #"{"equals": [{"attribute": "Gender", "value": "F", "op": "x"}]}"#,
            "entityTypes[0].matchGroups[0].rule.equals[0].op", "unknown key 'op'"
        ),
        (#"{"and": []}"#, "entityTypes[0].matchGroups[0].rule.and", "at least one rule object"),
        (#"{"and": "exact"}"#, "entityTypes[0].matchGroups[0].rule.and", "expected a rule object"),
    ])
    func ruleErrors(rule: String, path: String, message: String) {
        let (_, issues) = read(group(rule))
        #expect(
            issues.contains { $0.path.description == path && $0.message.contains(message) },
            "expected \(path): …\(message)…, got \(issues)")
    }

    @Test(arguments: [
        (
            #"{"matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "relevance_based", "rule": {"exact": ["Email"]}}]}"#,
            "entityTypes[0].matchGroups[0].type", "is not one of"
        ),
        (
            #"{"matchGroups": [{"uri": "G", "type": "automatic", "rule": {"exact": ["Email"]}}]}"#,
            "entityTypes[0].matchGroups[0].uri", "must look like"
        ),
        (
            #"{"matchGroups": [{"type": "automatic", "rule": {"exact": ["Email"]}}]}"#,
            "entityTypes[0].matchGroups[0].uri", "required key 'uri'"
        ),
        (
            #"{"matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "automatic"}]}"#,
            "entityTypes[0].matchGroups[0].rule", "required key 'rule'"
        ),
        (
            #"{"matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "automatic", "rule": {"exact": ["Email"]}, "useOvOnly": true}]}"#,
            "entityTypes[0].matchGroups[0].useOvOnly", "unknown key"
        ),
        (
            #"{"matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "automatic", "rule": {"fuzzy": ["Email"]}, "fuzzyThreshold": 1.5}]}"#,
            "entityTypes[0].matchGroups[0].fuzzyThreshold", "out of range"
        ),
        (
            #"{"matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "automatic", "rule": {"exact": ["Email"]}, "fuzzyThreshold": 0.8}]}"#,
            "entityTypes[0].matchGroups[0].fuzzyThreshold", "no fuzzy comparison"
        ),
        (
            #"{"matchGroups": [{"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "automatic", "rule": {"exact": ["Email"]}}, {"uri": "configuration/entityTypes/Individual/matchGroups/G", "type": "suspect", "rule": {"exact": ["Email"]}}]}"#,
            "entityTypes[0].matchGroups[1].uri", "duplicate match group"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "FirstName", "survivorshipStrategy": "Newest"}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].survivorshipStrategy", "is not one of"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "FirstName"}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].survivorshipStrategy", "required key"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "Nickname", "survivorshipStrategy": "LUD"}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].attribute", "no attribute 'Nickname'"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "Address.City", "survivorshipStrategy": "LUD"}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].attribute", "sub-values follow"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "FirstName", "survivorshipStrategy": "SRC_SYS"}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].sourcesUriOrder", "required for SRC_SYS"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "FirstName", "survivorshipStrategy": "SRC_SYS", "sourcesUriOrder": ["configuration/sources/CRN"]}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].sourcesUriOrder[0]",
            "did you mean 'configuration/sources/CRM'"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "FirstName", "survivorshipStrategy": "LUD", "sourcesUriOrder": ["configuration/sources/CRM"]}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[0].sourcesUriOrder", "only used by SRC_SYS"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "mapping": [{"attribute": "FirstName", "survivorshipStrategy": "LUD"}, {"attribute": "configuration/entityTypes/Individual/attributes/FirstName", "survivorshipStrategy": "Frequency"}]}]}"#,
            "entityTypes[0].survivorshipGroups[0].mapping[1].attribute", "mapped twice"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/a", "mapping": []}, {"uri": "configuration/entityTypes/Individual/survivorshipGroups/b", "mapping": []}]}"#,
            "entityTypes[0].survivorshipGroups", "mark exactly one as default"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/a", "default": true, "mapping": []}, {"uri": "configuration/entityTypes/Individual/survivorshipGroups/b", "mapping": []}]}"#,
            "entityTypes[0].survivorshipGroups[1]", "only the default survivorship group"
        ),
        (
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/a", "mapping": [], "roles": []}]}"#,
            "entityTypes[0].survivorshipGroups[0].roles", "unknown key"
        ),
    ])
    func groupErrors(json: String, path: String, message: String) {
        let (_, issues) = read(json)
        #expect(
            issues.contains { $0.path.description == path && $0.message.contains(message) },
            "expected \(path): …\(message)…, got \(issues)")
    }

    @Test func survivorshipMappingsAreRead() {
        let (m, issues) = read(
            #"{"survivorshipGroups": [{"uri": "configuration/entityTypes/Individual/survivorshipGroups/d", "default": true, "mapping": ["#
                + #"{"attribute": "configuration/entityTypes/Individual/attributes/FirstName", "survivorshipStrategy": "SRC_SYS", "#
                + #""sourcesUriOrder": ["configuration/sources/ERP", "configuration/sources/CRM"], "fallbackStrategy": "Frequency"}, "#
                + #"{"attribute": "Phone", "survivorshipStrategy": "Aggregation"}]}]}"#)
        #expect(issues.isEmpty, "\(issues)")
        #expect(
            m.survivorship.mapping(for: "FirstName")
                == SurvivorshipMapping(
                    attribute: "FirstName", strategy: .sourceSystem,
                    sourcesUriOrder: ["configuration/sources/ERP", "configuration/sources/CRM"], fallback: .frequency))
        #expect(m.survivorship.mapping(for: "Phone")?.strategy == .aggregation)
    }

    @Test func noMatchConfigurationMeansNoGroupsAndLUD() {
        let (m, issues) = read("{}")
        #expect(issues.isEmpty)
        #expect(m.engine.isEmpty)
        #expect(m.survivorship.mappings.isEmpty)
    }

    /// Once the demo configuration declares match groups, they must be the documented ones.
    @Test func theDemoConfigurationUsesTheDocumentedRules() {
        let types = Demo.tenant["entityTypes"]?.arrayValue ?? []
        guard let individual = types.first(where: { $0["uri"]?.stringValue == individualURI }),
            let groups = individual["matchGroups"]
        else { return }  // not copied in yet
        #expect(stripOffsets(groups) == stripOffsets(Demo.rulesJSON["matchGroups"]!))
        if let survivorship = individual["survivorshipGroups"] {
            #expect(stripOffsets(survivorship) == stripOffsets(Demo.rulesJSON["survivorshipGroups"]!))
        }
    }

    private func stripOffsets(_ v: JSONValue) -> JSONValue {
        switch v {
        case .array(let a): return .array(a.map(stripOffsets))
        case .object(let members):
            return .object(members.map { JSONMember(key: $0.key, value: stripOffsets($0.value)) })
        default: return v
        }
    }
}
