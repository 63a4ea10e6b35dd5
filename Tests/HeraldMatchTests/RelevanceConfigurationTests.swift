import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

/// Reading comparisons with options and relevance groups, and the errors a user gets.
struct RelevanceConfigurationTests {
    let reader = ConfigurationReaderTests()
    static let uri = "configuration/entityTypes/Individual/matchGroups/G"

    func relevance(_ comparisons: String, thresholds: String = #"{"merge": 0.8, "potentialMatch": 0.5}"#, extra: String = "")
        -> String
    {
        #"{"matchGroups": [{"uri": "\#(Self.uri)", "type": "relevance", "comparisons": \#(comparisons), "thresholds": \#(thresholds)\#(extra)}]}"#
    }

    @Test func readsComparisonsWithOptions() {
        let (m, issues) = reader.read(
            reader.group(
                #"{"fuzzy": {"attributes": ["FirstName", "LastName"], "anyOrder": true}, "#
                    + #""similarCode": {"attributes": ["Identifiers.ID"], "minLength": 6}, "similarDate": ["BirthDate"]}"#))
        #expect(issues.isEmpty, "\(issues)")
        #expect(
            m.groups.first?.rule.description
                == "fuzzy(FirstName, LastName; any order) and similarCode(Identifiers.ID; min length 6) and similarDate(BirthDate)")
    }

    @Test func anOrObjectSplitsOptionsPerAttributeButKeepsAnyOrderTogether() {
        let (m, issues) = reader.read(
            reader.group(
                #"{"or": {"similarCode": {"attributes": ["Identifiers.ID", "Address.PostalCode"], "minLength": 5}, "#
                    + #""exact": {"attributes": ["Address.AddressLine1", "Address.AddressLine2"], "anyOrder": true}}}"#))
        #expect(issues.isEmpty, "\(issues)")
        #expect(
            m.groups.first?.rule.description
                == "similarCode(Identifiers.ID; min length 5) or similarCode(Address.PostalCode; min length 5) or "
                + "exact(Address.AddressLine1, Address.AddressLine2; any order)")
    }

    @Test(arguments: [
        (
            #"{"similarDate": ["LastName"]}"#, "entityTypes[0].matchGroups[0].rule.similarDate",
            "similarDate compares dates; 'LastName' is String"
        ),
        (
            #"{"fuzzy": {"attributes": ["FirstName"], "anyOrder": true}}"#, "entityTypes[0].matchGroups[0].rule.fuzzy.anyOrder",
            "compares 2 or 3 attributes"
        ),
        (
            #"{"fuzzy": {"attributes": ["FirstName", "BirthDate"], "anyOrder": true}}"#, "entityTypes[0].matchGroups[0].rule.fuzzy",
            "need the same data type"
        ),
        (
            #"{"fuzzy": {"attributes": ["FirstName"], "aliases": "nope"}}"#, "entityTypes[0].matchGroups[0].rule.fuzzy.aliases",
            "no alias table 'nope'"
        ),
        (
            #"{"similarCode": {"attributes": ["Identifiers.ID"], "minLength": 0}}"#,
            "entityTypes[0].matchGroups[0].rule.similarCode.minLength", "out of range"
        ),
        (
            #"{"exact": {"attributes": ["Email"], "anyOrdr": true}}"#, "entityTypes[0].matchGroups[0].rule.exact.anyOrdr",
            "did you mean 'anyOrder'"
        ),
        (#"{"exact": {"anyOrder": true}}"#, "entityTypes[0].matchGroups[0].rule.exact.attributes", "required key 'attributes'"),
    ])
    func optionErrors(rule: String, path: String, message: String) {
        let (_, issues) = reader.read(reader.group(rule))
        #expect(
            issues.contains { $0.path.description == path && $0.message.contains(message) },
            "\(issues.map(\.description))")
    }

    @Test func readsARelevanceGroup() {
        let (m, issues) = reader.read(
            relevance(
                #"[{"rule": {"fuzzy": {"attributes": ["FirstName", "LastName"], "anyOrder": true}}, "weight": 4, "mismatchWeight": 2, "label": "names"},"#
                    + #" {"rule": {"similarDate": ["BirthDate"]}, "weight": 3},"#
                    + #" {"rule": {"exactOrNull": ["Gender"]}, "weight": 1}]"#, extra: #", "fuzzyThreshold": 0.88"#))
        #expect(issues.isEmpty, "\(issues)")
        let g = try! #require(m.groups.first)
        #expect(g.type == .relevance && g.fuzzyThreshold == 0.88)
        let r = try! #require(g.relevance)
        #expect(r.comparisons.map(\.label) == ["names", "similarDate(BirthDate)", "exactOrNull(Gender)"])
        #expect(r.comparisons.map(\.weight) == [4, 3, 1] && r.comparisons[0].mismatchWeight == 2)
        #expect(r.mergeThreshold == 0.8 && r.potentialMatchThreshold == 0.5)
        #expect(g.rule.description == "fuzzy(FirstName, LastName; any order) or similarDate(BirthDate)", "tokens: the tokenable ones")
        let (n, more) = reader.read(
            relevance(
                #"[{"rule": {"exact": ["Email"]}, "weight": 3}, {"rule": {"exact": ["Address.PostalCode"]}, "weight": 1, "findsCandidates": false}]"#))
        #expect(more.isEmpty, "\(more)")
        #expect(n.groups.first?.rule.description == "exact(Email)", "the postal code only scores")
    }

    @Test(arguments: [
        (#"[{"rule": {"exact": ["Email"]}}]"#, #"{"merge": 0.8}"#, "entityTypes[0].matchGroups[0].comparisons[0].weight", "required key 'weight'"),
        (#"[{"rule": {"exact": ["Email"]}, "weight": 0}]"#, #"{"merge": 0.8}"#, "entityTypes[0].matchGroups[0].comparisons[0].weight", "more than 0"),
        (#"[{"rule": {"exact": ["Email"]}, "weight": 1}]"#, #"{}"#, "entityTypes[0].matchGroups[0].thresholds.merge", "give 'merge', 'potentialMatch' or both"),
        (
            #"[{"rule": {"exact": ["Email"]}, "weight": 1}]"#, #"{"merge": 0.5, "potentialMatch": 0.7}"#,
            "entityTypes[0].matchGroups[0].thresholds.potentialMatch", "above the merge threshold"
        ),
        (
            #"[{"rule": {"exact": ["Email"]}, "weight": 1}, {"rule": {"exactOrNull": ["BirthDate"]}, "weight": 3}]"#,
            #"{"merge": 0.7}"#, "entityTypes[0].matchGroups[0].comparisons", "enough to reach the threshold 0.7 alone"
        ),
        (#"[{"rule": {"exact": ["Email"]}, "weight": 1}]"#, #"{"merge": 1.5}"#, "entityTypes[0].matchGroups[0].thresholds.merge", "out of range"),
        (#"[]"#, #"{"merge": 0.8}"#, "entityTypes[0].matchGroups[0].comparisons", "at least one comparison"),
        (
            #"[{"rule": {"exact": ["Email"]}, "weight": 1}, {"rule": {"exact": ["Address.PostalCode"]}, "weight": 3, "findsCandidates": false}]"#,
            #"{"merge": 0.7}"#, "entityTypes[0].matchGroups[0].comparisons", "\"findsCandidates\": false) weigh 3 of 4"
        ),
    ])
    func relevanceErrors(comparisons: String, thresholds: String, path: String, message: String) {
        let (_, issues) = reader.read(relevance(comparisons, thresholds: thresholds))
        #expect(
            issues.contains { $0.path.description == path && $0.message.contains(message) },
            "\(issues.map(\.description))")
    }

    @Test func aRelevanceGroupHasNoRule() {
        let (_, issues) = reader.read(
            relevance(#"[{"rule": {"exact": ["Email"]}, "weight": 1}]"#, extra: #", "rule": {"exact": ["Email"]}"#))
        #expect(issues.contains { $0.path.description == "entityTypes[0].matchGroups[0].rule" && $0.message.contains("'comparisons'") })
    }
}
