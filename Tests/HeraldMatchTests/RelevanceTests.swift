import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

/// The comparators for codes and dates, comparisons in any order, relevance groups and per-contributor
/// evaluation (docs/matching.md, "Comparisons with options" and "Relevance groups").
struct CodeAndDateComparatorTests {
    func rule(_ kind: Comparison.Kind, _ refs: [String], anyOrder: Bool = false, minLength: Int = 4, yearMonth: Bool = false)
        -> MatchRule
    {
        .compare(Comparison(kind, refs.map(ref), anyOrder: anyOrder, minLength: minLength, sameYearAndMonth: yearMonth))
    }

    func withID(_ id: String, _ value: String) -> Entity {
        makeEntity(id, nested: ["Identifiers": [["Type": "National ID", "ID": value]]])
    }

    @Test(arguments: [
        ("4173804", "4178304", true),  // two adjacent digits transposed
        ("4173804", "4173805", true),  // one digit substituted
        ("4173804", "4173804", true),
        ("2208", "2280", true),
        ("4173804", "4178305", false),  // a transposition and a substitution
        ("4173804", "1473804", true),  // transposition at the start
        ("4173804", "417380", false),  // a digit missing: another length
        ("123", "124", false),  // shorter than minLength 4: exact only
        ("123", "123", true),
        ("4173804", "4371804", false),  // two digits swapped, not adjacent
    ])
    func similarCode(a: String, b: String, similar: Bool) {
        let r = rule(.similarCode, ["Identifiers.ID"])
        let x = withID("a", a), y = withID("b", b)
        #expect(holds(r, x, y) == similar, "\(a) / \(b)")
        if similar {
            let e = engine(r)
            #expect(!e.tokens(for: x).isDisjoint(with: e.tokens(for: y)), "a similar pair shares a token: \(a) / \(b)")
        }
    }

    @Test func minLengthIsAParameter() {
        let x = withID("a", "41738"), y = withID("b", "41783")
        #expect(holds(rule(.similarCode, ["Identifiers.ID"], minLength: 5), x, y))
        #expect(!holds(rule(.similarCode, ["Identifiers.ID"], minLength: 6), x, y))
    }

    /// Every code one edit away from another shares a token with it (seeded random codes).
    @Test func everyOneEditPairSharesAToken() {
        let e = engine(rule(.similarCode, ["Identifiers.ID"]))
        var rng = IDGenerator(seed: 5)
        for _ in 0..<2_000 {
            let length = 4 + Int(rng.next() % 8)
            var digits = (0..<length).map { _ in UInt8(48 + rng.next() % 10) }
            let original = String(decoding: digits, as: UTF8.self)
            let i = Int(rng.next() % UInt64(length - 1))
            if rng.next() % 2 == 0 {
                digits.swapAt(i, i + 1)
            } else {
                digits[i] = UInt8(48 + (Int(digits[i]) - 48 + 1 + Int(rng.next() % 9)) % 10)
            }
            let edited = String(decoding: digits, as: UTF8.self)
            let x = withID("a", original), y = withID("b", edited)
            #expect(holds(rule(.similarCode, ["Identifiers.ID"]), x, y), "\(original) / \(edited)")
            #expect(!e.tokens(for: x).isDisjoint(with: e.tokens(for: y)), "\(original) / \(edited)")
        }
    }

    @Test(arguments: [
        ("1933-02-12", "1933-01-22", true, false),  // adjacent digits transposed (the pair)
        ("1933-02-12", "1933-12-02", true, false),  // day and month swapped
        ("1933-02-12", "1933-02-13", true, false),  // one digit off
        ("1933-02-12", "1983-02-12", true, false),  // one digit off in the year
        ("1933-02-12", "1933-02-25", false, true),  // two digits off: only the same year and month
        ("1933-02-12", "1934-03-12", false, false),
        ("1933-02-12", "19330212", true, true),  // the same date written otherwise
    ])
    func similarDate(a: String, b: String, similar: Bool, sameYearAndMonth: Bool) {
        let x = makeEntity("a", ["BirthDate": [a]]), y = makeEntity("b", ["BirthDate": [b]])
        #expect(holds(rule(.similarDate, ["BirthDate"]), x, y) == similar, "\(a) / \(b)")
        #expect(holds(rule(.similarDate, ["BirthDate"], yearMonth: true), x, y) == (similar || sameYearAndMonth))
        for yearMonth in [false, true] where similar || (yearMonth && sameYearAndMonth) {
            let e = engine(rule(.similarDate, ["BirthDate"], yearMonth: yearMonth))
            #expect(!e.tokens(for: x).isDisjoint(with: e.tokens(for: y)), "\(a) / \(b) share a token")
        }
    }

