import HeraldHTTPClient
import HeraldJSON
import HeraldSinkSDK
import HeraldSinkSupport

/// One connection to the Pub/Sub API (a libcurl handle): use one per thread.
public final class PubSubClient {
    public let baseURL: String
    let auth: ServiceAccountAuth?
    let http: HTTPClient

    /// - Parameters:
    ///   - baseURL: `https://pubsub.googleapis.com`, or `http://host:port` of the emulator.
    ///   - auth: nil for the emulator (no credentials).
    public init(baseURL: String, auth: ServiceAccountAuth?, timeoutMs: Int, connectTimeoutMs: Int) {
        self.baseURL = baseURL
        self.auth = auth
        http = HTTPClient(timeout: Double(timeoutMs) / 1000, connectTimeout: Double(connectTimeoutMs) / 1000)
    }

    public enum Failure: Error {
        /// No HTTP answer (refused, reset, timed out).
        case transport(HTTPTransportError)
        /// No access token.
        case auth(AuthError)
    }

    /// POSTs a JSON body to `/v1/{path}` with a bearer token (fetched again once if Pub/Sub answers 401).
    public func post(path: String, body: [UInt8]) -> Result<HTTPResponse, Failure> {
        let url = baseURL + "/v1/" + PercentEncoding.encode(path, keepSlash: true).replacingColon()
        var attempt = 0
        while true {
            attempt += 1
            var headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
            var token: String?
            if let auth {
                do {
                    token = try auth.accessToken()
                } catch {
                    return .failure(.auth(error))
                }
                headers.append(("Authorization", "Bearer \(token!)"))
            }
            let response: HTTPResponse
            do {
                response = try http.send(method: "POST", url: url, headers: headers, body: body)
            } catch {
                return .failure(.transport(error))
            }
            if response.status == 401, let auth, let token, attempt == 1 {
                auth.invalidate(token)
                continue
            }
            return .success(response)
        }
    }
}

extension String {
    /// `projects/p/topics/t%3Apublish` → `…/t:publish` (the method suffix keeps its colon).
    fileprivate func replacingColon() -> String {
        guard hasSuffix("%3Apublish") else { return self }
        return String(dropLast("%3Apublish".count)) + ":publish"
    }
}

/// Publishes batches: plans requests within Pub/Sub's limits, sends them, and turns each answer
/// into one result per message. Shared by the instance's worker threads (each with its own client).
public final class PubSubPublisher: @unchecked Sendable {
    public let config: PubSubConfig
    public let builder: PubSubRequestBuilder
    let reporter: SinkReporter?

    public init(config: PubSubConfig, reporter: SinkReporter?) {
        self.config = config
        let declared = PubSubRequestBuilder.declaredMessageLimit(maxRequestBytes: config.maxRequestBytes)
        builder = PubSubRequestBuilder(
            maxMessages: config.maxMessagesPerRequest, maxRequestBytes: config.maxRequestBytes,
            declaredMaxMessageBytes: declared)
        self.reporter = reporter
    }

    /// Sends one request. When Pub/Sub refuses a request of several messages as invalid (400) or
    /// too large (413), its halves are sent in turn (and theirs, down to single messages), so only
    /// the offending messages fail: a few requests for one bad message among a thousand.
    public func send(_ request: PublishRequest, topicPath: String, client: PubSubClient) -> RequestOutcome {
        let n = request.indices.count
        func all(_ r: SinkResult) -> [(Int, SinkResult)] { request.indices.map { ($0, r) } }
        let answer = client.post(path: topicPath + ":publish", body: request.body)
        let response: HTTPResponse
        switch answer {
        case .failure(.transport(let error)):
            let text =
                error.isTimeout
                ? "no answer from Pub/Sub within \(config.timeoutMs) ms (\(client.baseURL))"
                : "cannot reach Pub/Sub at \(client.baseURL): \(error.message)"
            reporter?.setHealth(false, text)
            let r = SinkResult(.retry, error: text)
            return RequestOutcome(results: all(r), skipOthers: r)
        case .failure(.auth(let error)):
            reporter?.setHealth(false, error.description)
            let r = SinkResult(.retry, error: error.description)
            return RequestOutcome(results: all(r), skipOthers: r)
        case .success(let r):
            response = r
        }
        let status = response.status
        let detail = Self.errorText(response)
        switch status {
        case 200:
            let ids = (try? JSONParser.parse(response.body))?["messageIds"]?.arrayValue?.count
            reporter?.setHealth(true, "")
            if ids == n { return RequestOutcome(results: all(.ok)) }
            return RequestOutcome(
                results: all(
                    SinkResult(
                        .retry,
                        error: "Pub/Sub answered 200 with \(ids.map(String.init) ?? "no") message ids for \(n) messages"
                    )))
        case 400, 413:
            if n > 1 {
                return RequestOutcome.isolating(request, halves: request.halves) { send($0, topicPath: topicPath, client: client) }
            }
            if status == 413 {
                return RequestOutcome(
                    results: all(
                        SinkResult(.tooLarge, error: "Pub/Sub refused the message as too large (413): \(detail)")))
            }
            return RequestOutcome(
                results: all(SinkResult(.permanent, error: "Pub/Sub refused the message (400): \(detail)")))
        case 401, 403:
            let text =
                status == 401
                ? "Pub/Sub refused the access token (401): \(detail)"
                : "permission denied publishing to \(topicPath) (403): \(detail)"
            reporter?.setHealth(false, text)
            let r = SinkResult(.retry, error: text)
            return RequestOutcome(results: all(r), skipOthers: r)
        case 404:
            let text = "topic \(topicPath) not found (404): \(detail)"
            reporter?.setHealth(false, text)
            let r = SinkResult(.permanent, error: text)
            return RequestOutcome(results: all(r), skipOthers: r)
        case 429:
            let r = SinkResult(
                .throttled, retryAfterMs: retryAfterMs(response.header("retry-after")),
                error: "Pub/Sub is throttling (429): \(detail)")
            return RequestOutcome(results: all(r), skipOthers: r)
        case 408, 500...599:
            let r = SinkResult(
                .retry, retryAfterMs: retryAfterMs(response.header("retry-after")),
                error: "Pub/Sub answered \(status): \(detail)")
            return RequestOutcome(results: all(r), skipOthers: r)
        default:
            return RequestOutcome(results: all(SinkResult(.permanent, error: "Pub/Sub answered \(status): \(detail)")))
        }
    }

    /// Sends a batch on one client, request after request (tests and tools; the sink runs the
    /// requests on its worker threads instead). One result per message, in order.
    public func publish<M: OutgoingMessage>(_ messages: [M], destination: String, ordered: Bool, client: PubSubClient)
        -> [SinkResult]
    {
        let topic = config.topicPath(for: destination)
        return builder.plan(messages, ordered: ordered).sendSequentially(messageCount: messages.count) {
            send($0, topicPath: topic, client: client)
        }
    }

    /// `STATUS: message` from a Google API error body, else the start of the body.
    static func errorText(_ response: HTTPResponse) -> String {
        if let json = try? JSONParser.parse(response.body), let error = json["error"] {
            let message = error["message"]?.stringValue ?? error.stringValue ?? ""
            if let status = error["status"]?.stringValue { return "\(status): \(message)" }
            return message
        }
        return String(response.bodyText.prefix(300))
    }
}
