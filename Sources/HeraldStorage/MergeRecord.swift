/// One recorded merge: `loser` merged into `winner`. Merge records are written by ingest with the merge (in its
/// transaction) and deleted when the loser is unmerged, so they describe the merges in effect now.
public struct MergeRecord: Sendable, Equatable {
    /// The entity ids (without `entities/`).
    public var winner: String
    public var loser: String
    /// When it merged (epoch ms).
    public var time: Int64
    /// Who merged it: the user of the request that caused it ("" for records written before it was recorded).
    public var user: String
    /// The match groups (URIs) whose automatic rules merged the pair; empty for a manual merge (`_sameAs`) and for
    /// records written before they were recorded.
    public var matchRules: [String]

    public init(winner: String, loser: String, time: Int64, user: String = "", matchRules: [String] = []) {
        self.winner = winner
        self.loser = loser
        self.time = time
        self.user = user
        self.matchRules = matchRules
    }

    /// How far `mergeHistory` follows earlier merges into the losers of an entity.
    public static let maxDepth = 32
}
