import HeraldJSON
import HeraldSinkSDK
import HeraldSinkSupport

/// Configuration of one SQS provider (a JSON object; unknown keys are errors):
///
///     {"region": "eu-west-1", "accountId": "123456789012"}
///     {"region": "us-east-1", "endpoint": "http://127.0.0.1:5000", "accountId": "123456789012",
///      "accessKeyId": "AKIA…", "secretAccessKey": "…", "maxMessageBytes": 262144}
///     {"region": "eu-west-1", "accountId": "123456789012", "credentialsFile": "/etc/herald/aws-credentials", "profile": "herald"}
///     {"region": "eu-west-1", "queueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/herald-{destination}"}
///
/// A destination's `name` is its queue name: the queue URL is `queueUrl` with `{destination}`
/// (and `{region}`, `{accountId}`) replaced, or `endpoint/accountId/name`, or
/// `https://sqs.{region}.amazonaws.com/{accountId}/{name}`.
public struct SQSConfig: SinkConfiguration, Equatable {
    public static let pluginName = "sqs"
    public static let largestMessageBytes = 1_048_576
    public static let smallestMessageBytes = 1_024

    public var region = ""
    /// A queue URL, or a template with `{destination}`, `{region}`, `{accountId}`.
    public var queueUrl: String?
    /// Service endpoint (`http://127.0.0.1:5000` for moto or LocalStack); requests are POSTed here.
    public var endpoint: String?
    public var accountId: String?
    public var accessKeyId: String?
    public var secretAccessKey: String?
    public var sessionToken: String?
    /// A shared credentials file (absolute, or `~/…`), re-read when it changes; instead of the keys above.
    public var credentialsFile: String?
    /// The profile (section) of the credentials file; instead of the keys above.
    public var profile: String?
    /// The queue's `MaximumMessageSize`: body plus message attributes, as AWS counts them.
    public var maxMessageBytes = SQSConfig.largestMessageBytes
    /// Total time for one HTTP request (connecting included).
    public var timeoutMs = 10_000
    public var verifyTLS = true
    /// Batches in flight (the `max_in_flight` declared to Herald), and as many requests sent at once (one thread
    /// and one HTTP connection each).
    public var maxInFlight = 4

    public init() {}

    public init(region: String) {
        self.region = region
    }

    public static var keys: [SinkConfigKey<SQSConfig>] {
        [
            .string("region", \.region, required: true, "AWS region, such as us-east-1"),
            .string(
                "queueUrl", \.queueUrl, "queue URL, or a template with {destination}, {region}, {accountId}"),
            .string("endpoint", \.endpoint, "service endpoint (moto, LocalStack); queue URL = endpoint/accountId/name"),
            .string("accountId", \.accountId, "12-digit AWS account id (builds queue URLs from destination names)"),
            .string("accessKeyId", \.accessKeyId),
            .string("secretAccessKey", \.secretAccessKey),
            .string("sessionToken", \.sessionToken),
            .string(
                "credentialsFile", \.credentialsFile,
                "shared credentials file (absolute, or ~/…), re-read when it changes"),
            .string(
                "profile", \.profile, "profile of the credentials file (default: AWS_PROFILE, then default)"),
            .int(
                "maxMessageBytes", \.maxMessageBytes, in: Int64(smallestMessageBytes)...Int64(largestMessageBytes),
                "the queue's MaximumMessageSize: body plus message attributes"),
            .int("timeoutMs", \.timeoutMs, in: 100...300_000, "total time for one HTTP request"),
            .bool("verifyTLS", \.verifyTLS),
            .int(
                "maxInFlight", \.maxInFlight, in: 1...64,
                "batches in flight, and as many requests at once (one connection each)"),
        ]
    }

    static let placeholders = ["{destination}", "{region}", "{accountId}"]

    /// Parses and checks a configuration. Pure: no environment, no network.
    public static func parse(_ text: String) throws(SinkError) -> SQSConfig {
        try read(text)
    }

