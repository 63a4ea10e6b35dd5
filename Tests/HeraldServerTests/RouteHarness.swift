import Foundation
import HeraldConfig
import HeraldDelivery
import HeraldIngest
import HeraldJSON
import HeraldPlugins
import HeraldSetup
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

@testable import HeraldServer

/// Herald's server in process: a real SQLite store in a temporary directory, tenants `t1` (streaming to the built
/// file sink, destination `files/events`) and `t2`, tokens of every role scoped to `t1`, one for `t2` and two for
/// every tenant. Requests go straight to the router (HummingbirdTesting's `.router` framework).
final class RouteHarness: Sendable {
    static let tokens = """
        [{"name": "t1-admin", "token": "t1-admin-token-0123456789", "role": "admin", "tenants": ["t1"]},
         {"name": "t1-writer", "token": "t1-write-token-0123456789", "role": "write", "tenants": ["t1"]},
         {"name": "t1-reader", "token": "t1-read-token-0123456789", "role": "read", "tenants": ["t1"]},
         {"name": "t2-admin", "token": "t2-admin-token-0123456789", "role": "admin", "tenants": ["t2"]},
         {"name": "root-reader", "token": "root-read-token-0123456789", "role": "read", "tenants": "*"},
         {"name": "root", "token": "root-admin-token-0123456789", "role": "admin", "tenants": "*"}]
        """
    /// The token of each name above.
    static func token(_ name: String) -> String {
        ["t1-admin": "t1-admin-token-0123456789", "t1-writer": "t1-write-token-0123456789",
         "t1-reader": "t1-read-token-0123456789", "t2-admin": "t2-admin-token-0123456789",
         "root-reader": "root-read-token-0123456789", "root": "root-admin-token-0123456789"][name]!
    }
    static let destination = "files/events"

    let dir: TemporaryDirectory
    /// Where the file sink writes (one NDJSON line per message).
    let output: String
    let store: SQLiteStore
    let delivery: DeliveryService
    /// Runs `delivery` (its workers are child tasks of `run()`); cancelled by `close()`.
    let deliveryTask: Task<Void, Never>
    let server: APIServer

    /// - Parameters:
    ///   - dataDirectory: where the store lives (default: in the temporary directory).
    ///   - reload: what `POST /api/admin/_reload` runs.
    ///   - extraDestinations: providers and destinations added to t1's `files/events` (`"providers"` members, then
    ///     `"destinations"` items, as JSON text; `OUTPUT_DIR` stands for the temporary directory).
    ///   - activity: the delivery service's throughput history and recent errors (tests give short buckets).
    init(
        dataDirectory: String? = nil, reload: @escaping @Sendable () async throws -> String = { "reloaded" },
        extraDestinations: (providers: String, destinations: String)? = nil, activity: DeliveryActivity = DeliveryActivity()
    ) async throws {
        let dir = TemporaryDirectory(prefix: "herald-routes")
        self.dir = dir
        output = dir.file("events.ndjson")
        let extraProviders = extraDestinations.map { ", " + $0.providers.replacingOccurrences(of: "OUTPUT_DIR", with: dir.path) } ?? ""
        let extra = extraDestinations.map { ", " + $0.destinations } ?? ""
        let streaming = """
            {"messaging": {
              "providers": {"files": {"plugin": "file", "config": {"path": "\(output)"}}\(extraProviders)},
              "destinations": [{"provider": "files", "name": "events", "batch": {"lingerMs": 0}}\(extra)]}}
            """
        let t2 = TestConfiguration.tenantJSON.replacingOccurrences(of: "\"id\": \"t1\"", with: "\"id\": \"t2\"")
        let path = TestConfiguration.write(
            in: dir.path, tokens: RouteHarness.tokens,
            tenants: StreamingTestSupport.tenant(streaming: streaming) + ",\n" + t2,
            extra: "\"pluginDirectories\": [\"\(StreamingTestSupport.pluginDirectory(in: dir))\"],")
        let compiled = try CompiledConfiguration(try HeraldConfiguration.load(path: path), file: path)
        let configuration = compiled.configuration
        let registry = PluginRegistry(directories: configuration.pluginDirectories)
        registry.scan()
        var logger = Logger(label: "herald.test")
        logger.logLevel = .critical
        store = try SQLiteStore(directory: dataDirectory ?? configuration.dataDirectory ?? dir.file("data"), logger: logger)
        let ingest = IngestService(store: store, tenants: configuration.tenants, matching: compiled.matching)
        let metrics = HeraldMetrics(logger: logger)
        // One process serves this SQLite store, as `herald serve` treats it: leases do not lapse on a loaded machine.
        let delivery = DeliveryService(
            store: store, registry: registry, logger: logger, metrics: metrics, exclusiveStore: true, activity: activity)
        await delivery.apply(tenants: configuration.tenants, filters: compiled.filters)
        self.delivery = delivery
        deliveryTask = Task { try? await delivery.run() }
        let settings = ConfigurationRuntime(path: path, environment: [:], store: store, registry: registry, logger: logger)
        _ = try await settings.start()
        settings.onApply { compiled in
            ingest.update(tenants: compiled.configuration.tenants, matching: compiled.matching)
            await delivery.apply(tenants: compiled.configuration.tenants, filters: compiled.filters)
        }
        server = APIServer(
            configuration: configuration, ingest: ingest, metrics: metrics, delivery: delivery, reload: reload,
            settings: settings, logger: logger)
    }

    /// Stops the delivery workers and closes the store.
    func close() async {
        await stopDelivery()
        store.close()
    }

    /// Stops the delivery workers (cancelling `run()` stops each after its round).
    func stopDelivery() async {
        deliveryTask.cancel()
        await deliveryTask.value
    }

    /// Runs `body` with a client whose requests go straight to the server's router.
    func test<T: Sendable>(_ body: @Sendable (RouteClient) async throws -> T) async throws -> T {
        let app = try server.makeApplication(host: "127.0.0.1", port: 0)
        return try await app.test(.router) { client in try await body(RouteClient(client: client)) }
    }
}

/// A response: status, headers, the body as text and as JSON.
struct RouteResponse: Sendable {
    let status: Int
    let headers: HTTPFields
    let text: String

    var json: JSONValue? { try? JSONParser.parse(text) }
    var errorCode: String? { json?["errorCode"]?.stringValue }
    var errorMessage: String? { json?["errorMessage"]?.stringValue }
}

/// Sends requests with a token by name (see `RouteHarness.tokens`), or none.
struct RouteClient: Sendable {
    let client: any TestClientProtocol

    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> RouteResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(RouteHarness.token(token))" }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return RouteResponse(
            status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
    }
}
