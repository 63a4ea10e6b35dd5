import HeraldConfig
import HeraldDelivery
import HeraldIngest
import HeraldJSON
import HeraldSetup
import HeraldStorage
import Hummingbird
import Logging
import NIOCore

/// The REST server (`herald serve`): routes, access control and error rendering.
public struct APIServer: Sendable {
    public let configuration: HeraldConfiguration
    public let ingest: IngestService
    public let metrics: HeraldMetrics
    public let delivery: DeliveryService?
    /// Re-reads the configuration and plugin directories (POST /api/admin/_reload); returns a summary or throws.
    let reload: (@Sendable () async throws -> String)?
    /// The running configuration and the management API's changes (nil: started without a configuration file).
    let settings: ConfigurationRuntime?
    let access: AccessControl
    let logger: Logger

    public init(
        configuration: HeraldConfiguration, ingest: IngestService, metrics: HeraldMetrics, delivery: DeliveryService? = nil,
        reload: (@Sendable () async throws -> String)? = nil, settings: ConfigurationRuntime? = nil, logger: Logger
    ) {
        self.configuration = configuration
        self.ingest = ingest
        self.metrics = metrics
        self.delivery = delivery
        self.reload = reload
        self.settings = settings
        self.access = AccessControl(tokens: configuration.server.tokens)
        self.logger = logger
    }

    /// Refuses configurations that would expose the API without authentication.
    public static func checkExposure(_ server: ServerConfiguration) throws {
        if !server.isLoopback && server.tokens.isEmpty {
            throw APIError(
                .internalServerError, "INSECURE_CONFIGURATION",
                "refusing to listen on \(server.host) without access tokens: add server.tokens to the configuration "
                    + "(read/write/admin bearer tokens) or listen on 127.0.0.1")
        }
    }

    /// Builds the Hummingbird application. `onListening` receives the bound port (useful with port 0).
    ///
    /// Connections get the caps and timeouts of `configuration.server`, and TLS with `server.tls`.
    /// - Throws: `ServerSetupError` when the TLS certificate or key cannot be used.
    public func makeApplication(
        host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = makeRouter()
        let tls = try configuration.server.tls.map(APIServer.tlsConfiguration)
        return Application(
            router: router,
            server: APIServer.serverBuilder(configuration.server, tls: tls, metrics: metrics),
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), serverName: "herald", backlog: APIServer.listenBacklog),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? port)
            },
            logger: logger)
    }
}

/// Counts requests per route and status.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HeraldMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            let response = try await next(request, context)
            metrics.requests(route: context.endpointPath ?? "unknown", status: response.status.code).increment()
            return response
        } catch let error as HTTPResponseError {
            metrics.requests(route: context.endpointPath ?? "unknown", status: error.status.code).increment()
            throw error
        } catch {
            metrics.requests(route: context.endpointPath ?? "unknown", status: 500).increment()
            throw error
        }
    }
}

extension APIServer {
    func addAdminRoutes(to routes: RouteGroups) {
        routes.global(.admin).post("/api/admin/_reload") { request, _ -> Response in
            guard let reload else {
                throw APIError(.notImplemented, "RELOAD_UNAVAILABLE", "this server was started without a configuration file")
            }
            do {
                let summary = try await reload()
                var w = JSONWriter(capacity: 256)
                w.beginObject()
                w.key("status")
                w.string("reloaded")
                w.key("summary")
                w.string(summary)
                w.endObject()
                return jsonResponse(w.bytes)
            } catch let error as ConfigurationError {
                throw APIError(
                    .badRequest, "INVALID_CONFIGURATION",
                    "the configuration was not reloaded (the running one stays): \(error.description)")
            }
        }
    }
}
