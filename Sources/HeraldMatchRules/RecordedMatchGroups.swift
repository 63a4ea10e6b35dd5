import HeraldJSON

/// The match groups recorded with a potential match or a merge, as the API and the events show them.
///
/// A record lists group URIs; a relevance group's entry is `GroupScore.encoded` (its score and what each
/// comparison contributed). Written as
/// `"matchRules": [uri, …]` and, when a relevance group is among them,
/// `"relevance": [{"matchGroup": uri, "score": 0.8125, "comparisons": [{"comparison": label, "weight": 3,
/// "contribution": 3}, …]}]`.
public enum RecordedMatchGroups {
    /// Per relevance group URI, the label and weight of each comparison, in order.
    public typealias Labels = [String: [(label: String, weight: Double)]]

    /// The labels of the relevance groups among `groups`.
    public static func labels(_ groups: [MatchGroup]) -> Labels {
        var out: Labels = [:]
        for g in groups {
            guard let r = g.relevance else { continue }
            out[g.uri] = r.comparisons.map { ($0.label, $0.weight) }
        }
        return out
    }

    /// Writes the `matchRules` member and, for relevance groups, the `relevance` member of the current object.
    public static func write(_ recorded: [String], labels: Labels, into w: inout JSONWriter) {
        w.key("matchRules")
        w.beginArray()
        for entry in recorded { w.string(GroupScore.groupURI(of: entry)) }
        w.endArray()
        let scores = recorded.compactMap(GroupScore.init(encoded:))
        guard !scores.isEmpty else { return }
        w.key("relevance")
        w.beginArray()
        for s in scores {
            w.beginObject()
            w.key("matchGroup")
            w.string(s.uri)
            w.key("score")
            w.number(text: GroupScore.format(s.score))
            w.key("comparisons")
            w.beginArray()
            let known = labels[s.uri]
            for (i, contribution) in s.contributions.enumerated() {
                w.beginObject()
                w.key("comparison")
                if let known, i < known.count {
                    w.string(known[i].label)
                    w.key("weight")
                    w.number(text: GroupScore.format(known[i].weight))
                } else {
                    w.string("#\(i + 1)")
                }
                w.key("contribution")
                w.number(text: GroupScore.format(contribution))
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
    }
}
