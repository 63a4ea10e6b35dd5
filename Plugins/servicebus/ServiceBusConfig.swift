import Foundation
import HeraldJSON
import HeraldSinkSDK
import HeraldSinkSupport

/// Configuration of the Service Bus sink (the provider's `config` object), with a connection string:
///
///     {"connectionString": "Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=…"}
///
/// or its parts:
///
///     {"namespace": "myns", "keyName": "send", "key": "…"}
///
/// The queue or topic is the destination's `name`. `endpoint` replaces the namespace's URL (a
/// local endpoint in tests; `http://` only with `"allowPlainHTTP": true`).
public struct ServiceBusConfig: SinkConfiguration, Equatable {
    public static let pluginName = "servicebus"

    /// Where requests go and what SAS tokens are scoped to: `https://myns.servicebus.windows.net`.
    public var baseURL = ""
    public var keyName = ""
    /// The shared access key exactly as Azure shows it (used as written, not base64-decoded).
    public var key = ""
    /// `EntityPath` of an entity-scoped connection string: the only entity it can send to.
    public var entityPath: String?
    public var allowPlainHTTP = false
    /// Lifetime of the SAS tokens the sink signs; they are renewed before they expire.
    public var tokenTtlSeconds = 3600
    /// Service Bus's message (and batch) size limit: 256 KB on Standard, up to 1 MB over REST on Premium.
    public var maxMessageBytes = ServiceBusLimits.standardMessageBytes
    public var maxMessagesPerRequest = 1000
    public var timeoutMs = 10_000
    public var connectTimeoutMs = 5_000
    /// Batches in flight (the `max_in_flight` declared to Herald), and as many parallel requests, each on its own
    /// connection. Formerly `concurrency` (still read, deprecated).
    public var maxInFlight = 4
    /// The entity is partitioned: every request carries one SessionId (ordered destinations).
    public var partitionedEntity = false

    /// The keys as given, from which `baseURL`, `keyName`, `key` and `entityPath` are resolved.
    var connectionString: String?
    var namespace: String?
    var endpoint: String?
    var givenKeyName: String?
    var givenKey: String?

    public init() {}

    public init(baseURL: String, keyName: String, key: String) {
        self.baseURL = baseURL
        self.keyName = keyName
        self.key = key
    }

    public static var keys: [SinkConfigKey<ServiceBusConfig>] {
        [
            .string(
                "connectionString", \.connectionString,
                "Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…[;EntityPath=…]"),
            .string(
                "namespace", \.namespace, "NS or NS.servicebus.windows.net (instead of a connection string)"),
            .string("keyName", \.givenKeyName, "the shared access key's name (with namespace)"),
            .string("key", \.givenKey, "the shared access key (with namespace)"),
            .string(
                "endpoint", \.endpoint, "replaces the namespace URL (https://…; http:// with allowPlainHTTP)"),
            .bool("allowPlainHTTP", \.allowPlainHTTP, "allow an http:// endpoint (tests only)"),
            .int("tokenTtlSeconds", \.tokenTtlSeconds, in: 120...604_800, "lifetime of the SAS tokens the sink signs"),
            .int(
                "maxMessageBytes", \.maxMessageBytes, in: 1024...Int64(ServiceBusLimits.premiumRESTMessageBytes),
                "the entity's message size limit (256 KB on Standard, up to 1 MB on Premium)"),
            .int("maxMessagesPerRequest", \.maxMessagesPerRequest, in: 1...1000),
            .int("timeoutMs", \.timeoutMs, in: 100...600_000, "whole-request timeout"),
            .int("connectTimeoutMs", \.connectTimeoutMs, in: 100...600_000),
            .int(
                "maxInFlight", \.maxInFlight, in: 1...64,
                "batches in flight, and as many parallel requests (one connection each)",
                deprecatedNames: ["concurrency"]),
            .bool(
                "partitionedEntity", \.partitionedEntity,
                "the entity is partitioned: every request carries one SessionId (ordered destinations)"),
        ]
    }

    public static func parse(_ text: String) throws(SinkError) -> ServiceBusConfig {
        try read(text)
    }

    /// Resolves where requests go and the key from a connection string or namespace/keyName/key.
    public mutating func check(_ problems: SinkConfigProblems) throws {
        func fail(_ message: String) -> SinkError { SinkError(.permanent, "servicebus sink configuration: \(message)") }
        if let cs = connectionString {
            if namespace != nil || givenKeyName != nil || givenKey != nil {
                throw fail("give either connectionString or namespace/keyName/key, not both")
            }
            let parsed = try ConnectionString.parse(cs)
            baseURL = parsed.baseURL
            keyName = parsed.keyName
            key = parsed.key
            entityPath = parsed.entityPath
        } else {
            guard let namespace = namespace ?? (endpoint != nil ? "" : nil), let keyName = givenKeyName,
                let key = givenKey
            else {
                throw fail(
                    "needs \"connectionString\" (Endpoint=sb://NS.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…) or \"namespace\", \"keyName\" and \"key\""
                )
            }
            if keyName.isEmpty || key.isEmpty { throw fail("keyName and key must not be empty") }
            var base = ""
            if !namespace.isEmpty {
                guard Self.isNamespace(namespace) else {
                    throw fail(
                        "namespace '\(namespace)' is not a Service Bus namespace name (like myns or myns.servicebus.windows.net)"
                    )
                }
                base = "https://" + (namespace.contains(".") ? namespace : namespace + ".servicebus.windows.net")
            }
            baseURL = base
            self.keyName = keyName
            self.key = key
        }
        if let endpoint { baseURL = endpoint }
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        let lower = baseURL.lowercased()
        if lower.hasPrefix("http://") {
            if !allowPlainHTTP {
                throw fail(
                    "endpoint '\(baseURL)' is plain HTTP; use https:// or set \"allowPlainHTTP\": true (tests only)"
                )
            }
        } else if !lower.hasPrefix("https://") || lower.count <= "https://".count {
            throw fail("endpoint '\(baseURL)' must be an https:// URL")
        }
        if baseURL.dropFirst(lower.hasPrefix("https://") ? 8 : 7).contains("/") {
            throw fail("endpoint '\(baseURL)' must be the namespace's URL, without a path")
        }
    }

