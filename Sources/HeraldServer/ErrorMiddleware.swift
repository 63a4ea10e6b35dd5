import HeraldStore
import Hummingbird
import Logging

/// Turns every error a route throws into a JSON answer: API errors as they are, storage failures as
/// 507 `STORAGE_FULL` or 503 `STORE_UNAVAILABLE`, anything else as 500 `INTERNAL_ERROR` (logged with
/// its detail, which the client does not see).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            throw APIError.from(error, request: request, logger: logger)
        }
    }
}

extension APIError {
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")

    /// The API error for an error that is not one.
    static func from(_ error: any Error, request: Request, logger: Logger) -> APIError {
        if let store = StoreError.classify(error) as? StoreError {
            switch store.code {
            case .storageFull:
                return APIError(
                    insufficientStorage, "STORAGE_FULL",
                    "the store is full, nothing of this request was written: \(store.message); free space on the disk of "
                        + "the data directory and send it again")
            case .unavailable, .closed:
                return APIError(
                    .serviceUnavailable, "STORE_UNAVAILABLE",
                    "the store cannot be used, nothing of this request was written: \(store.message); try again later")
            default:
                break
            }
        }
        logger.error("\(request.method) \(request.uri.path) failed: \(error)")
        return APIError(
            .internalServerError, "INTERNAL_ERROR",
            "the request failed inside Herald (the server log has the detail); nothing of it was acknowledged")
    }
}
