import HeraldJSON
import Hummingbird

/// An API error, rendered as JSON with a stable `errorCode`:
/// `{"errorCode", "errorMessage", "path"?, "offset"?, "line"?, "column"?, "issues"?}`.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var path: String?
    public var offset: Int?
    public var line: Int?
    public var column: Int?
    /// Headers besides `Content-Type` (those of a Hummingbird `HTTPError` it was made from, e.g. `Allow`).
    public var extraHeaders: HTTPFields = [:]
    /// Every problem of a refused configuration change: its path in the configuration (as `herald config check`
    /// prints it) and, when inside the request body, its path there (`field`).
    public var issues: [Issue] = []

    public struct Issue: Sendable {
        public var path: String
        public var field: String?
        public var message: String

        public init(path: String, field: String?, message: String) {
            self.path = path
            self.field = field
            self.message = message
        }
    }

    public init(
        _ status: HTTPResponse.Status, _ code: String, _ message: String, path: String? = nil, offset: Int? = nil,
        line: Int? = nil, column: Int? = nil
    ) {
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.line = line
        self.column = column
    }

    public var headers: HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extraHeaders)
        return headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBody)))
    }

    /// The rendered JSON: also written by the connection handlers, which answer without a router.
    var jsonBody: [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.key("errorCode")
        w.string(code)
        w.key("errorMessage")
        w.string(message)
        if let path {
            w.key("path")
            w.string(path)
        }
        if let offset {
            w.key("offset")
            w.int(offset)
        }
        if let line {
            w.key("line")
            w.int(line)
        }
        if let column {
            w.key("column")
            w.int(column)
        }
        if !issues.isEmpty {
            w.key("issues")
            w.beginArray()
            for issue in issues {
                w.beginObject()
                w.key("path")
                w.string(issue.path)
                if let field = issue.field {
                    w.key("field")
                    w.string(field)
                }
                w.key("message")
                w.string(issue.message)
                w.endObject()
            }
            w.endArray()
        }
        w.endObject()
        return w.bytes
    }

    static func malformedJSON(_ error: JSONParseError) -> APIError {
        let what = error.code == .duplicateKey ? "is refused" : "is not valid JSON"
        return APIError(
            .badRequest, error.code.rawValue, "the request body \(what): \(error.reason)", offset: error.offset,
            line: error.line, column: error.column)
    }

    static func unknownTenant(_ tenant: String) -> APIError {
        APIError(.notFound, "UNKNOWN_TENANT", "tenant '\(Echo.cut(tenant))' is not configured on this server")
    }

    static func bodyTooLarge(_ limit: Int?) -> APIError {
        APIError(
            .contentTooLarge, "REQUEST_TOO_LARGE",
            "the request body is over the limit\(limit.map { " of \($0) bytes" } ?? "") (server.maxRequestBytes); "
                + "send smaller batches")
    }
}

/// A JSON response from bytes rendered by `JSONWriter`.
func jsonResponse(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, extraHeaders: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: "application/json"]
    headers.append(contentsOf: extraHeaders)
    return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
}