    @Test func fuzzyOnADateIsStillExact() {
        let x = makeEntity("a", ["BirthDate": ["1933-02-12"]]), y = makeEntity("b", ["BirthDate": ["1933-02-13"]])
        #expect(!holds(.fuzzy([ref("BirthDate")]), x, y))
        #expect(holds(rule(.similarDate, ["BirthDate"]), x, y))
    }
}

struct AnyOrderTests {
    let swapped = (
        makeEntity("a", ["FirstName": ["Gabrielle"], "LastName": ["Langer"]]),
        makeEntity("b", ["FirstName": ["Laznger"], "LastName": ["Gabrielle"]])
    )

    @Test func namesSwappedMatchOnlyInAnyOrder() {
        let inOrder = MatchRule.compare(Comparison(.fuzzy, [ref("FirstName"), ref("LastName")]))
        let anyOrder = MatchRule.compare(Comparison(.fuzzy, [ref("FirstName"), ref("LastName")], anyOrder: true))
        #expect(!holds(inOrder, swapped.0, swapped.1))
        #expect(holds(anyOrder, swapped.0, swapped.1))
        #expect(holds(anyOrder, swapped.0, swapped.0))
        let e = engine(anyOrder)
        // Swapped without a typo, the pair shares its either-order phonetic token (with the typo, "Laznger" has
        // another phonetic key: such a pair is found through another comparison's tokens).
        let plainSwap = makeEntity("s", ["FirstName": ["Langer"], "LastName": ["Gabriele"]])
        #expect(!e.tokens(for: swapped.0).isDisjoint(with: e.tokens(for: plainSwap)))
        #expect(e.tokens(for: swapped.0).isDisjoint(with: e.tokens(for: swapped.1)))
        // Each name must find its partner: one name alone is not enough.
        let other = makeEntity("c", ["FirstName": ["Gabrielle"], "LastName": ["Gabrielle"]])
        #expect(!holds(anyOrder, swapped.0, other))
    }

    @Test func addressLinesSwappedMatchExactlyInAnyOrder() {
        let a = makeEntity("a", nested: ["Address": [["AddressLine1": "12 High St", "AddressLine2": "Apt 4"]]])
        let b = makeEntity("b", nested: ["Address": [["AddressLine1": "Apt 4", "AddressLine2": "12 High St"]]])
        let rule = MatchRule.compare(
            Comparison(.exact, [ref("Address.AddressLine1"), ref("Address.AddressLine2")], anyOrder: true))
        #expect(holds(rule, a, b))
        #expect(!holds(.exact([ref("Address.AddressLine1"), ref("Address.AddressLine2")]), a, b))
        let e = engine(rule)
        #expect(!e.tokens(for: a).isDisjoint(with: e.tokens(for: b)))
    }
}

struct RelevanceGroupTests {
    static let uri = individualURI + "/matchGroups/Scored"

    /// names (fuzzy, any order) 4 / mismatch 2; birth date (similar) 3 / 3; national id (similar) 4 / 4; email 2.
    static let scoring = RelevanceScoring(
        comparisons: [
            .init(
                rule: .compare(Comparison(.fuzzy, [ref("FirstName"), ref("LastName")], anyOrder: true)), weight: 4,
                mismatchWeight: 2, label: "names"),
            .init(rule: .compare(Comparison(.similarDate, [ref("BirthDate")])), weight: 3, mismatchWeight: 3),
            .init(rule: .compare(Comparison(.similarCode, [ref("Identifiers.ID")], minLength: 6)), weight: 4, mismatchWeight: 4),
            .init(rule: .exact([ref("Email")]), weight: 2),
        ], mergeThreshold: 0.7, potentialMatchThreshold: 0.3)

    let engine = MatchEngine(
        entityType: Demo.individual, groups: [MatchGroup(uri: RelevanceGroupTests.uri, relevance: RelevanceGroupTests.scoring)])

