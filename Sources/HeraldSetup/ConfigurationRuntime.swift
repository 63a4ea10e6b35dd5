import Foundation
import HeraldConfig
import HeraldJSON
import HeraldModel
import HeraldPlugins
import HeraldStorage
import Logging
import Synchronization

/// The running configuration of `herald serve`: the configuration file with the management API's changes layered
/// over it (decision 0014).
///
/// - At start and on reload it reads the file and the store's overrides, drops (and records in the audit list) the
///   overrides the file has changed since or no longer supports, and hands the result to the stages.
/// - An API change is validated exactly as `herald config check` validates the file (the same reader, compiled
///   filters and plugin validation, the same JSON paths), stored with its audit line, and applied without a restart.
/// - Every node polls the store (`sync`) and applies the changes other nodes made.
public final class ConfigurationRuntime: Sendable {
    public let path: String
    let baseDirectory: String
    let environment: [String: String]
    let store: any StreamingSettings
    let registry: PluginRegistry
    let logger: Logger
    private let serial = AsyncMutex()

    struct Running: Sendable {
        var fileBytes: [UInt8]
        var layered: LayeredConfiguration
        var compiled: CompiledConfiguration
        var overrides: StreamingOverrides
    }

    private let running = Mutex<Running?>(nil)
    /// Whether the last poll failed (its warning is logged once per outage).
    private let syncFailing = Atomic<Bool>(false)
    private let applier = Mutex<(@Sendable (CompiledConfiguration) async -> Void)?>(nil)

    public init(
        path: String, environment: [String: String], store: any StreamingSettings, registry: PluginRegistry, logger: Logger
    ) {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        self.baseDirectory = folder.isEmpty ? FileManager.default.currentDirectoryPath : folder
        self.environment = environment
        self.store = store
        self.registry = registry
        self.logger = logger
    }

    /// What applies a new configuration to the stages (ingest, delivery, compaction): set once they exist.
    public func onApply(_ apply: @escaping @Sendable (CompiledConfiguration) async -> Void) {
        applier.withLock { $0 = apply }
    }

    /// The configuration in effect.
    public var current: CompiledConfiguration? { running.withLock { $0?.compiled } }
    /// The document it was read from, with the API's changes.
    public var layered: LayeredConfiguration? { running.withLock { $0?.layered } }

    /// Reads the file and the store's overrides; drops and records what the file has superseded. Nothing is applied
    /// (the caller builds the stages from the result, then calls `onApply`).
    public func start() async throws -> CompiledConfiguration {
        try await serial.withLock { try await readFile() }
    }

    /// Re-reads the file and the overrides (SIGHUP, `POST /api/admin/_reload`) and applies them.
    @discardableResult
    public func reload() async throws -> CompiledConfiguration {
        try await serial.withLock {
            let compiled = try await readFile()
            await applier.withLock({ $0 })?(compiled)
            return compiled
        }
    }

    /// Applies the changes other nodes stored since the last look (every node polls this).
    public func sync() async {
        await serial.withLock {
            guard let r = running.withLock({ $0 }) else { return }
            do {
                let overrides = try await store.streamingOverrides()
                if syncFailing.exchange(false, ordering: .relaxed) {
                    logger.info("configuration: the streaming settings in the store can be read again")
                }
                if overrides == r.overrides { return }
                let (layered, compiled) = try layer(r.fileBytes, overrides)
                // Nothing is dropped from the store here: this node's file may be older than the node's that made
                // the change (a reload or restart settles it against this node's file).
                for item in layered.outcome.superseded + layered.outcome.retired.map(\.item) {
                    logger.warning("configuration: the API's \(item.kind.rawValue) \(item.id) of \(item.tenant) does not fit this node's file; not applied here")
                }
                running.withLock { $0 = Running(fileBytes: r.fileBytes, layered: layered, compiled: compiled, overrides: overrides) }
                logger.info("configuration: applying streaming changes made through the API")
                await applier.withLock({ $0 })?(compiled)
            } catch {
                // Once per outage, not every poll.
                if !syncFailing.exchange(true, ordering: .relaxed) {
                    logger.warning("configuration: cannot read or apply the streaming changes made through the API (retried every poll): \(error)")
                }
            }
        }
    }

