import HeraldConfig
import HeraldPostgres
import HeraldSQLite
import HeraldStorage
import Logging

/// The store `herald serve` opens, decided from `store.backend` before anything starts.
enum StoreSetup {
    case sqlite(directory: String, synchronous: String, memory: StoreMemory, walPages: Int)
    case postgres(PostgresSettings, location: String)

    /// What keeps `herald serve` from starting (exit 2), before the store is opened.
    struct Problem: Error {
        var message: String
    }

    /// Builds the settings; a PostgreSQL password is read from the variable `passwordEnv` names.
    static func make(_ configuration: HeraldConfiguration, environment: [String: String]) throws(Problem)
        -> StoreSetup
    {
        let store = configuration.store
        switch store.backend {
        case .sqlite:
            // The loader refuses a SQLite configuration without a data directory.
            guard let directory = configuration.dataDirectory else {
                throw Problem(message: "dataDirectory is required with the SQLite store")
            }
            return .sqlite(
                directory: directory, synchronous: store.synchronous,
                memory: StoreMemory(
                    writerCacheMiB: store.writerCacheMiB, readerCacheMiB: store.readerCacheMiB,
                    readerCount: store.readerCount),
                walPages: store.walRestartMiB * 256)
        case .postgres(let p):
            var password: String?
            if let variable = p.passwordEnv {
                guard let value = environment[variable], !value.isEmpty else {
                    throw Problem(
                        message: "store.passwordEnv names the environment variable '\(variable)', which is "
                            + "\(environment[variable] == nil ? "not set" : "empty"): set it to the password of "
                            + "PostgreSQL user '\(p.user)' (or remove passwordEnv to connect without a password)")
                }
                password = value
            }
            let settings = PostgresSettings(
                host: p.host, port: p.port, user: p.user, database: p.database, password: password,
                poolSize: p.poolSize, synchronousCommit: p.synchronousCommit)
            return .postgres(settings, location: p.location)
        }
    }

    /// Where the data lives, for logs (never a password).
    var location: String {
        switch self {
        case .sqlite(let directory, _, _, _): return "sqlite in \(directory)"
        case .postgres(_, let location): return "postgres \(location)"
        }
    }

    func open(logger: Logger) async throws -> any Store {
        switch self {
        case .sqlite(let directory, let synchronous, let memory, let walPages):
            return try SQLiteStore(
                directory: directory, synchronous: synchronous, memory: memory, walPages: walPages, logger: logger)
        case .postgres(let settings, _):
            return try await PostgresStore.open(settings, logger: logger)
        }
    }
}
