import Foundation
import HeraldJSON
import HeraldModel

/// A tenant's `streamingConfig`: which events go where, in which shape.
///
/// The keys are those of the MDM platform our users know (`streamingEnabled`,
/// `largeObjectsSupport`, `analyzeOvChanges`, `messaging.destinations[]` with `name`,
/// `typeFilter`, `objectFilter`, `payloadType`, `format`); Herald's additions (providers with
/// plugin configuration, ordering, batching, retry policy) sit beside them.
public struct StreamingConfiguration: Sendable {
    public var streamingEnabled: Bool = true
    /// Over the size limit: send the message without the object and with `exceededQueueSizeLimit`.
    public var largeObjectsSupport: Bool = false
    /// Include `ovChanged` in message bodies.
    public var analyzeOvChanges: Bool = false
    public var providers: [String: ProviderConfiguration] = [:]
    public var destinations: [DestinationConfiguration] = []

    public init() {}
}

/// A named sink instance: which plugin, with which configuration.
public struct ProviderConfiguration: Sendable, Equatable {
    public var alias: String
    public var plugin: String
    /// The plugin's configuration, serialized JSON (validated by the plugin itself).
    public var config: String
    /// Where the provider's sink instances run, as configured (nil: `defaultIsolation(for:)`).
    public var isolation: SinkIsolation?
    /// The settings of `isolation: "process"`.
    public var process = ProcessIsolationSettings()

    public init(alias: String, plugin: String, config: String, isolation: SinkIsolation? = nil) {
        self.alias = alias
        self.plugin = plugin
        self.config = config
        self.isolation = isolation
    }

    /// The sinks shipped in this repository's `Plugins/`, which run in process unless configured otherwise.
    public static let shippedPlugins: Set<String> = ["file", "sqs", "pubsub", "servicebus", "kafka"]

    /// In process for the shipped sinks (reviewed with Herald, and fastest there), in a child process for every
    /// other plugin: an operator cannot vet every library dropped into `plugins.d` (decision 0013).
    public static func defaultIsolation(for plugin: String) -> SinkIsolation {
        shippedPlugins.contains(plugin) ? .inProcess : .process
    }

    public var effectiveIsolation: SinkIsolation { isolation ?? Self.defaultIsolation(for: plugin) }
}

/// Where a provider's sink instances run: `inProcess` (inside the daemon) or `process` (`herald sink-host`, one
/// child process per destination).
public enum SinkIsolation: String, Sendable, Equatable, CaseIterable {
    case inProcess
    case process
}

/// A provider's `process` settings (used with `isolation: "process"`).
public struct ProcessIsolationSettings: Sendable, Equatable {
    /// The child's memory limit in MiB; 0: none.
    public var memoryLimitMb = 0
    /// `restartBackoffMs.initial` and `.max`: the wait before a new child after a fault, doubled per fault in a row.
    public var restartBackoffInitialMs = 200
    public var restartBackoffMaxMs = 30_000
    public var heartbeatIntervalMs = 1_000
    public var heartbeatTimeoutMs = 10_000
    /// A message in flight at this many faults of the child is dead-lettered as `SINK_CRASHED`.
    public var maxCrashesPerMessage = 3

    public init() {}
}

public enum PayloadType: String, Sendable, CaseIterable {
    case snapshot = "SNAPSHOT"
    case deltas = "DELTAS"
    case snapshotWithDelta = "SNAPSHOT_WITH_DELTA"
}

public enum MessageFormat: String, Sendable, CaseIterable {
    case json = "JSON"
    case jsonZipBase64 = "JSON_ZIP_BASE64"
}

public enum Ordering: String, Sendable, CaseIterable {
    case none
    case perEntity
}

public enum StartPosition: String, Sendable, CaseIterable {
    /// From the oldest event still in the queue.
    case beginning
    /// From the end of the queue when the destination is first seen.
    case now
}

public struct BatchPolicy: Sendable, Equatable {
    public var maxMessages: Int = 100
    public var maxBytes: Int = 1 << 20
    /// How long to wait for a batch to fill before sending a partial one.
    public var lingerMs: Int = 20
    public var maxInFlight: Int = 4

    public init() {}
}

/// Exponential backoff with full jitter: attempt n waits random(0, min(maxDelay, initial × multiplier^(n-1))).
public struct RetryPolicy: Sendable, Equatable {
    public var initialDelayMs: Int = 1000
    public var multiplier: Double = 2
    public var maxDelayMs: Int = 300_000
    /// Attempts in all (the first one included); then the message is dead-lettered.
    /// The default, 100 attempts at most 5 minutes apart, keeps retrying for about 4 hours on average
    /// (8 at most): the platform our users come from retries about a hundred times too.
    public var maxAttempts: Int = 100

    public init() {}
}