    static func isNamespace(_ s: String) -> Bool {
        !s.isEmpty
            && s.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x2E
            }
    }

    /// The URL messages for `entity` go to (`{base}/{entity}/messages`) and the SAS resource for it.
    public func urls(entity: String) -> (messages: String, resource: String) {
        let resource = baseURL + "/" + PercentEncoding.encode(entity, keepSlash: true)
        return (resource + "/messages", resource)
    }
}

/// An Azure Service Bus connection string:
/// `Endpoint=sb://myns.servicebus.windows.net/;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…`.
public struct ConnectionString: Sendable, Equatable {
    /// `https://myns.servicebus.windows.net` (`sb://` becomes `https://`).
    public var baseURL: String
    public var keyName: String
    public var key: String
    public var entityPath: String?

    /// Parses a connection string.
    ///
    /// - Throws: a `SinkError` (`.permanent`) saying what is wrong. Its text never quotes a value of
    ///   the string: a malformed string (a key containing ';', items separated by spaces or commas)
    ///   can put key material into any item, so errors name items by position and show at most the
    ///   Endpoint's scheme.
    public static func parse(_ text: String) throws -> ConnectionString {
        func fail(_ message: String) -> SinkError {
            SinkError(.permanent, "servicebus sink configuration: connectionString \(message)")
        }
        var values: [String: String] = [:]
        let items = text.split(separator: ";", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        for (index, item) in items.enumerated() {
            // Split at the first '=' only: base64 keys end with '='.
            guard let eq = item.firstIndex(of: "=") else {
                throw fail(
                    "item \(index + 1) of \(items.count) has no '=' (not shown: it may hold the key); items are NAME=VALUE separated by ';', and a key is copied whole from the Azure portal"
                )
            }
            let name = item[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = String(item[item.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            let lowerValue = value.lowercased()
            if let inner = itemNames.first(where: { lowerValue.contains($0.lowercased() + "=") }) {
                throw fail(
                    "item \(index + 1) of \(items.count) holds another item (\(inner)=) in its value (not shown: it may hold the key); separate items with ';', not spaces or commas"
                )
            }
            values[name] = value
        }
        if values["sharedaccesssignature"] != nil {
            throw fail(
                "with a SharedAccessSignature is not supported: give SharedAccessKeyName and SharedAccessKey (the sink signs and renews its own tokens)"
            )
        }
        guard let endpoint = values["endpoint"], !endpoint.isEmpty else { throw fail("has no Endpoint") }
        guard let keyName = values["sharedaccesskeyname"], !keyName.isEmpty else {
            throw fail("has no SharedAccessKeyName")
        }
        guard let key = values["sharedaccesskey"], !key.isEmpty else { throw fail("has no SharedAccessKey") }
        var base = endpoint
        let lower = base.lowercased()
        if lower.hasPrefix("sb://") {
            base = "https://" + base.dropFirst(5)
        } else if !lower.hasPrefix("https://") && !lower.hasPrefix("http://") {
            throw fail("Endpoint must look like sb://NAMESPACE.servicebus.windows.net/ (\(describeScheme(endpoint)))")
        }
        while base.hasSuffix("/") { base.removeLast() }
        let host = base.drop { $0 != ":" }.dropFirst(3)
        guard !host.isEmpty, host.utf8.allSatisfy(isHostByte) else {
            throw fail(
                "Endpoint must be sb://NAMESPACE.servicebus.windows.net/ with nothing after the host name (not shown: it may hold the key); separate items with ';'"
            )
        }
        let entity = values["entitypath"].flatMap { $0.isEmpty ? nil : $0 }
        return ConnectionString(baseURL: base, keyName: keyName, key: key, entityPath: entity)
    }

    /// The item names a connection string may have.
    private static let itemNames = [
        "Endpoint", "SharedAccessKeyName", "SharedAccessKey", "EntityPath", "SharedAccessSignature",
    ]

    /// A host name with an optional port: letters, digits, '-', '.', ':'.
    private static func isHostByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x3A) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x2D || b == 0x2E
    }

    /// "it starts with 'amqps://'" when the Endpoint has a short alphabetic scheme, else "it has no
    /// scheme": never more of the value, which may hold the key when items are not separated by ';'.
    private static func describeScheme(_ endpoint: String) -> String {
        guard let range = endpoint.range(of: "://") else { return "it has no scheme" }
        let scheme = endpoint[..<range.lowerBound]
        guard (1...10).contains(scheme.count),
            scheme.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic && $0.isASCII })
        else { return "it has no scheme" }
        return "it starts with '\(scheme)://'"
    }
}

public enum ServiceBusLimits {
    /// Standard tier: 256 KB per message and per batch.
    public static let standardMessageBytes = 262_144
    /// Premium tier over REST/HTTP: 1 MB.
    public static let premiumRESTMessageBytes = 1_048_576
    /// Bytes a message may carry beyond what Herald counts (MessageId, SessionId, service overhead),
    /// kept out of the limit declared to Herald.
    public static let declaredHeadroom = 1024
    /// What the sink adds to each message's size for the service's own bookkeeping.
    public static let perMessageOverhead = 64
}