    public mutating func check(_ problems: SinkConfigProblems) {
        let r = problems
        var c = self
        defer { self = c }
        if !c.region.isEmpty && !c.region.utf8.allSatisfy({ isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }) {
            r.report("region", "'\(c.region)' is not an AWS region name such as 'us-east-1'")
        }
        if let id = c.accountId, id.utf8.count != 12 || !id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            r.report("accountId", "'\(id)' is not a 12-digit AWS account id")
        }
        if let url = c.queueUrl {
            if ParsedURL(url.replacingPlaceholders()) == nil {
                r.report("queueUrl", "'\(url)' is not an http:// or https:// URL")
            }
            var rest = url
            for p in SQSConfig.placeholders { rest = rest.replacingAll(p, with: "") }
            if rest.contains("{") || rest.contains("}") {
                r.report("queueUrl", "unknown placeholder in '\(url)'; use \(SQSConfig.placeholders.joined(separator: ", "))")
            }
            if url.contains("{accountId}") && c.accountId == nil {
                r.report("accountId", "required: queueUrl uses {accountId}")
            }
            if c.endpoint != nil {
                r.report("endpoint", "set either queueUrl or endpoint, not both (requests go to the queue URL's host)")
            }
        } else if c.accountId == nil {
            r.report("accountId", "required to build queue URLs from destination names (or set queueUrl)")
        }
        if let e = c.endpoint {
            if let parsed = ParsedURL(e) {
                if !parsed.query.isEmpty { r.report("endpoint", "must not have a query string") }
            } else {
                r.report("endpoint", "'\(e)' is not an http:// or https:// URL")
            }
            while c.endpoint?.hasSuffix("/") == true { c.endpoint?.removeLast() }
        }
        switch (c.accessKeyId, c.secretAccessKey) {
        case (nil, .some): r.report("accessKeyId", "required with secretAccessKey")
        case (.some, nil): r.report("secretAccessKey", "required with accessKeyId")
        default: break
        }
        if c.sessionToken != nil && c.accessKeyId == nil {
            r.report("sessionToken", "needs accessKeyId and secretAccessKey beside it")
        }
        if let path = c.credentialsFile, !path.hasPrefix("/") && !path.hasPrefix("~/") {
            r.report("credentialsFile", "'\(path)' must be an absolute path (or start with ~/)")
        }
        if let name = c.profile,
            name.isEmpty || name.trimmingSpaces() != name || name.contains(where: { "[]\n\r".contains($0) })
        {
            r.report("profile", "'\(name)' is not a profile name (the text between [ and ] in the credentials file)")
        }
        if c.accessKeyId != nil || c.secretAccessKey != nil {
            let both = "set either accessKeyId and secretAccessKey, or credentialsFile and/or profile, not both"
            if c.credentialsFile != nil { r.report("credentialsFile", both) }
            if c.profile != nil { r.report("profile", both) }
        }
    }

    /// The queue URL of a destination (its `name` is the queue name).
    public func queueURL(for destination: String) throws(SinkError) -> String {
        if let template = queueUrl {
            if template.contains("{destination}") { try SQSConfig.checkQueueName(destination) }
            return template.replacingPlaceholders(destination: destination, region: region, accountId: accountId ?? "")
        }
        try SQSConfig.checkQueueName(destination)
        let base = endpoint ?? defaultEndpoint
        return "\(base)/\(accountId ?? "")/\(destination)"
    }

    /// `https://sqs.{region}.amazonaws.com` (`.com.cn` in the China regions).
    public var defaultEndpoint: String {
        region.hasPrefix("cn-") ? "https://sqs.\(region).amazonaws.com.cn" : "https://sqs.\(region).amazonaws.com"
    }

    /// Where requests for a queue are POSTed: the configured endpoint, else the queue URL's origin.
    public func requestURL(forQueueURL queueURL: String) -> ParsedURL? {
        if let endpoint, let parsed = ParsedURL(endpoint) { return parsed }
        guard let parsed = ParsedURL(queueURL) else { return nil }
        return ParsedURL(scheme: parsed.scheme, authority: parsed.authority, path: "/", query: "")
    }

    /// Queue names: 1 to 80 characters of `A-Z a-z 0-9 - _`, FIFO queues ending in `.fifo`.
    static func checkQueueName(_ name: String) throws(SinkError) {
        let base = name.hasSuffix(".fifo") ? String(name.dropLast(5)) : name
        let valid =
            !base.isEmpty && name.utf8.count <= 80
            && base.utf8.allSatisfy {
                isLowerAlphanumeric($0) || ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2D || $0 == 0x5F
            }
        if !valid {
            throw SinkError(
                .permanent,
                "'\(name)' is not an SQS queue name (1 to 80 characters: letters, digits, '-', '_', and '.fifo' at the end for FIFO queues)"
            )
        }
    }

    /// A FIFO queue: its name (the URL's last segment) ends with `.fifo`.
    public static func isFIFO(queueURL: String) -> Bool {
        queueURL.split(separator: "/").last?.hasSuffix(".fifo") == true
    }
}

private func isLowerAlphanumeric(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }

    func replacingPlaceholders(
        destination: String = "q", region: String = "us-east-1", accountId: String = "123456789012"
    )
        -> String
    {
        replacingAll("{destination}", with: destination).replacingAll("{region}", with: region)
            .replacingAll("{accountId}", with: accountId)
    }
}

/// The parts of an `http://` or `https://` URL that signing and sending need.
public struct ParsedURL: Sendable, Equatable {
    public var scheme: String
    /// `host[:port]` as written.
    public var authority: String
    public var path: String
    public var query: String

    public init(scheme: String, authority: String, path: String, query: String) {
        self.scheme = scheme
        self.authority = authority
        self.path = path
        self.query = query
    }

    public init?(_ text: String) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            return nil
        }
        let rest = text.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        guard !authority.isEmpty, !authority.contains("@"), !authority.contains(" ") else { return nil }
        var pathAndQuery = rest[authorityEnd...]
        var query = ""
        if let q = pathAndQuery.firstIndex(of: "?") {
            query = String(pathAndQuery[pathAndQuery.index(after: q)...])
            pathAndQuery = pathAndQuery[..<q]
        }
        self.scheme = scheme
        self.authority = authority
        self.path = pathAndQuery.isEmpty ? "/" : String(pathAndQuery)
        self.query = query
    }

    /// The `Host` header: the authority without a default port.
    public var host: String {
        let lower = authority.lowercased()
        if scheme == "http", lower.hasSuffix(":80") { return String(lower.dropLast(3)) }
        if scheme == "https", lower.hasSuffix(":443") { return String(lower.dropLast(4)) }
        return lower
    }

    public var string: String { "\(scheme)://\(authority)\(path)\(query.isEmpty ? "" : "?" + query)" }
}
