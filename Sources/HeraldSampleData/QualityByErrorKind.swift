import HeraldMatch

/// Pairwise match quality per error kind of the realistic sample data (`SampleErrorKind`).
///
/// For a kind, the pairs counted are those in which at least one of the two records carries the kind: recall is
/// over the true pairs (same person) of that kind, precision over the predicted pairs (same cluster) of that kind.
/// So for `twin`, precision is over the predicted pairs involving a twin's record and recall over the twins' own
/// duplicates; `twinPairs` and `twinPairsMerged` count the pairs that matter most for twins: a twin's record with
/// a record of the person it looks like (never a true pair). `clean` is the same over the pairs in which neither
/// record carries any kind, and `overall` over all pairs (what `MatchQuality.measure(clusters:truth:)` gives).
public struct QualityByErrorKind: Sendable {
    public var overall: MatchQuality
    /// Pairs in which neither record carries an error kind.
    public var clean: MatchQuality
    public var byKind: [SampleErrorKind: MatchQuality]
    /// Pairs of a twin's record and a record of the person it twins.
    public var twinPairs: Int
    /// Of `twinPairs`, those in one predicted cluster (wrong merges).
    public var twinPairsMerged: Int

    /// - Parameters:
    ///   - clusters: the predicted clusters of record ids (a record in none counts as alone).
    ///   - truth: record id → person (records missing here are in no true pair).
    ///   - kinds: record id → the error kinds it carries (`SampleDataGenerator.Record.errors`).
    ///   - twinOf: a twin's record id → the person it looks like (`SampleDataGenerator.Record.twinOf`).
    public init(
        clusters: [[String]], truth: [String: Int], kinds: [String: [SampleErrorKind]], twinOf: [String: Int] = [:]
    ) {
        /// Pairs among `records` in which at least one record passes `marked` (all pairs when `marked` is nil).
        func pairs(_ records: [String], _ marked: ((String) -> Bool)?) -> Int {
            let n = records.count
            guard let marked else { return n * (n - 1) / 2 }
            let m = records.count(where: { !marked($0) })
            return n * (n - 1) / 2 - m * (m - 1) / 2
        }
        let clusters = clusters.map { Array(Set($0)) }
        var people: [Int: [String]] = [:]
        for (id, person) in truth { people[person, default: []].append(id) }
        func quality(_ marked: ((String) -> Bool)?) -> MatchQuality {
            var truePairs = 0
            for records in people.values { truePairs += pairs(records, marked) }
            var predicted = 0
            var correct = 0
            for cluster in clusters {
                predicted += pairs(cluster, marked)
                var byPerson: [Int: [String]] = [:]
                for id in cluster { if let p = truth[id] { byPerson[p, default: []].append(id) } }
                for records in byPerson.values { correct += pairs(records, marked) }
            }
            return MatchQuality(truePairs: truePairs, predictedPairs: predicted, correctPairs: correct)
        }
        overall = quality(nil)
        // Pairs "with no kind" are the complement of pairs with any kind: count those and subtract.
        let anyKind = quality { !(kinds[$0] ?? []).isEmpty }
        clean = MatchQuality(
            truePairs: overall.truePairs - anyKind.truePairs,
            predictedPairs: overall.predictedPairs - anyKind.predictedPairs,
            correctPairs: overall.correctPairs - anyKind.correctPairs)
        var byKind: [SampleErrorKind: MatchQuality] = [:]
        for kind in SampleErrorKind.allCases {
            byKind[kind] = quality { kinds[$0]?.contains(kind) == true }
        }
        self.byKind = byKind
        twinPairs = twinOf.reduce(0) { $0 + (people[$1.value]?.count ?? 0) }
        var merged = 0
        for cluster in clusters {
            var byPerson: [Int: Int] = [:]
            for id in cluster { if let p = truth[id] { byPerson[p, default: 0] += 1 } }
            for id in cluster { if let original = twinOf[id] { merged += byPerson[original] ?? 0 } }
        }
        twinPairsMerged = merged
    }

    /// The figures as a markdown table: one row per kind, then the pairs without a kind and all pairs, then a
    /// line on twin pairs merged.
    public var markdownTable: String {
        func f(_ x: Double) -> String {
            let s = String(Int((x * 1000).rounded()))
            let padded = String(repeating: "0", count: max(0, 4 - s.count)) + s
            return String(padded.dropLast(3)) + "." + String(padded.suffix(3))
        }
        func row(_ name: String, _ q: MatchQuality) -> String {
            "| \(name) | \(q.truePairs) | \(q.predictedPairs) | \(q.correctPairs) | \(f(q.precision)) | \(f(q.recall)) "
                + "| \(f(q.f1)) |"
        }
        var lines = [
            "| error kind | true pairs | predicted pairs | correct | precision | recall | F1 |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for kind in SampleErrorKind.allCases { lines.append(row("`\(kind.rawValue)`", byKind[kind]!)) }
        lines.append(row("(no error kind)", clean))
        lines.append(row("**all pairs**", overall))
        lines.append("")
        lines.append(
            "Twin pairs (a twin's record with a record of the person it twins): \(twinPairs), wrongly merged: "
                + "\(twinPairsMerged).")
        return lines.joined(separator: "\n")
    }
}