    /// Polls the store every `interval` until the task is cancelled.
    public func syncLoop(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if Task.isCancelled { return }
            await sync()
        }
    }

    // MARK: reading

    private func readFile() async throws -> CompiledConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                file: path, issues: [JSONShapeIssue(path: .root, message: "cannot read the file (missing or not readable)")])
        }
        let bytes = [UInt8](data)
        var overrides = try await store.streamingOverrides()
        let (layered, compiled) = try layer(bytes, overrides)
        if !layered.outcome.isEmpty {
            try await settle(layered)
            overrides = try await store.streamingOverrides()
        }
        running.withLock { $0 = Running(fileBytes: bytes, layered: layered, compiled: compiled, overrides: overrides) }
        return compiled
    }

    /// Forgets the overrides the file superseded or no longer supports, each with an audit line, and logs why.
    private func settle(_ layered: LayeredConfiguration) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let fileVersions = HeraldConfiguration.fileSettings(layered.file)
        for item in layered.outcome.superseded {
            logger.warning(
                "configuration: \(item.kind.rawValue) \(item.id) of \(item.tenant) was changed in the file after the API changed it: the file's version is used, the API's is dropped (kept in the audit list)")
            try await store.saveStreamingOverride(
                item.key, nil,
                change: StreamingChange(
                    tenant: item.tenant, at: now, actor: "file", action: "superseded", kind: item.kind.rawValue,
                    target: item.id, before: item.body.map { Self.auditText($0, kind: item.kind) },
                    after: fileVersions[item.key].flatMap { Self.auditText(json: $0, kind: item.kind) }))
        }
        for (item, issues) in layered.outcome.retired {
            let reasons = issues.map { "\($0.path): \($0.message)" }
            logger.warning(
                "configuration: the API's \(item.kind.rawValue) \(item.id) of \(item.tenant) no longer fits the file and is dropped (kept in the audit list): \(reasons.joined(separator: "; "))")
            var why = JSONWriter(capacity: 256)
            why.beginObject()
            why.key("droppedBecause")
            why.beginArray()
            for r in reasons { why.string(r) }
            why.endArray()
            why.endObject()
            try await store.saveStreamingOverride(
                item.key, nil,
                change: StreamingChange(
                    tenant: item.tenant, at: now, actor: "herald", action: "retired", kind: item.kind.rawValue,
                    target: item.id, before: item.body.map { Self.auditText($0, kind: item.kind) },
                    after: String(decoding: why.bytes, as: UTF8.self)))
        }
    }

    /// The file with `overrides` layered over it, compiled and checked against the plugins.
    private func layer(_ bytes: [UInt8], _ overrides: StreamingOverrides) throws(ConfigurationError)
        -> (LayeredConfiguration, CompiledConfiguration)
    {
        try layer(bytes, overlay(overrides))
    }

    private func overlay(_ overrides: StreamingOverrides) -> ConfigurationOverlay {
        var items: [ConfigurationOverlay.Item] = []
        for o in overrides.overrides {
            var body: JSONValue?
            if let text = o.body {
                guard let parsed = try? JSONParser.parse(Array(text.utf8)) else {
                    logger.error("configuration: the stored \(o.key) does not parse as JSON; ignored")
                    continue
                }
                body = parsed
            }
            items.append(ConfigurationOverlay.Item(key: o.key, body: body, base: o.base))
        }
        return ConfigurationOverlay(items: items, paused: Set(overrides.pauses.map(\.key)))
    }

    /// What the audit list keeps of a setting: its JSON, providers with their secrets replaced.
    static func auditText(_ json: JSONValue, kind: StreamingSettingKey.Kind) -> String {
        (kind == .provider ? ProviderSecrets.redact(json) : json).serializedString()
    }

    static func auditText(json text: String, kind: StreamingSettingKey.Kind) -> String? {
        guard let json = try? JSONParser.parse(Array(text.utf8)) else { return nil }
        return auditText(json, kind: kind)
    }

    // MARK: changes through the API

    /// Why a change was refused.
    public enum Refusal: Error, Sendable {
        /// No such destination or provider in the tenant.
        case notFound(String)
        /// A destination with that id exists already.
        case exists(String)
        /// The request itself is wrong (not an object, an id that contradicts the path).
        case badRequest(String, field: String)
        /// The configuration it would make does not validate: each problem with its configuration path and, when
        /// inside the changed setting, its path in the request body.
        case invalid([Problem])
        /// The tenant has as many destinations or providers as the API may give it (`maxDestinationsPerTenant`,
        /// `maxProvidersPerTenant`).
        case limit(String)
    }

    /// The most destinations a tenant may have for the API to add another: each runs a worker and a sink instance
    /// (with `isolation: "process"`, a child process), so a token must not be able to create them without end.
    public static let maxDestinationsPerTenant = 256
    /// The most providers a tenant may have for the API to add another.
    public static let maxProvidersPerTenant = 64
    /// The longest destination id the API accepts (ids appear in paths, logs and metric labels).
    public static let maxIdBytes = 256

    public struct Problem: Sendable {
        public var path: String
        public var field: String?
        public var message: String
    }

    /// Creates a destination (`POST …/streaming/destinations`). Without an `id`, it gets `provider/name` (as in
    /// the file). - Returns: the destination as now configured.
    public func createDestination(tenant: String, body: JSONValue, actor: String) async throws -> JSONValue {
        guard var members = body.objectValue else { throw Refusal.badRequest("expected a destination object", field: "$") }
        let explicit = body["id"]
        if let explicit, explicit.stringValue?.isEmpty ?? true {
            throw Refusal.badRequest("'id' must be a non-empty string", field: "id")
        }
        let id =
            explicit?.stringValue
            ?? "\(body["provider"]?.stringValue ?? "")/\(body["name"]?.stringValue ?? "")"
        if id.utf8.count > Self.maxIdBytes {
            throw Refusal.badRequest(
                "the destination id (\(explicit == nil ? "provider/name" : "id")) has \(id.utf8.count) bytes; at most \(Self.maxIdBytes)",
                field: explicit == nil ? "name" : "id")
        }
        if explicit == nil { members.insert(JSONMember(key: "id", value: .string(id)), at: 0) }
        let result = try await change(StreamingSettingKey(tenant: tenant, kind: .destination, id: id), action: "create", actor: actor) {
            current in
            if current != nil { throw Refusal.exists(id) }
            return .object(members)
        }
        return result ?? .null
    }

    /// Replaces a destination (`PUT …/destinations/{id}`); the body's `id`, if given, must be the path's.
    public func replaceDestination(tenant: String, id: String, body: JSONValue, actor: String) async throws -> JSONValue {
        guard var members = body.objectValue else { throw Refusal.badRequest("expected a destination object", field: "$") }
        if let given = body["id"], given != .string(id) {
            throw Refusal.badRequest("'id' must be '\(id)' (the destination in the path) or absent", field: "id")
        }
        if body["id"] == nil { members.insert(JSONMember(key: "id", value: .string(id)), at: 0) }
        let result = try await change(StreamingSettingKey(tenant: tenant, kind: .destination, id: id), action: "replace", actor: actor) {
            current in
            if current == nil { throw Refusal.notFound(id) }
            return .object(members)
        }
        return result ?? .null
    }

    /// Changes some members of a destination (`PATCH …/destinations/{id}`, a JSON merge patch, RFC 7396).
    public func patchDestination(tenant: String, id: String, patch: JSONValue, actor: String) async throws -> JSONValue {
        guard patch.objectValue != nil else { throw Refusal.badRequest("expected a JSON merge patch (an object)", field: "$") }
        if let given = patch["id"], given != .string(id) {
            throw Refusal.badRequest("the id of a destination cannot be changed (delete it and create another)", field: "id")
        }
        let result = try await change(StreamingSettingKey(tenant: tenant, kind: .destination, id: id), action: "patch", actor: actor) {
            current in
            guard let current else { throw Refusal.notFound(id) }
            return JSONMergePatch.apply(patch, to: current)
        }
        return result ?? .null
    }

    /// Removes a destination (`DELETE …/destinations/{id}`). Its cursor, retry schedule and dead letters stay in
    /// the store: a destination created again with the same id continues from them.
    public func deleteDestination(tenant: String, id: String, actor: String) async throws {
        _ = try await change(StreamingSettingKey(tenant: tenant, kind: .destination, id: id), action: "delete", actor: actor) {
            current in
            if current == nil { throw Refusal.notFound(id) }
            return nil
        }
    }

    /// Creates or replaces a provider (`PUT …/streaming/providers/{alias}`). Secrets sent back as the placeholder
    /// keep their stored values. - Returns: the provider as now configured, secrets replaced.
    public func putProvider(tenant: String, alias: String, body: JSONValue, actor: String) async throws -> JSONValue {
        guard body.objectValue != nil else { throw Refusal.badRequest("expected a provider object", field: "$") }
        let result = try await change(StreamingSettingKey(tenant: tenant, kind: .provider, id: alias), action: "put", actor: actor) {
            current in ProviderSecrets.restore(body, from: current)
        }
        return ProviderSecrets.redact(result ?? .null)
    }

    /// Pauses or resumes a destination. - Returns: whether it was paused before.
    @discardableResult
    public func setPaused(tenant: String, id: String, paused: Bool, actor: String) async throws -> Bool {
        try await serial.withLock {
            guard let r = running.withLock({ $0 }), r.layered.destination(tenant: tenant, id: id) != nil else {
                throw Refusal.notFound(id)
            }
            let key = DestinationKey(tenant: tenant, destination: id)
            let overrides = try await store.streamingOverrides()
            let was = overrides.pauses.contains { $0.key == key }
            if was == paused { return was }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await store.savePause(
                key, paused ? DestinationPause(key: key, pausedBy: actor, pausedAt: now) : nil,
                change: StreamingChange(
                    tenant: tenant, at: now, actor: actor, action: paused ? "pause" : "resume", kind: "destination",
                    target: id, before: nil, after: nil))
            try await applyStored(fileBytes: r.fileBytes)
            return was
        }
    }

    /// Whether a destination is paused in the configuration in effect (nil: no such destination).
    public func isPaused(tenant: String, id: String) -> Bool? {
        current?.configuration.tenant(tenant)?.streaming.destinations.first { $0.id == id }?.paused
    }

    /// One change: `make` gets the setting's JSON as configured now (nil: none) and returns the new one (nil:
    /// remove it). The result is validated as the file is, stored with its audit line, and applied.
    private func change(
        _ key: StreamingSettingKey, action: String, actor: String, _ make: (JSONValue?) throws -> JSONValue?
    ) async throws -> JSONValue? {
        try await serial.withLock {
            guard let r = running.withLock({ $0 }) else { throw Refusal.notFound(key.id) }
            let currentJSON: JSONValue?
            switch key.kind {
            case .destination: currentJSON = r.layered.destination(tenant: key.tenant, id: key.id)
            case .provider: currentJSON = r.layered.providers(tenant: key.tenant).first { $0.alias == key.id }?.json
            }
            let body = try make(currentJSON)
            if currentJSON == nil, body != nil {
                let (count, limit) =
                    key.kind == .destination
                    ? (r.layered.destinations(tenant: key.tenant).count, Self.maxDestinationsPerTenant)
                    : (r.layered.providers(tenant: key.tenant).count, Self.maxProvidersPerTenant)
                if count >= limit {
                    throw Refusal.limit(
                        "tenant '\(key.tenant)' has \(count) \(key.kind.rawValue)s; the API adds no more than \(limit) (remove one first)")
                }
            }
            let fileVersions = HeraldConfiguration.fileSettings(r.layered.file)
            let base = fileVersions[key]
            // The store's overrides now (another node may have changed others), with this one in place. Removing
            // what only the API had forgets its override; anything else is an override (a removal is a tombstone).
            let stored = try await store.streamingOverrides()
            var overlay = self.overlay(stored)
            overlay.items.removeAll { $0.key == key }
            let forget = body == nil && base == nil
            if !forget { overlay.items.append(ConfigurationOverlay.Item(key: key, body: body, base: base)) }
            try validate(r.fileBytes, overlay, changed: key)

            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let override =
                forget
                ? nil
                : StreamingOverride(
                    key: key, body: body?.serializedString(), base: base, updatedBy: actor, updatedAt: now)
            try await store.saveStreamingOverride(
                key, override,
                change: StreamingChange(
                    tenant: key.tenant, at: now, actor: actor, action: action, kind: key.kind.rawValue, target: key.id,
                    before: currentJSON.map { Self.auditText($0, kind: key.kind) },
                    after: body.map { Self.auditText($0, kind: key.kind) }))
            logger.info("configuration: \(actor) did \(action) on \(key.kind.rawValue) \(key.id) of \(key.tenant) through the API")
            // A removed destination takes its pause with it: one created again with the id starts as configured.
            let destinationKey = DestinationKey(tenant: key.tenant, destination: key.id)
            if key.kind == .destination, body == nil, stored.pauses.contains(where: { $0.key == destinationKey }) {
                try await store.savePause(
                    destinationKey, nil,
                    change: StreamingChange(
                        tenant: key.tenant, at: now, actor: actor, action: "resume", kind: "destination", target: key.id,
                        before: nil, after: "{\"reason\":\"the destination was deleted\"}"))
            }
            let layered = try await applyStored(fileBytes: r.fileBytes)
            switch key.kind {
            case .destination: return layered.destination(tenant: key.tenant, id: key.id)
            case .provider: return layered.providers(tenant: key.tenant).first { $0.alias == key.id }?.json
            }
        }
    }

    /// Refuses an overlay under which the file does not validate, or under which any override would be dropped.
    private func validate(_ bytes: [UInt8], _ overlay: ConfigurationOverlay, changed key: StreamingSettingKey) throws {
        let (document, _) = HeraldConfiguration.apply(overlay.items, to: (try? JSONParser.parse(bytes)) ?? .null)
        let place = HeraldConfiguration.path(of: key, in: document)
        func problems(_ issues: [JSONShapeIssue]) -> [Problem] {
            issues.map { issue in
                var field: String?
                if let place, issue.path.components.starts(with: place.components) {
                    let rest = JSONPath(Array(issue.path.components.dropFirst(place.components.count)))
                    field = rest.components.isEmpty ? "$" : rest.description
                }
                return Problem(path: issue.path.description, field: field, message: issue.message)
            }
        }
        let layered: LayeredConfiguration
        do {
            (layered, _) = try layer(bytes, overlay)
        } catch {
            throw Refusal.invalid(problems(error.issues))
        }
        let dropped = layered.outcome.retired.flatMap(\.issues)
        if !dropped.isEmpty { throw Refusal.invalid(problems(dropped)) }
    }

    /// Re-reads the overrides, layers them over the running file, and applies the result.
    @discardableResult
    private func applyStored(fileBytes: [UInt8]) async throws -> LayeredConfiguration {
        let overrides = try await store.streamingOverrides()
        let (layered, compiled) = try layer(fileBytes, overrides)
        running.withLock { $0 = Running(fileBytes: fileBytes, layered: layered, compiled: compiled, overrides: overrides) }
        await applier.withLock({ $0 })?(compiled)
        return layered
    }
}

extension ConfigurationRuntime {
    /// The file with `overlay` layered over it, compiled and checked against the plugins (the checks of
    /// `herald config check`).
    fileprivate func layer(_ bytes: [UInt8], _ overlay: ConfigurationOverlay) throws(ConfigurationError)
        -> (LayeredConfiguration, CompiledConfiguration)
    {
        var compiled: CompiledConfiguration?
        let path = self.path
        let registry = self.registry
        let layered = try HeraldConfiguration.parse(
            bytes: bytes, file: path, baseDirectory: baseDirectory, environment: environment, overlay: overlay
        ) { configuration in
            do {
                let c = try CompiledConfiguration(configuration, file: path)
                let issues = configuration.providerIssues(registry)
                if issues.isEmpty { compiled = c }
                return issues
            } catch let error as ConfigurationError {
                return error.issues
            } catch {
                return [JSONShapeIssue(path: .root, message: "\(error)")]
            }
        }
        guard let compiled else {
            throw ConfigurationError(file: path, issues: [JSONShapeIssue(path: .root, message: "the configuration did not compile")])
        }
        return (layered, compiled)
    }
}
