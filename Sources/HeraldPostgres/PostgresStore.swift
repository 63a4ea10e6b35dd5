import HeraldModel
import HeraldStorage
import Logging

/// The PostgreSQL store. See docs/storage.md and docs/decisions/0001-event-log-order.md.
public final class PostgresStore: Sendable {
    public let settings: PostgresSettings
    public var location: String { settings.location }

    init(settings: PostgresSettings) {
        self.settings = settings
    }

    /// Connects, runs the schema migrations, and starts the writer.
    public static func open(_ settings: PostgresSettings, logger: Logger = Logger(label: "herald.store")) async throws
        -> PostgresStore
    {
        throw StoreError(.openFailed, "the PostgreSQL store is being built")
    }

    /// Waits for queued writes, then closes every connection.
    public func close() async {}
}
