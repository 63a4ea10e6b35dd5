import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

struct TokenTests {
    static let demo = Demo.matching().0.engine

    @Test func tokensArePrefixedByTheirGroupAndReadable() {
        let e = makeEntity(
            "a",
            ["FirstName": ["John"], "LastName": ["Smith"], "Email": ["John.Smith@X.com"], "BirthDate": ["1980-01-02"]],
            nested: ["Address": [["PostalCode": "10001"]], "Phone": [["Number": "(555) 123-4567"]]])
        let tokens = TokenTests.demo.tokens(for: e)
        #expect(tokens.contains("Individual/EmailAndBirthDate|Email=johnsmithxcom"))
        #expect(tokens.contains("Individual/NameBirthDateAndPostalCode|BirthDate=1980-01-02|Address.PostalCode=10001"))
        #expect(
            tokens.contains(
                "Individual/NameBirthDateAndPostalCode|FirstName~JN|LastName~SM0|BirthDate=1980-01-02|Address.PostalCode=10001"
            ))
        #expect(tokens.contains("Individual/SimilarNameAndContact|Phone.Number=5551234567"))
        #expect(tokens.contains("Individual/SimilarNameAndContact|FirstName~JN|LastName~SM0|Address.PostalCode=10001"))
        #expect(!tokens.contains { $0.hasPrefix("Individual/DifferentIdentifiers") }, "negative groups need no tokens")
        #expect(tokens.count == 7, "1 + 2 + 4: \(tokens.sorted())")
    }

    @Test func tokensAreStableAndIgnoreValueOrderAndIds() {
        let a = makeEntity(
            "a", ["FirstName": ["John", "Jon"], "LastName": ["Smith"], "Email": ["a@x.com", "b@y.com"]],
            nested: ["Phone": [["Number": "555 123 4567"], ["Number": "555 765 4321"]]])
        let b = makeEntity(
            "zzz", ["Email": ["B@Y.COM", "a@x.com"], "LastName": ["Smith"], "FirstName": ["Jon", "John"]],
            nested: ["Phone": [["Number": "555-765-4321"], ["Number": "(555) 123 4567"]]])
        #expect(TokenTests.demo.tokens(for: a) == TokenTests.demo.tokens(for: a))
        #expect(TokenTests.demo.tokens(for: a) == TokenTests.demo.tokens(for: b))
        #expect(!TokenTests.demo.tokens(for: a).isEmpty)
    }

    @Test func aRuleThatCannotHoldYieldsNoToken() {
        // No email: EmailAndBirthDate cannot hold; no birth date: NameBirthDateAndPostalCode cannot either.
        let e = makeEntity("a", ["FirstName": ["John"], "LastName": ["Smith"]])
        let byGroup = TokenTests.demo.tokensByGroup(for: e)
        #expect(byGroup.values.allSatisfy { $0.isEmpty }, "\(byGroup)")
    }

    @Test func exactOrAllNullYieldsANoValuePart() {
        let e = engine(.and([.exact([ref("Email")]), .exactOrAllNull([ref("BirthDate")])]))
        #expect(e.tokens(for: makeEntity("a", ["Email": ["a@x.com"]])) == ["Individual/G|Email=axcom|BirthDate#"])
        #expect(
            e.tokens(for: makeEntity("a", ["Email": ["a@x.com"], "BirthDate": ["1980-01-02"]]))
                == ["Individual/G|Email=axcom|BirthDate=1980-01-02"])
    }

    @Test func productsAreCapped() {
        let many = (0..<40).map { "a\($0)@x.com" }
        let phones = (0..<30).map { ["Number": "555000\(1000 + $0)"] }
        let rule = MatchRule.and([.exact([ref("Email")]), .exact([ref("Phone.Number")]), .fuzzy([ref("LastName")])])
        let e = engine(rule)
        let tokens = e.tokens(for: makeEntity("a", ["Email": many, "LastName": ["Smith"]], nested: ["Phone": phones]))
        #expect(tokens.count <= MatchEngine.maxTokensPerGroup)
        #expect(!tokens.isEmpty)
        // Email (1) × phones (3) × last name (1) = 3 keys fit: nothing is left out.
        let small = e.tokens(
            for: makeEntity(
                "a", ["Email": ["a@x.com"], "LastName": ["Smith"]], nested: ["Phone": Array(phones.prefix(3))]))
        #expect(small.count == 6, "3 without the fuzzy part, 3 with it: \(small.sorted())")
    }

    @Test func longValuesAreCutInTokens() {
        let long = String(repeating: "x", count: 500)
        let tokens = engine(.exact([ref("Email")])).tokens(for: makeEntity("a", ["Email": [long]]))
        #expect(tokens == ["Individual/G|Email=" + String(repeating: "x", count: MatchEngine.maxValueLengthInToken)])
    }

    /// Completeness on generated data: every pair for which a group holds shares a token of that group,
    /// and most records of the same person share a token of some group (the generator changes or drops
    /// the email of some duplicates, so email alone is not enough).
    @Test func recordsOfTheSamePersonShareTokens() {
        let sample = SampleSet.default
        let engine = TokenTests.demo
        let byGroup = sample.entities.map { engine.tokensByGroup(for: $0) }
        var byPerson: [Int: [Int]] = [:]
        for (i, e) in sample.entities.enumerated() { byPerson[sample.truth[e.id]!, default: []].append(i) }
        var truePairs = 0
        var sharing = 0
        for members in byPerson.values where members.count > 1 {
            for (k, i) in members.enumerated() {
                for j in members[(k + 1)...] {
                    truePairs += 1
                    let verdict = engine.evaluate(sample.entities[i], sample.entities[j])
                    if byGroup[i].contains(where: { g, t in !t.isDisjoint(with: byGroup[j][g] ?? []) }) { sharing += 1 }
                    for g in verdict.automatic + verdict.suspect {
                        #expect(!byGroup[i][g]!.isDisjoint(with: byGroup[j][g]!), "\(g) holds without a shared token")
                    }
                }
            }
        }
        #expect(truePairs > 300)
        #expect(Double(sharing) / Double(truePairs) > 0.95, "\(sharing) of \(truePairs) duplicate pairs share a token")
    }

    @Test func tokenCountsPerEntity() {
        let counts = SampleSet.default.entities.map { TokenTests.demo.tokens(for: $0).count }
        let mean = Double(counts.reduce(0, +)) / Double(counts.count)
        print("tokens per entity: min \(counts.min()!), mean \(mean), max \(counts.max()!)")
        #expect(counts.max()! <= 3 * MatchEngine.maxTokensPerGroup)
        #expect(counts.min()! >= 1)
    }
}

