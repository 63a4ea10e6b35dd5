import HeraldJSON
import HeraldStorage
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// The one path by which errors become answers: every error a route, a group's authorization or the router
/// (no route matched) throws becomes an `APIError`, rendered as Herald's JSON. API errors stay as they are;
/// Hummingbird's `HTTPError` (the router's 404, a decoding failure) becomes the same shape, the router's 404 as
/// `NOT_FOUND` naming the method and path; any other error that carries a status (`NIOTooManyBytesError`, …)
/// keeps its status with a code made of its reason phrase; storage failures become 507 `STORAGE_FULL` or 503
/// `STORE_UNAVAILABLE`; anything else 500 `INTERNAL_ERROR` (logged with its detail, which the client does not
/// see). Errors of the connection itself (a malformed body, a closed channel) pass through: there is no one to
/// answer, or Hummingbird closes the connection.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            throw APIError.from(error, request: request)
        } catch let error as NIOTooManyBytesError {
            throw APIError.bodyTooLarge(error.maxBytes)
        } catch let error as any HTTPResponseError {
            throw APIError(error.status, APIError.code(error.status), error.status.reasonPhrase)
        } catch let error as HTTPParserError {
            throw error
        } catch let error as ChannelError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIError.from(error, request: request, logger: logger)
        }
    }
}

extension APIError {
    /// Herald's JSON for one of Hummingbird's errors: the router's empty 404 becomes `NOT_FOUND`; others keep
    /// their status and headers, with a code made of the reason phrase ("Payload Too Large" → `PAYLOAD_TOO_LARGE`).
    static func from(_ error: HTTPError, request: Request) -> APIError {
        if error.status == .notFound && error.body == nil {
            return APIError(
                .notFound, "NOT_FOUND",
                "no route for \(request.method) \(Echo.cut(request.uri.path)); the routes are listed in docs/api.md")
        }
        var api = APIError(error.status, code(error.status), error.body ?? error.status.reasonPhrase)
        api.extraHeaders = error.headers
        api.extraHeaders[.contentType] = nil
        api.extraHeaders[.contentLength] = nil
        return api
    }

    /// An error code made of a status's reason phrase: "Payload Too Large" → `PAYLOAD_TOO_LARGE`.
    static func code(_ status: HTTPResponse.Status) -> String {
        let code = String(status.reasonPhrase.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
        return code.isEmpty ? "HTTP_\(status.code)" : code
    }

    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")

    /// The API error for an error that is not one.
    static func from(_ error: any Error, request: Request, logger: Logger) -> APIError {
        if let store = error as? StoreError {
            switch store.code {
            case .storageFull:
                return APIError(
                    insufficientStorage, "STORAGE_FULL",
                    "the store is full, nothing of this request was written: \(store.message); free space on the disk of "
                        + "the data directory and send it again")
            case .conflict:
                // Another node kept changing the same rows while this request ran again (PostgresGroupCommitter).
                return APIError(
                    .serviceUnavailable, "STORE_CONFLICT",
                    "another writer changed the same entities at the same time, several times in a row; nothing of this "
                        + "request was written: \(store.message); send it again")
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
