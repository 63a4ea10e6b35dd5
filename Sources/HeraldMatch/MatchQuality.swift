/// Pairwise precision, recall and F1 of predicted matches against a ground truth.
///
/// A pair is two record ids. True pairs are the pairs of records of the same truth cluster; predicted
/// pairs are the pairs inside each predicted cluster (or the given pairs); a predicted pair is correct
/// when both records have the same truth id. A record missing from `truth` is in no true pair.
public struct MatchQuality: Sendable, Equatable, CustomStringConvertible {
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var truePairs: Int
    public var predictedPairs: Int
    public var correctPairs: Int

    public init(truePairs: Int, predictedPairs: Int, correctPairs: Int) {
        self.truePairs = truePairs
        self.predictedPairs = predictedPairs
        self.correctPairs = correctPairs
        precision = predictedPairs == 0 ? 1 : Double(correctPairs) / Double(predictedPairs)
        recall = truePairs == 0 ? 1 : Double(correctPairs) / Double(truePairs)
        f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
    }

    /// Quality of disjoint clusters (a record listed in several clusters counts in each).
    public static func measure(clusters predicted: [[String]], truth: [String: Int]) -> MatchQuality {
        var predictedPairs = 0
        var correct = 0
        for cluster in predicted {
            let ids = Set(cluster)
            predictedPairs += ids.count * (ids.count - 1) / 2
            var perTruth: [Int: Int] = [:]
            for id in ids { if let t = truth[id] { perTruth[t, default: 0] += 1 } }
            for n in perTruth.values { correct += n * (n - 1) / 2 }
        }
        return MatchQuality(truePairs: truePairCount(truth), predictedPairs: predictedPairs, correctPairs: correct)
    }

    /// Quality of predicted pairs (duplicates and self-pairs ignored).
    public static func measure(pairs: [(String, String)], truth: [String: Int]) -> MatchQuality {
        var seen = Set<[String]>()
        var correct = 0
        for (a, b) in pairs where a != b && seen.insert(a < b ? [a, b] : [b, a]).inserted {
            if let ta = truth[a], let tb = truth[b], ta == tb { correct += 1 }
        }
        return MatchQuality(truePairs: truePairCount(truth), predictedPairs: seen.count, correctPairs: correct)
    }

    private static func truePairCount(_ truth: [String: Int]) -> Int {
        var sizes: [Int: Int] = [:]
        for t in truth.values { sizes[t, default: 0] += 1 }
        return sizes.values.reduce(0) { $0 + $1 * ($1 - 1) / 2 }
    }

    public var description: String {
        func f(_ x: Double) -> String {
            let scaled = (x * 10_000).rounded() / 10_000
            return String(scaled)
        }
        return "precision \(f(precision)), recall \(f(recall)), F1 \(f(f1)) "
            + "(\(correctPairs) correct of \(predictedPairs) predicted pairs, \(truePairs) true pairs)"
    }
}