/// One destination: a queue or topic at a provider, with its own filters and payload shape.
public struct DestinationConfiguration: Sendable, Equatable {
    /// Stable identity of the destination's cursor, retry schedule and dead letters.
    public var id: String
    public var provider: String
    public var name: String
    public var enabled: Bool = true
    /// Event types to send; nil means all (an empty `typeFilter` list reads as nil, as on the platform).
    public var typeFilter: Set<EventType>?
    /// Filter expression; nil means all.
    public var objectFilter: String?
    public var payloadType: PayloadType = .snapshot
    /// Selected fields of the object for SNAPSHOT payloads; nil means all (an empty list reads as nil).
    public var payloadFields: [String]?
    public var ovOnly: Bool = false
    public var format: MessageFormat = .json
    public var ordering: Ordering = .none
    public var startFrom: StartPosition = .beginning
    public var batch = BatchPolicy()
    public var retry = RetryPolicy()
    public var sendTimeoutMs: Int = 30_000
    /// Paused through the management API (kept in the store, not in the file): nothing is delivered, and the
    /// cursor stays where it is until it is resumed.
    public var paused = false

    public init(id: String, provider: String, name: String) {
        self.id = id
        self.provider = provider
        self.name = name
    }

    /// Whether this destination is delivered: enabled in the configuration and not paused.
    public var delivers: Bool { enabled && !paused }
}

/// Top-level object fields that `payloadFields` may name (besides `attributes.X`).
public let selectableObjectFields = [
    "uri", "type", "createdBy", "createdTime", "updatedBy", "updatedTime", "attributes", "crosswalks",
]

extension StreamingConfiguration {
    static func read(_ r: inout JSONObjectReader, schema: TenantSchema) -> StreamingConfiguration {
        var s = StreamingConfiguration()
        if let v = r.bool("streamingEnabled") { s.streamingEnabled = v }
        if let v = r.bool("largeObjectsSupport") { s.largeObjectsSupport = v }
        if let v = r.bool("analyzeOvChanges") { s.analyzeOvChanges = v }
        _ = r.object("messaging") { m -> Bool in
            _ = m.object("providers") { p -> Bool in
                for member in p.members {
                    _ = p.object(member.key) { provider -> Bool in
                        let plugin = provider.string("plugin", required: true)
                        let config = provider.value("config")
                        if let config, config.objectValue == nil {
                            provider.report("config", "expected an object (the plugin's configuration)")
                        }
                        let isolation = provider.choice("isolation", SinkIsolation.allCases.map(\.rawValue)).flatMap(SinkIsolation.init)
                        var settings = ProcessIsolationSettings()
                        _ = provider.object("process") { p -> Bool in
                            if let v = p.int("memoryLimitMb", in: 0...1_048_576) { settings.memoryLimitMb = Int(v) }
                            _ = p.object("restartBackoffMs") { b -> Bool in
                                if let v = b.int("initial", in: 10...3_600_000) { settings.restartBackoffInitialMs = Int(v) }
                                if let v = b.int("max", in: 10...3_600_000) { settings.restartBackoffMaxMs = Int(v) }
                                if settings.restartBackoffMaxMs < settings.restartBackoffInitialMs {
                                    b.report("max", "\(settings.restartBackoffMaxMs) is below initial (\(settings.restartBackoffInitialMs))")
                                }
                                return true
                            }
                            if let v = p.int("heartbeatIntervalMs", in: 10...60_000) { settings.heartbeatIntervalMs = Int(v) }
                            if let v = p.int("heartbeatTimeoutMs", in: 100...3_600_000) { settings.heartbeatTimeoutMs = Int(v) }
                            if settings.heartbeatTimeoutMs < 2 * settings.heartbeatIntervalMs {
                                p.report(
                                    "heartbeatTimeoutMs",
                                    "\(settings.heartbeatTimeoutMs) must be at least twice heartbeatIntervalMs (\(settings.heartbeatIntervalMs))")
                            }
                            if let v = p.int("maxCrashesPerMessage", in: 1...100) { settings.maxCrashesPerMessage = Int(v) }
                            return true
                        }
                        if let plugin {
                            var p = ProviderConfiguration(
                                alias: member.key, plugin: plugin, config: (config ?? .object([])).serializedString(),
                                isolation: isolation)
                            p.process = settings
                            if p.effectiveIsolation == .inProcess && provider.members.contains(where: { $0.key == "process" }) {
                                provider.report(
                                    "process",
                                    "applies to isolation \"process\" only, and this provider runs in process; set \"isolation\": \"process\" or remove it")
                            }
                            s.providers[member.key] = p
                        }
                        return true
                    }
                }
                return true
            }
            var index = 0
            s.destinations =
                m.objects("destinations") { d -> DestinationConfiguration? in
                    defer { index += 1 }
                    return DestinationConfiguration.read(&d, providers: s.providers, schema: schema)
                } ?? []
            return true
        }
        assignIds(&s.destinations)
        var seen: [String: Int] = [:]
        for (i, d) in s.destinations.enumerated() {
            if let first = seen[d.id] {
                r.issues.report(
                    r.path + "messaging" + "destinations" + i + "id",
                    "destination id '\(d.id)' is also used by destinations[\(first)]; ids must be unique")
            } else {
                seen[d.id] = i
            }
        }
        return s
    }

