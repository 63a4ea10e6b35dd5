import HeraldHTTPClient
import HeraldSinkSDK

/// A signed HTTP request, ready for `HTTPClient.send`.
public struct SQSHTTPRequest: Sendable {
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
}

/// Sends SendMessageBatch requests (AWS JSON 1.0, SigV4-signed) over one kept-alive HTTP connection.
///
/// Not thread-safe (one libcurl handle): the sink gives each worker thread its own client.
public final class SQSClient {
    public static let target = "AmazonSQS.SendMessageBatch"
    public static let contentType = "application/x-amz-json-1.0"
    public static let userAgent = "herald-sqs-sink/\(SQSSink.version)"

    let http: HTTPClient
    let credentials: CredentialProvider
    let timeoutMs: Int

    /// - Parameter credentials: asked for a signer before each request (it re-reads a credentials file when it changes).
    public init(credentials: CredentialProvider, timeoutMs: Int, verifyTLS: Bool) {
        let seconds = Double(timeoutMs) / 1000
        http = HTTPClient(timeout: seconds, connectTimeout: min(seconds, 5), verifyTLS: verifyTLS)
        self.credentials = credentials
        self.timeoutMs = timeoutMs
    }

    /// Signs every request with the same credentials.
    public convenience init(signer: SigV4Signer, timeoutMs: Int, verifyTLS: Bool) {
        self.init(credentials: CredentialProvider(signer: signer), timeoutMs: timeoutMs, verifyTLS: verifyTLS)
    }

    /// Builds the request for one batch of entries and signs it at `time`.
    ///
    /// Signed headers: `host`, `content-type`, `x-amz-target`, `x-amz-date` and, with temporary
    /// credentials, `x-amz-security-token`. Every request carries `Authorization` (moto answers a
    /// request without one with HTTP 500).
    public static func signedRequest(
        queueURL: String, endpoint: ParsedURL, body: [UInt8], signer: SigV4Signer, time: AWSTimestamp
    ) -> SQSHTTPRequest {
        let headers = [
            SigV4Header("Host", endpoint.host), SigV4Header("Content-Type", contentType),
            SigV4Header("X-Amz-Target", target),
        ]
        let request = SigV4Request(
            method: "POST", path: endpoint.path, query: endpoint.query, headers: headers, body: body)
        let signature = signer.sign(request, at: time)
        var out = headers.map { ($0.name, $0.value) }
        out += signature.headers.map { ($0.name, $0.value) }
        out.append(("User-Agent", userAgent))
        return SQSHTTPRequest(url: endpoint.string, headers: out, body: body)
    }

    /// Sends `entries` in one request and maps the answer to one result per entry.
    ///
    /// When SQS finds the request too long as a whole (its count differs from ours), the entries are
    /// sent again one per request, so one large message cannot hold the others back (unless one of
    /// them meets a refusal: the rest then take its result unsent).
    public func send(_ entries: [SQSEntry], queueURL: String, endpoint: ParsedURL) -> SQSResponseOutcome {
        let outcome = sendOnce(entries, queueURL: queueURL, endpoint: endpoint)
        guard outcome.splitRequested && entries.count > 1 else { return outcome }
        var results: [SinkResult] = []
        var health = SQSHealthSignal.unchanged
        var skip: SinkResult?
        for e in entries {
            if let skip {
                results.append(skip)
                continue
            }
            let single = sendOnce([e], queueURL: queueURL, endpoint: endpoint)
            results.append(single.results.first ?? SinkResult(.retry, error: "no result"))
            if single.health != .unchanged { health = single.health }
            skip = single.skipOthers
        }
        return SQSResponseOutcome(results: results, health: health, skipOthers: skip)
    }

    func sendOnce(_ entries: [SQSEntry], queueURL: String, endpoint: ParsedURL) -> SQSResponseOutcome {
        let body = SQSRequestBuilder.body(queueURL: queueURL, entries: entries)
        let signer = credentials.signer()
        let request = SQSClient.signedRequest(
            queueURL: queueURL, endpoint: endpoint, body: body, signer: signer, time: .now())
        do {
            let response = try http.send(method: "POST", url: request.url, headers: request.headers, body: request.body)
            if response.status == 200 {
                return SQSResponseMapper.map(
                    status: 200, headers: response.headers, body: response.body, entryCount: entries.count)
            }
            return SQSResponseMapper.map(
                status: response.status, headers: response.headers, body: response.body, entryCount: entries.count,
                credentials: credentials.describe(signer), advice: credentials.source.advice)
        } catch {
            let reason =
                error.isTimeout
                ? "SQS at \(endpoint.host) did not answer within \(timeoutMs) ms"
                : "cannot reach SQS at \(endpoint.host): \(error.message)"
            return SQSResponseOutcome(
                results: Array(repeating: SinkResult(.retry, error: reason), count: entries.count),
                health: .unhealthy(reason))
        }
    }
}
