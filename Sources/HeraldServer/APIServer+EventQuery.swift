import HeraldJSON
import HeraldModel
import HeraldStorage
import Hummingbird

extension APIServer {
    /// `tail` at most: the newest events the events API answers at once.
    static let maxTail: Int64 = 1000

    /// The events API's `type=T1,T2`, `tail=N` and `objectUri=entities/ID` with `after` and `limit` as a store query,
    /// or nil when none of the three is given (the plain queue read). 400 `INVALID_PARAMETER` for an unknown type
    /// (naming the known ones), a `tail` out of 1...1000, `tail` with `limit`, or an `objectUri` that is not
    /// `entities/ID`.
    static func eventQuery(_ request: Request, after: Int64) throws -> EventQuery? {
        let parameters = request.uri.queryParameters
        let typeText = parameters["type"]
        let uriText = parameters["objectUri"]
        let tailText = parameters["tail"]
        if typeText == nil && uriText == nil && tailText == nil { return nil }
        let types = try typeText.map { try eventTypes(String($0)) }
        var uri: String?
        if let uriText {
            guard uriText.hasPrefix("entities/") else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER",
                    "query parameter 'objectUri' must be entities/ID, got '\(Echo.cut(uriText))'")
            }
            if let problem = ObjectID.problem(String(uriText.dropFirst("entities/".count))) {
                throw APIError(.badRequest, "INVALID_PARAMETER", "query parameter 'objectUri': \(problem)")
            }
            uri = String(uriText)
        }
        if tailText != nil {
            if parameters["limit"] != nil {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER",
                    "give 'tail' (the newest N events) or 'limit' (the oldest N after 'after'), not both")
            }
            let tail = try queryInt(request, "tail", default: 1, range: 1...maxTail)
            return EventQuery(types: types, objectURI: uri, after: after, limit: Int(tail), newest: true)
        }
        let limit = try queryInt(request, "limit", default: 100, range: 1...10_000)
        return EventQuery(types: types, objectURI: uri, after: after, limit: Int(limit))
    }

    /// `T1,T2` as event types: 400 `INVALID_PARAMETER` for an empty list or an unknown name (naming the known ones).
    static func eventTypes(_ text: String) throws -> Set<EventType> {
        let names = text.split(separator: ",", omittingEmptySubsequences: false)
        guard names.count <= 2 * EventType.allCases.count else {
            throw APIError(
                .badRequest, "INVALID_PARAMETER",
                "query parameter 'type' names \(names.count) types; there are \(EventType.allCases.count)")
        }
        var types = Set<EventType>()
        for name in names {
            guard let type = EventType(rawValue: String(name)) else {
                throw APIError(
                    .badRequest, "INVALID_PARAMETER",
                    "unknown event type '\(Echo.cut(name))' in query parameter 'type'; known: "
                        + EventType.allCases.map(\.rawValue).joined(separator: ", "))
            }
            types.insert(type)
        }
        return types
    }
}