    /// Destinations without an explicit `id` get `provider/name`, with `#2`, `#3`… for further
    /// destinations on the same provider and queue (in order of appearance).
    static func assignIds(_ destinations: inout [DestinationConfiguration]) {
        var counts: [String: Int] = [:]
        for i in destinations.indices where destinations[i].id.isEmpty {
            let base = "\(destinations[i].provider)/\(destinations[i].name)"
            counts[base, default: 0] += 1
            destinations[i].id = counts[base]! == 1 ? base : "\(base)#\(counts[base]!)"
        }
    }
}

extension DestinationConfiguration {
    static func read(_ r: inout JSONObjectReader, providers: [String: ProviderConfiguration], schema: TenantSchema)
        -> DestinationConfiguration?
    {
        let explicitId = r.string("id")
        let provider = r.string("provider", required: true)
        let name = r.string("name", required: true)
        if let provider, providers[provider] == nil {
            let known = providers.keys.sorted().joined(separator: ", ")
            r.report("provider", "unknown provider '\(provider)'; messaging.providers declares: \(known.isEmpty ? "none" : known)")
        }
        var d = DestinationConfiguration(id: explicitId ?? "", provider: provider ?? "", name: name ?? "")
        if let v = r.bool("enabled") { d.enabled = v }
        if let types = r.stringArray("typeFilter") {
            var set = Set<EventType>()
            for (i, t) in types.enumerated() {
                if let type = EventType(rawValue: t) {
                    set.insert(type)
                } else {
                    r.issues.report(
                        r.path + "typeFilter" + i,
                        "unknown event type '\(t)'; known: \(EventType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            // An empty list is no restriction, as the platform reads it: it never means "send nothing".
            d.typeFilter = types.isEmpty ? nil : set
        }
        if let filter = r.string("objectFilter"), !filter.trimmingCharacters(in: .whitespaces).isEmpty {
            // Kept as text: `CompiledConfiguration` (HeraldSetup) parses it once and checks it against the schema.
            d.objectFilter = filter
        }
        if let v = r.choice("payloadType", PayloadType.allCases.map(\.rawValue)) { d.payloadType = PayloadType(rawValue: v)! }
        if let fields = r.stringArray("payloadFields") {
            for (i, f) in fields.enumerated() {
                if let problem = DestinationConfiguration.checkField(f, schema: schema) {
                    r.issues.report(r.path + "payloadFields" + i, problem)
                }
            }
            d.payloadFields = fields.isEmpty ? nil : fields
        }
        if let v = r.bool("ovOnly") { d.ovOnly = v }
        if let v = r.choice("format", MessageFormat.allCases.map(\.rawValue)) { d.format = MessageFormat(rawValue: v)! }
        if let v = r.choice("ordering", Ordering.allCases.map(\.rawValue)) { d.ordering = Ordering(rawValue: v)! }
        if let v = r.choice("startFrom", StartPosition.allCases.map(\.rawValue)) { d.startFrom = StartPosition(rawValue: v)! }
        _ = r.object("batch") { b -> Bool in
            if let v = b.int("maxMessages", in: 1...100_000) { d.batch.maxMessages = Int(v) }
            if let v = b.int("maxBytes", in: 1...(1 << 30)) { d.batch.maxBytes = Int(v) }
            if let v = b.int("lingerMs", in: 0...60_000) { d.batch.lingerMs = Int(v) }
            if let v = b.int("maxInFlight", in: 1...1024) { d.batch.maxInFlight = Int(v) }
            return true
        }
        _ = r.object("retry") { p -> Bool in
            if let v = p.int("initialDelayMs", in: 1...86_400_000) { d.retry.initialDelayMs = Int(v) }
            if let v = p.double("multiplier", in: 1...100) { d.retry.multiplier = v }
            if let v = p.int("maxDelayMs", in: 1...(7 * 86_400_000)) { d.retry.maxDelayMs = Int(v) }
            if let v = p.int("maxAttempts", in: 1...100_000) { d.retry.maxAttempts = Int(v) }
            return true
        }
        if let v = r.int("sendTimeoutMs", in: 100...3_600_000) { d.sendTimeoutMs = Int(v) }
        if d.payloadFields != nil && d.payloadType == .deltas {
            r.report("payloadFields", "payloadFields selects fields of the object, which DELTAS payloads do not carry")
        }
        guard provider != nil, name != nil else { return nil }
        return d
    }

    /// Checks one `payloadFields` entry; returns the problem or nil.
    static func checkField(_ field: String, schema: TenantSchema) -> String? {
        if selectableObjectFields.contains(field) { return nil }
        if field.hasPrefix("attributes.") {
            return schema.attributePathProblem(field.dropFirst("attributes.".count).split(separator: ".").map(String.init))
        }
        return "unknown field '\(field)'; fields are \(selectableObjectFields.joined(separator: ", ")) or attributes.<Name>"
    }
}
