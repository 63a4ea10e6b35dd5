import HeraldSinkSupport
import HeraldHTTPClient
import HeraldSinkSDK

/// One connection to a Service Bus namespace (a libcurl handle): use one per thread.
public final class ServiceBusClient {
    public let config: ServiceBusConfig
    let tokens: SASTokenCache
    let http: HTTPClient

    public init(config: ServiceBusConfig, tokens: SASTokenCache) {
        self.config = config
        self.tokens = tokens
        http = HTTPClient(
            timeout: Double(config.timeoutMs) / 1000, connectTimeout: Double(config.connectTimeoutMs) / 1000)
    }

    public static let batchContentType = "application/vnd.microsoft.servicebus.json"

    /// POSTs a batch to `{base}/{entity}/messages` with a SAS token scoped to the entity.
    public func sendBatch(entity: String, body: [UInt8]) throws(HTTPTransportError) -> HTTPResponse {
        let (url, resource) = config.urls(entity: entity)
        return try http.send(
            method: "POST", url: url,
            headers: [("Authorization", tokens.token(for: resource)), ("Content-Type", Self.batchContentType)],
            body: body)
    }
}

/// Sends batches: plans requests within the size limit, sends them, and turns each answer into one
/// result per message. Shared by the instance's worker threads (each with its own client).
public final class ServiceBusSender: @unchecked Sendable {
    public let config: ServiceBusConfig
    public let builder: ServiceBusRequestBuilder
    let reporter: SinkReporter?

    public init(config: ServiceBusConfig, reporter: SinkReporter?) {
        self.config = config
        builder = ServiceBusRequestBuilder(
            maxMessageBytes: config.maxMessageBytes, maxMessages: config.maxMessagesPerRequest,
            partitioned: config.partitionedEntity)
        self.reporter = reporter
    }


    /// Why `entity` cannot be sent to with this configuration, or nil.
    public func entityProblem(_ entity: String) -> String? {
        if let scoped = config.entityPath, scoped.lowercased() != entity.lowercased() {
            return
                "the connection string is scoped to entity '\(scoped)' (EntityPath), but the destination is named '\(entity)'"
        }
        if entity.isEmpty { return "the destination name (the queue or topic) is empty" }
        return nil
    }

    /// Sends one request. When Service Bus refuses a request of several messages as invalid (400)
    /// or too large (403/413), its halves are sent in turn (and theirs, down to single messages), so
    /// only the offending messages fail.
    public func send(_ request: ServiceBusRequest, entity: String, client: ServiceBusClient) -> RequestOutcome {
        let n = request.indices.count
        func all(_ r: SinkResult) -> [(Int, SinkResult)] { request.indices.map { ($0, r) } }
        let response: HTTPResponse
        do {
            response = try client.sendBatch(entity: entity, body: request.body)
        } catch {
            let text =
                error.isTimeout
                ? "no answer from Service Bus within \(config.timeoutMs) ms (\(config.baseURL))"
                : "cannot reach Service Bus at \(config.baseURL): \(error.message)"
            reporter?.setHealth(false, text)
            let r = SinkResult(.retry, error: text)
            return RequestOutcome(results: all(r), skipOthers: r)
        }
        let status = response.status
        let detail = Self.errorText(response)
        func isolate() -> RequestOutcome {
            RequestOutcome.isolating(request, halves: request.halves) { send($0, entity: entity, client: client) }
        }
        switch status {
        case 200, 201:
            reporter?.setHealth(true, "")
            return RequestOutcome(results: all(.ok))
        case 400:
            if n > 1 { return isolate() }
            return RequestOutcome(
                results: all(SinkResult(.permanent, error: "Service Bus refused the message (400): \(detail)")))
        case 401:
            let text = "Service Bus refused the SAS token of key '\(config.keyName)' (401): \(detail)"
            reporter?.setHealth(false, text)
            let r = SinkResult(.permanent, error: text)
            return RequestOutcome(results: all(r), skipOthers: r)
        case 403, 413:
            if status == 403 && Self.isQuotaExceeded(detail) {
                let text = "Service Bus entity '\(entity)' is full (403 quota exceeded): \(detail)"
                reporter?.setHealth(false, text)
                let r = SinkResult(.retry, error: text)
                return RequestOutcome(results: all(r), skipOthers: r)
            }
            if n > 1 { return isolate() }
            return RequestOutcome(
                results: all(
                    SinkResult(.tooLarge, error: "Service Bus refused the message as too large (\(status)): \(detail)"))
            )
        case 404, 410:
            let text = "Service Bus entity '\(entity)' does not exist at \(config.baseURL) (\(status)): \(detail)"
            reporter?.setHealth(false, text)
            let r = SinkResult(.permanent, error: text)
            return RequestOutcome(results: all(r), skipOthers: r)
        case 429:
            let r = SinkResult(
                .throttled, retryAfterMs: retryAfterMs(response.header("retry-after")),
                error: "Service Bus is throttling (429): \(detail)")
            return RequestOutcome(results: all(r), skipOthers: r)
        case 408, 500...599:
            let after = retryAfterMs(response.header("retry-after"))
            let r = SinkResult(
                status == 503 && after > 0 ? .throttled : .retry, retryAfterMs: after,
                error: "Service Bus answered \(status): \(detail)")
            return RequestOutcome(results: all(r), skipOthers: r)
        default:
            return RequestOutcome(
                results: all(SinkResult(.permanent, error: "Service Bus answered \(status): \(detail)")))
        }
    }

    /// Sends a batch on one client, request after request (tests and tools). One result per message.
    public func sendAll<M: OutgoingMessage>(_ messages: [M], entity: String, ordered: Bool, client: ServiceBusClient)
        -> [SinkResult]
    {
        if let problem = entityProblem(entity) {
            reporter?.setHealth(false, problem)
            return Array(repeating: SinkResult(.permanent, error: problem), count: messages.count)
        }
        return builder.plan(messages, ordered: ordered).sendSequentially(messageCount: messages.count) {
            send($0, entity: entity, client: client)
        }
    }

    /// The entity is at its maximum size (as opposed to a message being too large).
    static func isQuotaExceeded(_ detail: String) -> Bool {
        let lower = detail.lowercased()
        return lower.contains("quota") || lower.contains("entity size") || lower.contains("40300")
    }

    /// The `<Detail>` of a Service Bus XML error, else the start of the body.
    static func errorText(_ response: HTTPResponse) -> String {
        let text = response.bodyText
        if let start = text.range(of: "<Detail>"),
            let end = text.range(of: "</Detail>", range: start.upperBound..<text.endIndex)
        {
            return String(text[start.upperBound..<end.lowerBound])
        }
        return String(text.prefix(300))
    }
}
