import HeraldMatch
import HeraldMatchRules
import HeraldModel
import HeraldSampleData
import Testing

/// Match quality on the sample-data generator's default data set (1,000 people, duplicate rate 0.3,
/// seed 42), with the demo rules of docs/matching.md, clustered as the store does it.
struct QualityTests {
    @Test func automaticMergesOnTheDefaultDataSet() {
        let sample = SampleSet.default
        let (matching, issues) = Demo.matching()
        #expect(issues.isEmpty, "\(issues)")
        let run = ClusterRun(sample.entities, engine: matching.engine)
        let automatic = MatchQuality.measure(clusters: run.automaticClusters, truth: sample.truth)
        let suspect = MatchQuality.measure(pairs: run.suspectPairs, truth: sample.truth)
        let review = MatchQuality.measure(pairs: run.reviewPairs, truth: sample.truth)
        let tokens = run.tokenCounts
        print(
            """
            match quality, \(sample.entities.count) records of \(Set(sample.truth.values).count) people \
            (duplicateRate 0.3, seed 42):
              automatic merges: \(automatic)
              suspect matches:  \(suspect)
              review queue (suspect, not merged): \(review)
              comparisons: \(run.comparisons); tokens per entity min \(tokens.min()!) \
            mean \(Double(tokens.reduce(0, +)) / Double(tokens.count)) max \(tokens.max()!); \
            skipped frequent tokens: \(run.skippedTokens)
            """)
        #expect(automatic.precision >= 0.99)
        #expect(automatic.f1 >= 0.95)
        #expect(run.comparisons < sample.entities.count * 20, "token lookup, not all pairs")
    }

    /// What the coarse-token cap (`limits.maxEntitiesPerCoarseToken`) costs in quality and saves in
    /// comparisons on a larger tenant (20,000 people, where a postal code has a few holders).
    @Test func coarseTokenCapOnALargerDataSet() async throws {
        try await offSharedPool { self.coarseTokenCapOnALargerDataSetBody() }
    }

    func coarseTokenCapOnALargerDataSetBody() {
        var options = SampleDataGenerator.Options()
        options.people = 20_000
        options.seed = 7
        let sample = SampleSet(options: options)
        let engine = Demo.matching().0.engine
        var results: [Int: (MatchQuality, MatchQuality, Int)] = [:]
        for cap in [8, 32, 300] {
            let run = ClusterRun(sample.entities, engine: engine, maxTokenFrequency: 300, maxCoarseTokenFrequency: cap)
            let automatic = MatchQuality.measure(clusters: run.automaticClusters, truth: sample.truth)
            let suspect = MatchQuality.measure(pairs: run.suspectPairs, truth: sample.truth)
            results[cap] = (automatic, suspect, run.comparisons)
            print(
                """
                coarse-token cap \(cap), \(sample.entities.count) records of \(options.people) people:
                  automatic merges: \(automatic)
                  suspect matches:  \(suspect)
                  comparisons: \(run.comparisons); skipped tokens: \(run.skippedTokens)
                """)
        }
        let chosen = ObjectLimits().maxEntitiesPerCoarseToken
        let (automatic, _, comparisons) = results[chosen] ?? results[32]!
        #expect(automatic.precision >= 0.99)
        #expect(automatic.f1 >= 0.95)
        #expect(comparisons < results[300]!.2, "the cap saves comparisons")
    }

    /// The same without the negative group: how much the positive rules are worth on their own.
    @Test func withoutTheNegativeGroup() {
        let sample = SampleSet.default
        let groups = Demo.matching().0.groups.filter { $0.type != .negative }
        let run = ClusterRun(sample.entities, engine: MatchEngine(entityType: Demo.individual, groups: groups))
        let automatic = MatchQuality.measure(clusters: run.automaticClusters, truth: sample.truth)
        let suspect = MatchQuality.measure(pairs: run.suspectPairs, truth: sample.truth)
        print("without the negative group:\n  automatic merges: \(automatic)\n  suspect matches:  \(suspect)")
        #expect(automatic.precision >= 0.99)
        #expect(automatic.f1 >= 0.95)
    }

    /// A harder data set: the generator never varies emails and identifiers, so the same records without
    /// them show what the name, birth date, address and phone comparisons achieve on their own.
    @Test func withoutEmailsAndIdentifiers() {
        let sample = SampleSet.default
        let stripped = sample.entities.map { e -> Entity in
            var e = e
            e.attributes.removeAll { $0.name == "Email" || $0.name == "Identifiers" }
            return e
        }
        let run = ClusterRun(stripped, engine: Demo.matching().0.engine)
        let automatic = MatchQuality.measure(clusters: run.automaticClusters, truth: sample.truth)
        let suspect = MatchQuality.measure(pairs: run.suspectPairs, truth: sample.truth)
        let review = MatchQuality.measure(pairs: run.reviewPairs, truth: sample.truth)
        print(
            """
            without Email and Identifiers:
              automatic merges: \(automatic)
              suspect matches:  \(suspect)
              review queue (suspect, not merged): \(review)
            """)
        #expect(automatic.precision >= 0.99)
        #expect(automatic.recall > 0.5)
    }

    /// Each automatic group on its own.
    @Test func perGroup() {
        let sample = SampleSet.default
        for g in Demo.matching().0.groups where g.type != .negative {
            var alone = g
            alone.type = .automatic
            let run = ClusterRun(sample.entities, engine: MatchEngine(entityType: Demo.individual, groups: [alone]))
            let q = MatchQuality.measure(clusters: run.automaticClusters, truth: sample.truth)
            print("\(g.uri) alone: \(q)")
            #expect(q.predictedPairs > 0)
        }
    }

    @Test func measureCountsPairs() {
        let truth = ["a": 1, "b": 1, "c": 1, "d": 2, "e": 2, "f": 3]
        let q = MatchQuality.measure(clusters: [["a", "b"], ["c", "d"], ["e"], ["f"]], truth: truth)
        #expect(q.truePairs == 4)
        #expect(q.predictedPairs == 2)
        #expect(q.correctPairs == 1)
        #expect(q.precision == 0.5 && q.recall == 0.25)
        #expect(abs(q.f1 - 1.0 / 3.0) < 1e-12)
        let p = MatchQuality.measure(pairs: [("a", "b"), ("b", "a"), ("a", "c"), ("d", "f"), ("a", "a")], truth: truth)
        #expect(p.predictedPairs == 3 && p.correctPairs == 2)
        let none = MatchQuality.measure(clusters: [], truth: truth)
        #expect(none.precision == 1 && none.recall == 0 && none.f1 == 0)
    }
}
