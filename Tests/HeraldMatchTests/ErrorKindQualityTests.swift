import Foundation
import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import HeraldSampleData
import Testing

/// Match quality per error kind (issue 21) on the realistic sample data: 3,000 people, duplicate rate 0.3,
/// seed 21, with the demo rules (docs/matching.md) and with examples/matching/person-rules.json, clustered as the
/// store does it (`ClusterRun`). The tables are printed in markdown.
/// Serialized: each test clusters thousands of records on a pool thread; run together they starved the suites
/// that time work on the shared pool (AsyncSinkPluginTests).
@Suite(.serialized)
struct ErrorKindQualityTests {
    static let options: SampleDataGenerator.Options = {
        var options = SampleDataGenerator.Options()
        options.people = 3000
        options.duplicateRate = 0.3
        options.seed = 21
        options.errorProfile = .realistic
        return options
    }()

    static let sample = SampleSet(options: options)

    /// The rules object of examples/matching/person-rules.json (`{"matchGroups": [...]}` for Individual).
    static let personRulesJSON: JSONValue = {
        let url = repositoryRoot.appendingPathComponent("examples/matching/person-rules.json")
        return try! JSONParser.parse([UInt8](try! Data(contentsOf: url)))
    }()

    /// The per-kind figures on a hand-made example (numbers derived by hand in the comments).
    @Test func perKindFiguresByHand() {
        // Person 1: a (clean), b (nameTypo), c (nickname, postcodeTypo); person 2: d (clean), e (nameTypo),
        // h (clean, in no cluster); person 3: f, a twin of person 1; person 4: g (clean).
        let truth = ["a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "h": 2, "f": 3, "g": 4]
        let kinds: [String: [SampleErrorKind]] = [
            "b": [.nameTypo], "c": [.nickname, .postcodeTypo], "e": [.nameTypo], "f": [.twin],
        ]
        let q = QualityByErrorKind(
            clusters: [["a", "b", "f"], ["c"], ["d", "e", "g"]], truth: truth, kinds: kinds, twinOf: ["f": 1])
        // True pairs ab ac bc de dh eh; predicted ab af bf de dg eg; correct ab de.
        #expect(q.overall == MatchQuality(truePairs: 6, predictedPairs: 6, correctPairs: 2))
        #expect(q.overall == MatchQuality.measure(clusters: [["a", "b", "f"], ["c"], ["d", "e", "g"]], truth: truth))
        // nameTypo (b, e): true ab bc de eh; predicted ab bf de eg; correct ab de.
        #expect(q.byKind[.nameTypo] == MatchQuality(truePairs: 4, predictedPairs: 4, correctPairs: 2))
        #expect(q.byKind[.nameTypo]!.precision == 0.5 && q.byKind[.nameTypo]!.recall == 0.5)
        // nickname and postcodeTypo (c, alone in its cluster): true ac bc, nothing predicted.
        #expect(q.byKind[.nickname] == MatchQuality(truePairs: 2, predictedPairs: 0, correctPairs: 0))
        #expect(q.byKind[.postcodeTypo] == q.byKind[.nickname])
        #expect(q.byKind[.nickname]!.recall == 0 && q.byKind[.nickname]!.f1 == 0)
        // twin (f): no true pair, predicted af bf, both wrong; f with a, b, c are the twin pairs, 2 merged.
        #expect(q.byKind[.twin] == MatchQuality(truePairs: 0, predictedPairs: 2, correctPairs: 0))
        #expect(q.byKind[.twin]!.precision == 0)
        #expect(q.twinPairs == 3 && q.twinPairsMerged == 2)
        // Neither record with a kind (a, d, g, h): true dh, predicted dg, none correct.
        #expect(q.clean == MatchQuality(truePairs: 1, predictedPairs: 1, correctPairs: 0))
        // A kind no record carries: nothing to find, nothing found.
        #expect(q.byKind[.swappedNames] == MatchQuality(truePairs: 0, predictedPairs: 0, correctPairs: 0))
        #expect(q.markdownTable.contains("| `nameTypo` | 4 | 4 | 2 | 0.500 | 0.500 | 0.500 |"))
        #expect(q.markdownTable.contains("| **all pairs** | 6 | 6 | 2 | 0.333 | 0.333 | 0.333 |"))
        #expect(q.markdownTable.contains("wrongly merged: 2."))
    }

    /// The generated data has every kind often enough to measure, and twins are other people.
    @Test func everyKindOccurs() async throws {
        try await offSharedPool { self.everyKindOccursBody() }
    }

    func everyKindOccursBody() {
        let sample = Self.sample
        var records: [SampleErrorKind: Int] = [:]
        for kinds in sample.kinds.values { for kind in kinds { records[kind, default: 0] += 1 } }
        let q = QualityByErrorKind(clusters: [], truth: sample.truth, kinds: sample.kinds, twinOf: sample.twinOf)
        print("realistic sample: \(sample.entities.count) records of \(Set(sample.truth.values).count) people")
        print("| error kind | records | true pairs |\n| --- | --- | --- |")
        for kind in SampleErrorKind.allCases {
            print("| `\(kind.rawValue)` | \(records[kind] ?? 0) | \(q.byKind[kind]!.truePairs) |")
            #expect(records[kind, default: 0] >= 100, "\(kind) on \(records[kind] ?? 0) records")
        }
        #expect(!sample.twinOf.isEmpty)
        var people: Set<Int> = []
        for person in sample.truth.values { people.insert(person) }
        for (id, original) in sample.twinOf {
            #expect(sample.truth[id] != original, "\(id) is a record of the person it twins")
            #expect(people.contains(original), "\(id) twins person \(original), who has no record")
            #expect(sample.kinds[id]?.contains(.twin) == true)
        }
        #expect(q.twinPairs >= 100)
    }

    @Test func demoRules() async throws {
        try await offSharedPool { self.demoRulesBody() }
    }

    func demoRulesBody() {
        let (matching, issues) = Demo.matching()
        #expect(issues.isEmpty, "\(issues)")
        let q = measure(matching, title: "demo rules (docs/matching.md)")
        #expect(q.overall.precision >= 0.99)
    }

    @Test func personRules() async throws {
        try await offSharedPool { self.personRulesBody() }
    }

    func personRulesBody() {
        let (matching, issues) = Demo.matching(Self.personRulesJSON)
        #expect(issues.isEmpty, "\(issues)")
        let q = measure(matching, title: "examples/matching/person-rules.json")
        #expect(q.overall.predictedPairs > 0)
    }

    /// The targets of issue 21 for the rules of examples/matching/person-rules.json: precision at least 0.999 and
    /// F1 at least 0.99 over all pairs, on the realistic data. (Fails while the file holds the demo rules.)
    @Test func richRulesMeetTheTargets() async throws {
        try await offSharedPool { self.richRulesMeetTheTargetsBody() }
    }

    func richRulesMeetTheTargetsBody() {
        let (matching, issues) = Demo.matching(Self.personRulesJSON)
        #expect(issues.isEmpty, "\(issues)")
        let q = measure(matching, title: nil)
        #expect(q.overall.precision >= 0.999, "\(q.overall)")
        #expect(q.overall.f1 >= 0.99, "\(q.overall)")
    }

    /// Clusters the realistic sample with `matching` and, with a title, prints the per-kind table.
    private func measure(_ matching: CompiledMatching, title: String?) -> QualityByErrorKind {
        let sample = Self.sample
        let run = ClusterRun(sample.entities, engine: matching.engine, maxTokenFrequency: 300, maxCoarseTokenFrequency: ObjectLimits().maxEntitiesPerCoarseToken)
        let q = QualityByErrorKind(
            clusters: run.automaticClusters, truth: sample.truth, kinds: sample.kinds, twinOf: sample.twinOf)
        if let title {
            let suspect = MatchQuality.measure(pairs: run.suspectPairs, truth: sample.truth)
            print(
                """
                automatic merges per error kind, \(title), on \(sample.entities.count) records of \
                \(Set(sample.truth.values).count) people (realistic profile, duplicateRate 0.3, seed 21):

                \(q.markdownTable)

                suspect matches: \(suspect); comparisons: \(run.comparisons)

                """)
        }
        return q
    }
}
