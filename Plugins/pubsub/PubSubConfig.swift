import HeraldJSON
import HeraldSinkSDK
import HeraldSinkSupport

/// Configuration of the Pub/Sub sink (the provider's `config` object):
///
///     {"project": "my-project", "credentialsFile": "/etc/herald/pubsub-publisher.json"}
///     {"project": "my-project", "emulatorHost": "127.0.0.1:8085"}
///
/// The topic is the destination's `name` (`events`, or a full `projects/P/topics/T`).
/// Where the sink publishes and how it authenticates, first match wins:
/// 1. `emulatorHost` in the configuration: the emulator, plain HTTP, no credentials;
/// 2. `credentialsFile`: a service-account key file (JSON);
/// 3. the `PUBSUB_EMULATOR_HOST` environment variable: the emulator;
/// 4. the `GOOGLE_APPLICATION_CREDENTIALS` environment variable: a key file.
public struct PubSubConfig: SinkConfiguration, Equatable {
    public static let pluginName = "pubsub"

    public var project = ""
    public var credentialsFile: String?
    public var emulatorHost: String?
    /// Base URL of the Pub/Sub API (a regional endpoint such as https://europe-west1-pubsub.googleapis.com,
    /// a private endpoint, or a local endpoint in tests).
    public var endpoint: String = "https://pubsub.googleapis.com"
    /// Allows http:// endpoints and token URIs (never needed in production).
    public var allowPlainHTTP = false
    /// Whole-request timeout of a publish or token call.
    public var timeoutMs = 10_000
    public var connectTimeoutMs = 5_000
    /// Batches in flight (the `max_in_flight` declared to Herald), and as many parallel publish requests, each on
    /// its own connection. Formerly `concurrency` (still read, deprecated).
    public var maxInFlight = 4
    public var maxMessagesPerRequest = PubSubLimits.maxMessagesPerRequest
    public var maxRequestBytes = PubSubLimits.maxRequestBytes

    public init() {}

    public init(project: String) {
        self.project = project
    }

    public static var keys: [SinkConfigKey<PubSubConfig>] {
        [
            .string("project", \.project, required: true, "GCP project id of the topics"),
            .string(
                "credentialsFile", \.credentialsFile,
                "service-account key file (JSON); default: GOOGLE_APPLICATION_CREDENTIALS"),
            .string(
                "emulatorHost", \.emulatorHost,
                "host:port of the Pub/Sub emulator (plain HTTP, no credentials); default: PUBSUB_EMULATOR_HOST"),
            .string("endpoint", \.endpoint, "base URL of the Pub/Sub API"),
            .bool("allowPlainHTTP", \.allowPlainHTTP, "allow http:// endpoints and token URIs (tests only)"),
            .int("timeoutMs", \.timeoutMs, in: 100...600_000, "whole-request timeout of a publish or token call"),
            .int("connectTimeoutMs", \.connectTimeoutMs, in: 100...600_000),
            .int(
                "maxInFlight", \.maxInFlight, in: 1...64,
                "batches in flight, and as many parallel publish requests (one connection each)",
                deprecatedNames: ["concurrency"]),
            .int(
                "maxMessagesPerRequest", \.maxMessagesPerRequest, in: 1...Int64(PubSubLimits.maxMessagesPerRequest)),
            .int("maxRequestBytes", \.maxRequestBytes, in: 65_536...Int64(PubSubLimits.maxRequestBytes)),
        ]
    }

    public static func parse(_ text: String) throws(SinkError) -> PubSubConfig {
        try read(text)
    }

    public mutating func check(_ problems: SinkConfigProblems) {
        if !Self.isProjectId(project) {
            problems.report(
                "project",
                "'\(project)' is not a GCP project id (6 to 30 lower-case letters, digits and hyphens, starting with a letter)"
            )
        }
        if let host = emulatorHost, !Self.isHostPort(host) {
            problems.report(
                "emulatorHost", "'\(host)' must be host:port, without a scheme (like 127.0.0.1:8085)")
        }
        if let file = credentialsFile, file.isEmpty {
            problems.report("credentialsFile", "must not be empty")
        }
        let lower = endpoint.lowercased()
        if lower.hasPrefix("http://") {
            if !allowPlainHTTP {
                problems.report(
                    "endpoint",
                    "'\(endpoint)' is plain HTTP; use https:// or set \"allowPlainHTTP\": true (tests only)")
            }
        } else if !lower.hasPrefix("https://") {
            problems.report("endpoint", "'\(endpoint)' must start with https://")
        }
    }

    /// GCP project ids: 6–30 characters, lower-case letters, digits and hyphens, starting with a
    /// letter (domain-scoped ids such as `example.com:proj` are allowed too).
    static func isProjectId(_ s: String) -> Bool {
        let id = s.split(separator: ":", maxSplits: 1).last.map(String.init) ?? s
        guard (6...30).contains(id.utf8.count), let first = id.utf8.first, (0x61...0x7A).contains(first) else {
            return false
        }
        return id.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
            && s.utf8.allSatisfy { $0 > 0x20 && $0 != 0x2F }
    }

    static func isHostPort(_ s: String) -> Bool {
        guard !s.contains("/"), let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]) else {
            return false
        }
        return colon > s.startIndex && (1...65535).contains(port)
    }

    /// The resolved way of publishing, decided at start (environment and key file included).
    public enum Mode: Sendable, Equatable {
        case emulator(baseURL: String)
        case serviceAccount(keyFile: String, baseURL: String)
    }

    /// Resolves the mode from the configuration and then the environment.
    public func resolveMode(environment: [String: String]) throws -> Mode {
        if let host = emulatorHost { return .emulator(baseURL: "http://\(host)") }
        if let file = credentialsFile { return .serviceAccount(keyFile: file, baseURL: trimmedEndpoint) }
        if let host = environment["PUBSUB_EMULATOR_HOST"], !host.isEmpty {
            guard Self.isHostPort(host) else {
                throw SinkError(.permanent, "PUBSUB_EMULATOR_HOST '\(host)' must be host:port, without a scheme")
            }
            return .emulator(baseURL: "http://\(host)")
        }
        if let file = environment["GOOGLE_APPLICATION_CREDENTIALS"], !file.isEmpty {
            return .serviceAccount(keyFile: file, baseURL: trimmedEndpoint)
        }
        throw SinkError(
            .permanent,
            "pubsub sink has no credentials: set \"credentialsFile\" (a service-account key), or \"emulatorHost\", or the GOOGLE_APPLICATION_CREDENTIALS / PUBSUB_EMULATOR_HOST environment variables"
        )
    }

    var trimmedEndpoint: String {
        var e = endpoint
        while e.hasSuffix("/") { e.removeLast() }
        return e
    }

    /// `projects/P/topics/T` for a destination name (`T`, or already a full topic path).
    public func topicPath(for destination: String) -> String {
        destination.hasPrefix("projects/") ? destination : "projects/\(project)/topics/\(destination)"
    }
}

/// Pub/Sub's documented publish limits (https://cloud.google.com/pubsub/quotas#resource_limits).
public enum PubSubLimits {
    public static let maxMessagesPerRequest = 1000
    /// 10 MB per publish request. Kept as 10,000,000 bytes of JSON: the emulator never answers a
    /// request over about 11,000,000 bytes, and base64 makes the JSON larger than the data.
    public static let maxRequestBytes = 10_000_000
    /// 10 MB per message (its data).
    public static let maxMessageDataBytes = 10_000_000
    public static let maxAttributes = 100
    public static let maxAttributeKeyBytes = 256
    public static let maxAttributeValueBytes = 1024
    public static let maxOrderingKeyBytes = 1024
}
