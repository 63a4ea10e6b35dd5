import HeraldJSON
import Hummingbird

/// Refuses a dead letter's `{id}` (`/api/{tenant}/streaming/dlq/{id}`) that is not a number with 400
/// `INVALID_PARAMETER`, before the route runs (which would answer 404 `DEAD_LETTER_NOT_FOUND`, as if such an id
/// could exist). Entity and relation ids are checked by their routes (`ObjectID`).
struct RouteParameterMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if context.endpointPath?.hasSuffix("/streaming/dlq/{id}") == true, let id = context.parameters.get("id") {
            guard id.utf8.count <= 18, let n = Int64(id), n >= 0 else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER",
                    "'\(Echo.cut(id))' is not a dead-letter id: a whole number, as listed by "
                        + "GET /api/{tenant}/streaming/dlq")
            }
        }
        return try await next(request, context)
    }
}