    func person(_ id: String, _ first: String, _ last: String, birth: String? = nil, national: String? = nil) -> Entity {
        var simple: [(String, [String])] = [("FirstName", [first]), ("LastName", [last])]
        if let birth { simple.append(("BirthDate", [birth])) }
        var e = makeEntity(id, KeyValuePairs(dictionaryLiteral: simple[0], simple[1]))
        if let birth { e.attributes.append(AttributeEntry(name: "BirthDate", values: [AttributeValue(id: "b", content: .simple(birth), sources: ["c1"])])) }
        if let national {
            e.attributes.append(
                AttributeEntry(
                    name: "Identifiers",
                    values: [
                        AttributeValue(
                            id: "n", content: .nested([AttributeEntry(name: "ID", values: [AttributeValue(id: "n1", content: .simple(national))])]),
                            sources: ["c1"])
                    ]))
        }
        return e
    }

    @Test func scoresAreWeightedSumsOverTheTotal() {
        let a = person("a", "Gabrielle", "Langer", birth: "1933-02-12", national: "417380412")
        let b = person("b", "Langer", "Gabrielle", birth: "1933-01-22", national: "417830412")
        let v = engine.evaluate(a, b)
        let s = try! #require(v.scores.first)
        #expect(s.contributions == [4, 3, 4, 0])
        #expect(abs(s.score - 11.0 / 13.0) < 1e-9)
        #expect(v.automatic == [Self.uri] && v.suspect.isEmpty && v.merges)
        #expect(engine.evaluate(b, a) == v, "symmetric")
        #expect(!engine.tokens(for: a).isDisjoint(with: engine.tokens(for: b)), "the pair is found by token lookup")
        #expect(v.recorded(v.automatic) == [Self.uri + "|0.8462|4,3,4,0"])
    }

    @Test func aGapCostsNothingAConflictCostsItsMismatchWeight() {
        let a = person("a", "Gabrielle", "Langer", birth: "1933-02-12", national: "417380412")
        let gap = person("c", "Gabrielle", "Langer")
        let v = engine.evaluate(a, gap)
        #expect(v.scores.first?.contributions == [4, 0, 0, 0])
        #expect(v.suspect == [Self.uri] && v.automatic.isEmpty && v.isPotentialMatch, "4/13 = 0.31 is a potential match")
        let conflict = person("d", "Gabrielle", "Langer", birth: "1971-07-30", national: "555000111")
        let w = engine.evaluate(a, conflict)
        #expect(w.scores.first?.contributions == [4, -3, -4, 0])
        #expect(w.scores.first?.score == 0, "clamped at 0")
        #expect(!w.merges && !w.isPotentialMatch)
    }

    @Test func theRecordedFormRoundTrips() {
        let s = GroupScore(uri: Self.uri, score: 0.30769, contributions: [4, 0, -2.5, 0])
        #expect(s.encoded == Self.uri + "|0.3077|4,0,-2.5,0")
        let back = try! #require(GroupScore(encoded: s.encoded))
        #expect(back.uri == Self.uri && back.score == 0.3077 && back.contributions == [4, 0, -2.5, 0])
        #expect(GroupScore(encoded: Self.uri) == nil)
        #expect(GroupScore.groupURI(of: s.encoded) == Self.uri)
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        RecordedMatchGroups.write([s.encoded], labels: RecordedMatchGroups.labels(engine.groups), into: &w)
        w.endObject()
        let json = try! JSONParser.parse(w.bytes)
        #expect(json["matchRules"] == .array([.string(Self.uri)]))
        let r = json["relevance"]?.arrayValue?.first
        #expect(r?["score"] == .number("0.3077"))
        #expect(r?["comparisons"]?.arrayValue?.first?["comparison"] == .string("names"))
        #expect(r?["comparisons"]?.arrayValue?[2]["contribution"] == .number("-2.5"))
        #expect(r?["comparisons"]?.arrayValue?[1]["weight"] == .number("3"))
    }
}

/// Merged entities are compared per contributor, so the merges do not depend on the order records arrive in.
struct PerContributorTests {
    /// A merged entity: c1 said email e and no birth date, c2 said email e and birth date 1980-01-02.
    func merged() -> Entity {
        var e = makeEntity(
            "m", ["Email": ["e@x.com"]], sources: [Source(id: "c1"), Source(id: "c2", type: "configuration/sources/ERP")])
        e.attributes.append(
            AttributeEntry(name: "BirthDate", values: [AttributeValue(id: "bd", content: .simple("1980-01-02"), sources: ["c2"])]))
        e.attributes[0].values[0].sources = ["c1", "c2"]
        return e
    }

