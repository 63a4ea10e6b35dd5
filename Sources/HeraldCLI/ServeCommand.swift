import ArgumentParser
import Foundation
import HeraldConfig
import HeraldDelivery
import HeraldIngest
import HeraldPlugins
import HeraldServer
import HeraldSetup
import HeraldStorage
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Herald daemon: REST API, store and CRUD queue.",
        discussion: "Stops gracefully on SIGTERM or SIGINT: stops accepting, finishes in-flight requests, closes the store.")

    @Option(name: .shortAndLong, help: "Configuration file (JSON).")
    var config: String

    @Option(help: "Override server.host from the configuration.")
    var host: String?

    @Option(help: "Override server.port (0 picks a free port; the chosen one is printed).")
    var port: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(
        help: ArgumentHelp(
            "This node's id among the nodes sharing one store (delivery leases, /api/cluster, the metrics' node label).",
            discussion: "Default: HERALD_NODE_ID, else the host and port the server listens on."))
    var nodeId: String?

    /// `--node-id`, else `HERALD_NODE_ID`, else the listen address's host (the machine's name when it listens on
    /// every address) and port (the process id as well with port 0, which is only known once listening).
    static func nodeID(option: String?, environment: [String: String], server: ServerConfiguration) throws(NodeIDError)
        -> NodeID
    {
        if let option, !option.isEmpty { return try checked(option, from: "--node-id") }
        if let env = environment["HERALD_NODE_ID"], !env.isEmpty { return try checked(env, from: "HERALD_NODE_ID") }
        var host = server.host
        if host == "0.0.0.0" || host == "::" || host.isEmpty { host = ProcessInfo.processInfo.hostName }
        if host.contains(":") { host = "[\(host)]" }
        if server.port == 0 { return NodeID("\(host):0-pid\(ProcessInfo.processInfo.processIdentifier)") }
        return NodeID("\(host):\(server.port)")
    }

    /// A node id given by the operator: it names the node in the lease table, in `/api/cluster` and in every metric's
    /// labels, so it is short and plain.
    static func checked(_ id: String, from source: String) throws(NodeIDError) -> NodeID {
        let allowed = id.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && $0 != "\"" }
        guard id.utf8.count <= 128, allowed else {
            throw NodeIDError(
                message: "\(source) must be 1-128 printable ASCII characters without spaces or quotes (such as node-1 or "
                    + "host:8080), got '\(id.prefix(64).unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "?" }.joined())'")
        }
        return NodeID(id)
    }

    struct NodeIDError: Error { var message: String }

    func run() async throws {
        // Refused here is exactly what `herald config check` refuses (the file, then every provider's plugin).
        let configPath = HeraldConfiguration.absolute(config)
        let compiled: CompiledConfiguration
        let registry: PluginRegistry
        do {
            (compiled, registry) = try HeraldConfiguration.loadForRunning(path: configPath) { c in
                let registry = PluginRegistry(directories: c.pluginDirectories)
                registry.scan()
                return registry
            }
        } catch let error as ConfigurationError {
            printError(error.description)
            throw ExitCode(2)
        }
        var configuration = compiled.configuration
        if let host { configuration.server.host = host }
        if let port { configuration.server.port = port }
        let node: NodeID
        do {
            node = try ServeCommand.nodeID(
                option: nodeId, environment: ProcessInfo.processInfo.environment, server: configuration.server)
        } catch {
            printError("herald: \(error.message)")
            throw ExitCode(2)
        }
        do {
            try APIServer.checkExposure(configuration.server)
        } catch let error as APIError {
            printError("herald: \(error.message)")
            throw ExitCode(2)
        }
        do {
            try APIServer.checkTransport(configuration.server)
            if let files = configuration.server.tls { _ = try APIServer.tlsConfiguration(files) }
        } catch let error as ServerSetupError {
            printError("herald: \(error.message)")
            throw ExitCode(2)
        }
        let storeSetup: StoreSetup
        do {
            storeSetup = try StoreSetup.make(configuration, environment: ProcessInfo.processInfo.environment)
        } catch {
            printError("herald: \(error.message)")
            throw ExitCode(2)
        }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "herald")
        for w in configuration.warnings { logger.warning("configuration: \(w.path): \(w.message)") }
        if let limit = OpenFileLimit.raiseToHardLimit(),
            let warning = configuration.server.fitConnections(toOpenFileLimit: limit)
        {
            logger.warning("\(warning)")
        }

        let storeConfiguration = configuration.store
        let store: any Store
        do {
            store = try await storeSetup.open(logger: logger)
        } catch {
            logger.error("cannot open the store (\(storeSetup.location)): \(error)")
            throw ExitCode(1)
        }
        logger.info("store: \(storeConfiguration.backend.name) at \(store.location)")
        // The file with the changes made through the management API layered over it (decision 0014).
        let runtime = ConfigurationRuntime(
            path: configPath, environment: ProcessInfo.processInfo.environment, store: store, registry: registry,
            logger: logger)
        let running: CompiledConfiguration
        do {
            running = try await runtime.start()
        } catch let error as ConfigurationError {
            logger.error("\(error.description)")
            await store.close()
            throw ExitCode(2)
        } catch {
            logger.error("cannot read the streaming settings changed through the API: \(error)")
            await store.close()
            throw ExitCode(1)
        }
        configuration.tenants = running.configuration.tenants
        let ingest = IngestService(
            store: store, tenants: configuration.tenants, matching: running.matching,
            profileCacheEntries: storeConfiguration.matchProfileCacheEntries)
        var exclusiveStore = false
        if case .sqlite = storeConfiguration.backend {
            // One process serves a SQLite file: leases a previous process held are void (no wait for them to lapse),
            // and this one's never need to lapse.
            exclusiveStore = true
            do { try await store.resetLeases() } catch { logger.warning("cannot reset delivery leases: \(error)") }
        }
        logger.info("node \(node), delivery leases of \(configuration.cluster.leaseMs) ms")
        let metrics = HeraldMetrics(logger: logger, node: node.rawValue)
        logPlugins(registry.statuses, logger: logger)
        let delivery = DeliveryService(
            store: store, registry: registry, logger: logger, metrics: metrics, node: node,
            leaseMs: configuration.cluster.leaseMs, exclusiveStore: exclusiveStore)
        await delivery.apply(tenants: configuration.tenants, filters: running.filters)
        let compactor = QueueCompactor(
            store: store, delivery: delivery, logger: logger,
            interval: .seconds(configuration.store.compactionIntervalSeconds))
        compactor.configure(tenants: configuration.tenants, retentionHours: configuration.store.queueRetentionHours)
        runtime.onApply { compiled in
            let c = compiled.configuration
            ingest.update(tenants: c.tenants, matching: compiled.matching)
            await delivery.apply(tenants: c.tenants, filters: compiled.filters)
            compactor.configure(tenants: c.tenants, retentionHours: c.store.queueRetentionHours)
        }
        let runningBackend = configuration.store.backend
        let runningDataDirectory = configuration.dataDirectory
        let reload: @Sendable () async throws -> String = {
            logPlugins(registry.scan(), logger: logger)
            let fresh = try await runtime.reload().configuration
            for w in fresh.warnings { logger.warning("configuration: \(w.path): \(w.message)") }
            if fresh.store.backend != runningBackend
                || (runningBackend == .sqlite && fresh.dataDirectory != runningDataDirectory)
            {
                logger.warning("configuration: the store's settings changed; they take effect at the next restart")
            }
            logger.info("configuration reloaded from \(configPath)")
            return fresh.summary
        }
        let server = APIServer(
            configuration: configuration, ingest: ingest, metrics: metrics, delivery: delivery, reload: reload,
            settings: runtime, logger: logger)
        let serverConfiguration = configuration.server
        let app = try server.makeApplication(host: serverConfiguration.host, port: serverConfiguration.port) { port in
            // Tests and scripts wait for this line to learn the port.
            let url = APIServer.listeningURL(serverConfiguration, port: port)
            FileHandle.standardOutput.write("herald listening on \(url)\n".data(using: .utf8)!)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: delivery), .init(service: compactor), .init(service: app),
                    .init(service: ReloadOnHangup(reload: reload, logger: logger)),
                    .init(service: SettingsSync(runtime: runtime)),
                    .init(service: MemoryTrimmer(interval: MemoryTrimmer.defaultInterval, logger: logger)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("server stopped with an error: \(error)")
            await store.close()
            throw ExitCode(1)
        }
        await store.close()
        logger.info("herald stopped")
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
}

func logPlugins(_ statuses: [PluginStatus], logger: Logger) {
    for s in statuses {
        if let p = s.plugin {
            logger.info("plugin \(p.name) \(p.version) (ABI \(p.abiMajor).\(p.abiMinor)) loaded from \(p.manifest.library)")
        } else {
            logger.error("plugin \(s.name) not loaded: \(s.error?.message ?? "unknown reason") (manifest \(s.manifestPath))")
        }
    }
}

/// SIGHUP reloads the configuration file and rescans the plugin directories.
struct ReloadOnHangup: Service {
    let reload: @Sendable () async throws -> String
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            do {
                _ = try await reload()
            } catch {
                logger.error("reload failed, the running configuration stays: \(error)")
            }
        }
    }
}

/// Applies the streaming changes other nodes made through the management API: polls the store every 2 s.
struct SettingsSync: Service {
    let runtime: ConfigurationRuntime

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await runtime.syncLoop(every: .seconds(2))
        }
    }
}
