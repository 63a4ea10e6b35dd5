import HeraldConfig
import HTTPTypes
import HeraldJSON
import Hummingbird
import NIOCore

/// The operator console (`/console/`): static HTML, CSS and JavaScript compiled into the binary with SwiftPM's
/// `embedInCode` (`PackageResources`), and `GET /api/whoami`, which the console asks after sign-in.
///
/// The files hold no data: they are served without a token (`routes.open`); every value they show comes from the
/// API with the operator's token. Every console response carries a Content-Security-Policy that allows only the
/// console's own scripts and styles (no inline script or style, no eval), so data that ever reached the page as
/// markup still could not run.
extension APIServer {
    /// The console's files by name, with their content types.
    static let consoleFiles: [String: (bytes: [UInt8], contentType: String)] = [
        "index.html": (PackageResources.index_html, "text/html; charset=utf-8"),
        "console.css": (PackageResources.console_css, "text/css; charset=utf-8"),
        "core.js": (PackageResources.core_js, "text/javascript; charset=utf-8"),
        "console.js": (PackageResources.console_js, "text/javascript; charset=utf-8"),
        "overview.js": (PackageResources.overview_js, "text/javascript; charset=utf-8"),
        "destination.js": (PackageResources.destination_js, "text/javascript; charset=utf-8"),
        "deadletters.js": (PackageResources.deadletters_js, "text/javascript; charset=utf-8"),
        "playground.js": (PackageResources.playground_js, "text/javascript; charset=utf-8"),
        "events.js": (PackageResources.events_js, "text/javascript; charset=utf-8"),
    ]

    /// The headers of every console response.
    static let consoleHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-cache",
    ]

    func addConsoleRoutes(to routes: RouteGroups) {
        // `/console` and `/console/` reach the same route; only the second may serve the page, so that its
        // relative links (`console.js`) resolve under `/console/`.
        routes.open.get("/console") { request, _ -> Response in
            if request.uri.path.hasSuffix("/") { return APIServer.consoleFile("index.html") }
            var headers = APIServer.consoleHeaders
            headers[.location] = "/console/"
            return Response(status: .movedPermanently, headers: headers)
        }
        routes.open.get("/console/:file") { _, context -> Response in
            let name = context.parameters.get("file") ?? ""
            guard APIServer.consoleFiles[name] != nil else {
                throw APIError(.notFound, "NOT_FOUND", "the console has no file '\(Echo.cut(name))'")
            }
            return APIServer.consoleFile(name)
        }

        let tenants = configuration.tenants.map(\.id)
        routes.signedIn.get("/api/whoami") { _, context -> Response in
            let identity = context.identity
            var w = JSONWriter(capacity: 256)
            w.beginObject()
            w.key("user")
            w.string(identity.user)
            w.key("role")
            w.string(identity.role.rawValue)
            w.key("tenants")
            w.beginArray()
            for t in tenants where identity.tenants.allows(t) { w.string(t) }
            w.endArray()
            w.endObject()
            return jsonResponse(w.bytes)
        }
    }

    static func consoleFile(_ name: String) -> Response {
        let file = consoleFiles[name]!
        var headers = consoleHeaders
        headers[.contentType] = file.contentType
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}
