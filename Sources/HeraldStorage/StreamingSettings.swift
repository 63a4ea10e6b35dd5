import HeraldModel

/// The management API's version of one streaming setting, layered over the configuration file (decision 0014).
public struct StreamingOverride: Sendable, Equatable {
    public var key: StreamingSettingKey
    /// The setting's JSON, in the configuration file's shape (a destination with its `id`); nil: removed through
    /// the API.
    public var body: String?
    /// The file's JSON of the setting when the API change was made (nil: the file did not have it). When the file's
    /// version no longer equals it, the file was edited afterwards and the file wins.
    public var base: String?
    /// Who made the change (the token's name) and when (epoch ms).
    public var updatedBy: String
    public var updatedAt: Int64

    public init(key: StreamingSettingKey, body: String?, base: String?, updatedBy: String, updatedAt: Int64) {
        self.key = key
        self.body = body
        self.base = base
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }
}

/// A paused destination: nothing is delivered and its cursor stays where it is until it is resumed.
public struct DestinationPause: Sendable, Equatable {
    public var key: DestinationKey
    public var pausedBy: String
    public var pausedAt: Int64

    public init(key: DestinationKey, pausedBy: String, pausedAt: Int64) {
        self.key = key
        self.pausedBy = pausedBy
        self.pausedAt = pausedAt
    }
}

/// Everything the API changed, as read at once: the overrides and the pauses of every tenant.
public struct StreamingOverrides: Sendable, Equatable {
    public var overrides: [StreamingOverride]
    public var pauses: [DestinationPause]

    public init(overrides: [StreamingOverride] = [], pauses: [DestinationPause] = []) {
        self.overrides = overrides
        self.pauses = pauses
    }

    public static let none = StreamingOverrides()
}

/// One line of a tenant's audit list (`GET /api/{tenant}/streaming/changes`): who changed which setting, when, and
/// from what to what. Secrets are never in it.
public struct StreamingChange: Sendable, Equatable {
    /// Assigned by the store, growing.
    public var id: Int64
    public var tenant: String
    public var at: Int64
    public var actor: String
    /// `create`, `replace`, `patch`, `delete`, `pause`, `resume`, `seek`, or `superseded` (the file changed the
    /// setting after the API did, so the API's version was dropped) and `retired` (the API's version no longer
    /// fits the file).
    public var action: String
    public var kind: String
    public var target: String
    /// JSON of the setting before and after (nil: it did not exist / does not any more); for `seek`, the cursors.
    public var before: String?
    public var after: String?

    public init(
        id: Int64 = 0, tenant: String, at: Int64, actor: String, action: String, kind: String, target: String,
        before: String?, after: String?
    ) {
        self.id = id
        self.tenant = tenant
        self.at = at
        self.actor = actor
        self.action = action
        self.kind = kind
        self.target = target
        self.before = before
        self.after = after
    }
}

/// Where the management API keeps its changes, so that every node and every restart sees them (decision 0014).
///
/// Every write records its audit line in the same transaction.
public protocol StreamingSettings: Sendable {
    /// Every override and pause of every tenant (small tables: read whole at start, on reload, and by each
    /// node's poll).
    func streamingOverrides() async throws -> StreamingOverrides
    /// Stores the API's version of `key` (`override`), or forgets it (nil), and records `change`.
    func saveStreamingOverride(_ key: StreamingSettingKey, _ override: StreamingOverride?, change: StreamingChange)
        async throws
    /// Pauses (`pause`) or resumes (nil) a destination, and records `change`.
    func savePause(_ key: DestinationKey, _ pause: DestinationPause?, change: StreamingChange) async throws
    /// A tenant's audit lines, newest first, with ids below `beforeId` (nil: from the newest).
    func streamingChanges(tenant: String, beforeId: Int64?, limit: Int) async throws -> [StreamingChange]
    /// Moves a destination's cursor to `seq` under `lease` (checked in the same transaction), empties its retry
    /// schedule, and records `change`.
    func seekCursor(_ key: DestinationKey, to seq: Int64, lease: LeaseFence, change: StreamingChange) async throws
    /// The seq of the tenant's first event with `time >= time` (epoch ms) still in the queue, or nil.
    func firstEventSeq(tenant: String, atOrAfter time: Int64) async throws -> Int64?
}