    @Test func aContributorWithoutABirthDateStillMatchesUnderExactOrNull() {
        let rule = MatchRule.and([.exact([ref("Email")]), .exactOrNull([ref("BirthDate")])])
        let other = makeEntity("o", ["Email": ["E@X.com"], "BirthDate": ["1975-05-05"]])
        // c1 (no birth date) matches the other record, as it did before it merged with c2.
        #expect(holds(rule, merged(), other))
        #expect(engine(rule).profile(merged()).contributorCount == 2)
    }

    @Test func negativeGroupsCompareTheWholeEntity() {
        let groups = [
            MatchGroup(uri: individualURI + "/matchGroups/Email", type: .automatic, rule: .exact([ref("Email")])),
            MatchGroup(uri: individualURI + "/matchGroups/Born", type: .negative, rule: .notExactSame([ref("BirthDate")])),
        ]
        let e = MatchEngine(entityType: Demo.individual, groups: groups)
        let other = makeEntity("o", ["Email": ["e@x.com"], "BirthDate": ["1975-05-05"]])
        let v = e.evaluate(merged(), other)
        #expect(v.negative && !v.merges, "the merged entity's birth date (from c2) conflicts")
    }

    /// An entity merged from 100 crosswalks, each with its own birth date, compares at most 16 value sets: its
    /// first 15 contributors and its whole (each comparison of it stays bounded).
    @Test func manyContributorsAreBounded() {
        var e = makeEntity("m", ["Email": ["x@y.com"]], sources: (0..<100).map { Source(id: "c\($0)") })
        e.attributes.append(
            AttributeEntry(
                name: "BirthDate",
                values: (0..<100).map { i in
                    AttributeValue(id: "b\(i)", content: .simple("\(1900 + i)-01-01"), sources: ["c\(i)"])
                }))
        let rule = MatchRule.and([.exact([ref("Email")]), .exactOrNull([ref("BirthDate")])])
        let profile = engine(rule).profile(e)
        #expect(profile.contributorCount == MatchEngine.maxContributorsCompared)
        let born1950 = makeEntity("o", ["Email": ["x@y.com"], "BirthDate": ["1950-01-01"]])
        #expect(holds(rule, e, born1950), "the whole (every birth date) still matches a later contributor's date")
    }

    /// The same five records in every order: the clusters `ClusterRun` finds are the same, because a cluster
    /// is compared through what each of its records said.
    @Test func theClustersDoNotDependOnOrder() {
        let rule = MatchRule.and([.exact([ref("Email")]), .exactOrNull([ref("BirthDate")])])
        let e = engine(rule)
        let records = [
            makeEntity("r1", ["Email": ["a@x.com"]], sources: [Source(id: "r1")]),
            makeEntity("r2", ["Email": ["a@x.com"], "BirthDate": ["1980-01-02"]], sources: [Source(id: "r2")]),
            makeEntity("r3", ["Email": ["a@x.com"], "BirthDate": ["1990-03-04"]], sources: [Source(id: "r3")]),
        ]
        func clusters(_ order: [Int]) -> Set<Set<String>> {
            // Merge on arrival, as the store does: a new record joins every cluster it matches.
            var live: [Entity] = []
            for i in order {
                var current = records[i]
                var rest: [Entity] = []
                for c in live {
                    if e.evaluate(current, c).merges { current.absorbForTest(c) } else { rest.append(c) }
                }
                live = rest + [current]
            }
            return Set(live.map { Set($0.crosswalks.map(\.id)) })
        }
        let expected = clusters([0, 1, 2])
        #expect(expected == [["r1", "r2", "r3"]], "r1 (no birth date) joins both")
        for order in [[1, 2, 0], [2, 1, 0], [1, 0, 2], [2, 0, 1], [0, 2, 1]] {
            #expect(clusters(order) == expected, "order \(order)")
        }
    }
}

extension Entity {
    /// Adds `other`'s crosswalks and values (keeping their sources), as a merge does for matching purposes.
    fileprivate mutating func absorbForTest(_ other: Entity) {
        crosswalks += other.crosswalks
        for entry in other.attributes {
            if let i = attributes.firstIndex(where: { $0.name == entry.name }) {
                attributes[i].values += entry.values
            } else {
                attributes.append(entry)
            }
        }
    }
}
