import HeraldStorage
import PostgresNIO

extension StoreError {
    /// PostgreSQL errors that say the database cannot take writes become `storageFull` or `unavailable`; other
    /// server errors become `StoreError`s that carry the server's message (postgres-nio hides it by default);
    /// any other error (a domain error thrown by a write job) is returned unchanged.
    static func classifyPostgres(_ error: any Error) -> any Error {
        if error is StoreError { return error }
        guard let psql = error as? PSQLError else { return error }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? ""
            let message = psql.serverInfo?[.message] ?? "(no message)"
            let detail = psql.serverInfo?[.detail].map { " (\($0))" } ?? ""
            // Another writer (node) got there first: a serialization failure, a deadlock between two writers'
            // locks, or a unique key taken at once. The job runs again, alone (PostgresGroupCommitter).
            if ["40001", "40P01", "23505"].contains(state) {
                return StoreError(.conflict, "a concurrent writer changed the same rows: \(message)\(detail) (SQLSTATE \(state))")
            }
            if state == "53100" {
                return StoreError(.storageFull, "the PostgreSQL server's disk is full: \(message)")
            }
            // 08: connection exception, 53: insufficient resources, 57: operator intervention (shutdown,
            // restart), 58: system error (I/O).
            if ["08", "53", "57", "58"].contains(String(state.prefix(2))) {
                return StoreError(.unavailable, "PostgreSQL cannot be used: \(message) (SQLSTATE \(state))")
            }
            return StoreError(.queryFailed, "PostgreSQL refused a statement: \(message)\(detail) (SQLSTATE \(state))")
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler, .queryCancelled:
            return StoreError(.unavailable, "PostgreSQL cannot be reached: \(psql.code)\(psql.underlying.map { " (\($0))" } ?? "")")
        default:
            return StoreError(.unavailable, "PostgreSQL connection failed: \(psql.code)")
        }
    }
}