struct SymmetryTests {
    /// evaluate(a, b) == evaluate(b, a) on generated pairs: every true pair and random ones.
    @Test func evaluateIsSymmetric() {
        let sample = SampleSet.default
        var engines = [Demo.matching().0.engine]
        // Also with the fuzzy comparisons on their own, at a low threshold, where ties are likelier.
        engines.append(
            MatchEngine(
                entityType: Demo.individual,
                groups: [
                    MatchGroup(
                        uri: individualURI + "/matchGroups/F", type: .suspect,
                        rule: .fuzzy([ref("FirstName"), ref("LastName")]), fuzzyThreshold: 0.7)
                ]))
        var rng = SplitMix(seed: 11)
        let n = sample.entities.count
        for engine in engines {
            let profiles = sample.entities.map { engine.profile($0) }
            for _ in 0..<5000 {
                let i = Int(rng.next() % UInt64(n)), j = Int(rng.next() % UInt64(n))
                #expect(engine.evaluate(profiles[i], profiles[j]) == engine.evaluate(profiles[j], profiles[i]))
            }
            // Neighbouring records in generation order share the first records of duplicated people.
            for i in 0..<(n - 1) {
                #expect(engine.evaluate(profiles[i], profiles[i + 1]) == engine.evaluate(profiles[i + 1], profiles[i]))
            }
        }
    }
}
