import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

struct RuleOperatorTests {
    let email = ref("Email"), birth = ref("BirthDate"), first = ref("FirstName"), last = ref("LastName")

    @Test func exactComparesNormalisedValues() {
        let a = makeEntity("a", ["Email": ["John.Smith@X.com"]])
        #expect(holds(.exact([email]), a, makeEntity("b", ["Email": ["  JOHN.SMITH@x.COM "]])))
        #expect(!holds(.exact([email]), a, makeEntity("b", ["Email": ["jane@x.com"]])))
        #expect(!holds(.exact([email]), a, makeEntity("b", ["FirstName": ["John"]])), "no value never matches exactly")
        #expect(!holds(.exact([email]), makeEntity("a"), makeEntity("b")))
    }

    @Test func exactNeedsEveryListedAttribute() {
        let a = makeEntity("a", ["Email": ["a@x.com"], "BirthDate": ["1980-01-02"]])
        #expect(
            holds(.exact([email, birth]), a, makeEntity("b", ["Email": ["a@x.com"], "BirthDate": ["1980/01/02"]])))
        #expect(
            !holds(.exact([email, birth]), a, makeEntity("b", ["Email": ["a@x.com"], "BirthDate": ["1980-01-03"]])))
        #expect(!holds(.exact([email, birth]), a, makeEntity("b", ["Email": ["a@x.com"]])))
    }

    @Test func exactOnMultipleValuesNeedsOneInCommon() {
        let a = makeEntity("a", ["Email": ["a@x.com", "b@y.com"]])
        #expect(holds(.exact([email]), a, makeEntity("b", ["Email": ["c@z.com", "B@Y.COM"]])))
        #expect(!holds(.exact([email]), a, makeEntity("b", ["Email": ["c@z.com"]])))
    }

    @Test func subAttributeValuesComeFromAllNestedValues() {
        let a = makeEntity(
            "a",
            nested: [
                "Address": [
                    ["AddressType": "Home", "PostalCode": "10001"], ["AddressType": "Work", "PostalCode": "20002"],
                ]
            ])
        let b = makeEntity("b", nested: ["Address": [["AddressType": "Work", "PostalCode": "20002"]]])
        let c = makeEntity("c", nested: ["Address": [["AddressType": "Home", "PostalCode": "30003"]]])
        #expect(holds(.exact([ref("Address.PostalCode")]), a, b))
        #expect(!holds(.exact([ref("Address.PostalCode")]), a, c))
    }

    @Test(arguments: [
        ("(555) 123-4567", true), ("555-123-4567", true), ("555.123.4567", true), ("5551234567", true),
        ("+1 555 123 4567", false), ("555-123-4568", false),
    ])
    func phoneFormatsAfterNormalisation(other: String, expected: Bool) {
        let a = makeEntity("a", nested: ["Phone": [["Number": "555 123 4567"]]])
        let b = makeEntity("b", nested: ["Phone": [["Number": other]]])
        #expect(holds(.exact([ref("Phone.Number")]), a, b) == expected, "\(other)")
    }

    /// (a's birth date, b's birth date, exactOrNull, exactOrAllNull); nil: no value.
    @Test(
        arguments: [
            ("1980-01-02", "1980-01-02", true, true), ("1980-01-02", "19800102", true, true),
            ("1980-01-02", "1980-01-03", false, false), ("1980-01-02", nil, true, false),
            (nil, "1980-01-02", true, false),
            (nil, nil, true, true),
        ] as [(String?, String?, Bool, Bool)])
    func nullHandling(a: String?, b: String?, orNull: Bool, orAllNull: Bool) {
        let ea = makeEntity("a", a.map { ["BirthDate": [$0]] } ?? [:])
        let eb = makeEntity("b", b.map { ["BirthDate": [$0]] } ?? [:])
        #expect(holds(.exactOrNull([birth]), ea, eb) == orNull)
        #expect(holds(.exactOrAllNull([birth]), ea, eb) == orAllNull)
        #expect(holds(.exact([birth]), ea, eb) == (orNull && a != nil && b != nil))
    }

    @Test func anEmptyNormalisedValueIsNoValue() {
        let a = makeEntity("a", ["Email": ["---"]])
        #expect(holds(.exactOrAllNull([email]), a, makeEntity("b")))
        #expect(!holds(.exact([email]), a, makeEntity("b", ["Email": ["..."]])))
    }

    /// (a, b, fuzzy at 0.9): phonetic, Jaro-Winkler, case and diacritics; nicknames do not match.
    @Test(arguments: [
        ("Jon", "John", true), ("Smith", "Smyth", true), ("Thompson", "Tomson", true), ("Catherine", "Kathryn", true),
        ("Müller", "Mueller", true), ("JOSÉ", "jose", true), ("Stephen", "Steven", true), ("Johnson", "Jonhson", true),
        ("Bill", "William", false), ("Bob", "Robert", false), ("Peggy", "Margaret", false), ("Smith", "Jones", false),
        ("Mary Ann", "Ann Mary", true), ("Garcia", "Gracia", true), ("Lee", "Li", true), ("Kim", "Kelly", false),
    ])
    func fuzzy(a: String, b: String, expected: Bool) {
        let ea = makeEntity("a", ["LastName": [a]]), eb = makeEntity("b", ["LastName": [b]])
        #expect(holds(.fuzzy([last]), ea, eb) == expected, "\(a) / \(b)")
    }

    @Test func fuzzyThresholdIsConfigurable() {
        // MARTHA/MARHTA: Jaro-Winkler 0.961, different Metaphone codes (MR0, MRT).
        let a = makeEntity("a", ["FirstName": ["Martha"]]), b = makeEntity("b", ["FirstName": ["Marhta"]])
        #expect(holds(.fuzzy([first]), a, b, threshold: 0.95))
        #expect(!holds(.fuzzy([first]), a, b, threshold: 0.97))
    }

    @Test func fuzzyNeedsValuesOnBothSides() {
        #expect(!holds(.fuzzy([first]), makeEntity("a", ["FirstName": ["Ann"]]), makeEntity("b")))
    }

    @Test func fuzzyOnDatesComparesExactly() {
        let a = makeEntity("a", ["BirthDate": ["1980-01-02"]])
        #expect(!holds(.fuzzy([birth]), a, makeEntity("b", ["BirthDate": ["1980-01-03"]])))
        #expect(holds(.fuzzy([birth]), a, makeEntity("b", ["BirthDate": ["1980/01/02"]])))
    }

    @Test func notExactSame() {
        let ids = ref("Identifiers.ID")
        let a = makeEntity(
            "a", nested: ["Identifiers": [["Type": "SSN", "ID": "1234"], ["Type": "Loyalty", "ID": "LY1"]]])
        #expect(holds(.notExactSame([ids]), a, makeEntity("b", nested: ["Identifiers": [["ID": "9999"]]])))
        #expect(!holds(.notExactSame([ids]), a, makeEntity("b", nested: ["Identifiers": [["ID": "ly1"]]])))
        #expect(!holds(.notExactSame([ids]), a, makeEntity("b")), "no identifiers on one side: nothing contradicts")
    }

    @Test func equalsTestsBothEntitiesForAFixedValue() {
        let rule = MatchRule.equals([(ref("Gender"), "Female")])
        #expect(holds(rule, makeEntity("a", ["Gender": ["female"]]), makeEntity("b", ["Gender": ["FEMALE"]])))
        #expect(!holds(rule, makeEntity("a", ["Gender": ["Female"]]), makeEntity("b", ["Gender": ["Male"]])))
        #expect(!holds(rule, makeEntity("a", ["Gender": ["Male"]]), makeEntity("b", ["Gender": ["Male"]])))
    }

    @Test func andOrNesting() {
        let rule = MatchRule.and([.fuzzy([last]), .or([.exact([email]), .exact([ref("Address.PostalCode")])])])
        let a = makeEntity(
            "a", ["LastName": ["Smith"], "Email": ["s@x.com"]], nested: ["Address": [["PostalCode": "10001"]]])
        #expect(holds(rule, a, makeEntity("b", ["LastName": ["Smyth"], "Email": ["s@x.com"]])))
        #expect(
            holds(rule, a, makeEntity("b", ["LastName": ["Smyth"]], nested: ["Address": [["PostalCode": "10001"]]])))
        #expect(!holds(rule, a, makeEntity("b", ["LastName": ["Smyth"], "Email": ["t@x.com"]])))
        #expect(!holds(rule, a, makeEntity("b", ["LastName": ["Jones"], "Email": ["s@x.com"]])))
    }

    @Test func numbersCompareByValue() {
        let type = EntityTypeDefinition(
            uri: individualURI,
            attributes: [
                AttributeDefinition(name: "Score", uri: individualURI + "/attributes/Score", dataType: .number)
            ])
        let e = MatchEngine(
            entityType: type,
            groups: [MatchGroup(uri: individualURI + "/matchGroups/S", type: .automatic, rule: .exact([ref("Score")]))])
        #expect(e.evaluate(makeEntity("a", ["Score": ["12.50"]]), makeEntity("b", ["Score": ["+12.5"]])).merges)
        #expect(!e.evaluate(makeEntity("a", ["Score": ["12.50"]]), makeEntity("b", ["Score": ["125"]])).merges)
        // Without a schema every attribute is text: 12.50 and 12.5 differ.
        let untyped = MatchEngine(entityType: individualURI, groups: e.groups)
        #expect(!untyped.evaluate(makeEntity("a", ["Score": ["12.50"]]), makeEntity("b", ["Score": ["+12.5"]])).merges)
    }

    @Test func verdictCombinesGroups() {
        let e = MatchEngine(
            entityType: Demo.individual,
            groups: [
                MatchGroup(uri: individualURI + "/matchGroups/A", type: .automatic, rule: .exact([email])),
                MatchGroup(uri: individualURI + "/matchGroups/S", type: .suspect, rule: .fuzzy([last])),
                MatchGroup(uri: individualURI + "/matchGroups/N", type: .negative, rule: .notExactSame([birth])),
            ])
        let a = makeEntity("a", ["Email": ["a@x.com"], "LastName": ["Smith"], "BirthDate": ["1980-01-01"]])
        let same = e.evaluate(a, makeEntity("b", ["Email": ["a@x.com"], "LastName": ["Smyth"]]))
        #expect(
            same
                == MatchVerdict(
                    automatic: [individualURI + "/matchGroups/A"], suspect: [individualURI + "/matchGroups/S"]))
        #expect(same.merges && !same.isPotentialMatch)
        let suspect = e.evaluate(a, makeEntity("b", ["Email": ["b@x.com"], "LastName": ["Smyth"]]))
        #expect(!suspect.merges && suspect.isPotentialMatch)
        let forbidden = e.evaluate(
            a, makeEntity("b", ["Email": ["a@x.com"], "LastName": ["Smith"], "BirthDate": ["1990-01-01"]]))
        #expect(forbidden.negative && !forbidden.merges && !forbidden.isPotentialMatch)
        var other = makeEntity("b", ["Email": ["a@x.com"]])
        other.type = "configuration/entityTypes/Organization"
        #expect(e.evaluate(a, other) == MatchVerdict(), "types differ")
    }
}
