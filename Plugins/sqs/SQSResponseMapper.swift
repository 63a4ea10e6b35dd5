import HeraldJSON
import HeraldSinkSDK

/// What a response means for the instance's health. The sink reports `healthy` and `unhealthy` to
/// Herald every time, not only on a change: Herald also marks the instance unhealthy on its own
/// (a batch timeout), and the next accepted request must clear that.
public enum SQSHealthSignal: Sendable, Equatable {
    /// The request went through: SQS accepted the credentials and the queue exists.
    case healthy
    case unhealthy(String)
    /// The answer says nothing about the instance's health (throttling, a refused message, a 5xx): nothing is reported.
    case unchanged
}

/// The results of one request, one per entry in order.
public struct SQSResponseOutcome: Sendable {
    public var results: [SinkResult]
    public var health: SQSHealthSignal
    /// SQS said the request was too long as a whole: send its entries one by one.
    public var splitRequested = false
}

/// An AWS error, from a JSON 1.0 error body, an XML error body, or a `Failed` entry.
public struct SQSError: Sendable, Equatable, CustomStringConvertible {
    /// The error code: the JSON `__type` after `#` (`QueueDoesNotExist`), or XML `<Code>`.
    public var code: String
    /// The query-protocol code from `x-amzn-query-error` (`AWS.SimpleQueueService.NonExistentQueue`).
    public var queryCode: String?
    public var message: String
    /// Sender (true) or receiver/server (false) fault, when SQS said.
    public var senderFault: Bool?

    public var description: String {
        let codes = queryCode.map { $0 == code ? code : "\(code) (\($0))" } ?? code
        return message.isEmpty ? codes : "\(codes): \(message)"
    }
}

/// Maps SendMessageBatch answers to per-message results (see docs/sinks/sqs.md, "Results").
public enum SQSResponseMapper {
    /// Codes that mean "slow down".
    static let throttlingCodes: Set<String> = [
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottled", "RequestThrottledException",
        "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "KmsThrottled", "KMS.ThrottlingException",
        "ProvisionedThroughputExceededException", "BandwidthLimitExceeded", "PriorRequestNotComplete",
    ]

    /// Codes that mean the credentials, the signature or the permissions are wrong.
    static let authCodes: Set<String> = [
        "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException", "IncompleteSignature",
        "InvalidSignatureException", "MissingAuthenticationToken", "MissingAuthenticationTokenException",
        "AccessDenied", "AccessDeniedException", "ExpiredToken", "ExpiredTokenException", "InvalidToken",
        "InvalidSecurity", "AuthFailure", "InvalidAccessKeyId", "RequestExpired", "SignatureExpired",
        "NotAuthorized", "OptInRequired",
    ]

    /// Codes that mean the message or the request is too large.
    static let sizeCodes: Set<String> = [
        "BatchRequestTooLong", "MessageTooLong", "RequestEntityTooLarge", "RequestTooLarge", "KeyTooLong",
    ]

    /// Codes that mean the queue itself is missing or unusable: a configuration problem worth a health report.
    static let queueCodes: Set<String> = ["QueueDoesNotExist", "NonExistentQueue", "QueueDeletedRecently"]

    /// Maps a complete HTTP answer to a request of `entryCount` entries (ids "0"…).
    public static func map(status: Int, headers: [(name: String, value: String)], body: [UInt8], entryCount: Int)
        -> SQSResponseOutcome
    {
        if status == 200 { return mapSuccess(body: body, entryCount: entryCount) }
        let error = parseError(status: status, headers: headers, body: body)
        let all = { (result: SinkResult) in Array(repeating: result, count: entryCount) }
        let text = "SQS answered HTTP \(status) \(error)"
        if status == 429 || isThrottling(error) {
            return SQSResponseOutcome(
                results: all(SinkResult(.throttled, retryAfterMs: retryAfter(headers), error: text)), health: .unchanged
            )
        }
        if isAuth(error) || status == 401 || status == 403 {
            return SQSResponseOutcome(
                results: all(SinkResult(.permanent, error: text)),
                health: .unhealthy("SQS refused the request's credentials or permissions: \(error)"))
        }
        if status == 413 || isSize(error) {
            if entryCount > 1 {
                return SQSResponseOutcome(
                    results: all(SinkResult(.retry, error: text)), health: .unchanged, splitRequested: true)
            }
            return SQSResponseOutcome(results: all(SinkResult(.tooLarge, error: text)), health: .unchanged)
        }
        if status >= 500 || error.senderFault == false {
            return SQSResponseOutcome(
                results: all(SinkResult(.retry, retryAfterMs: retryAfter(headers), error: text)), health: .unchanged)
        }
        if status >= 400 {
            let health: SQSHealthSignal = matches(error, queueCodes) ? .unhealthy("SQS: \(error)") : .unchanged
            return SQSResponseOutcome(results: all(SinkResult(.permanent, error: text)), health: health)
        }
        return SQSResponseOutcome(
            results: all(SinkResult(.retry, error: "unexpected answer from SQS: HTTP \(status)")), health: .unchanged)
    }

    static func mapSuccess(body: [UInt8], entryCount: Int) -> SQSResponseOutcome {
        guard let json = try? JSONParser.parse(body), json.objectValue != nil else {
            let results = Array(
                repeating: SinkResult(
                    .retry, error: "SQS answered HTTP 200 with a body that is not JSON: \(preview(body))"),
                count: entryCount)
            return SQSResponseOutcome(results: results, health: .unchanged)
        }
        var results: [SinkResult?] = Array(repeating: nil, count: entryCount)
        for s in json["Successful"]?.arrayValue ?? [] {
            if let i = entryIndex(s["Id"], entryCount) { results[i] = .ok }
        }
        for f in json["Failed"]?.arrayValue ?? [] {
            guard let i = entryIndex(f["Id"], entryCount) else { continue }
            let error = SQSError(
                code: f["Code"]?.stringValue ?? "UnknownError", queryCode: nil,
                message: f["Message"]?.stringValue ?? "",
                senderFault: boolValue(f["SenderFault"]))
            results[i] = mapEntryFailure(error)
        }
        return SQSResponseOutcome(
            results: results.map { $0 ?? SinkResult(.retry, error: "SQS returned no result for this message") },
            health: .healthy)
    }

    /// One `Failed` entry: throttling → THROTTLED, size → TOO_LARGE, sender fault → PERMANENT, else RETRY.
    public static func mapEntryFailure(_ error: SQSError) -> SinkResult {
        let text = "SQS rejected the message: \(error)"
        if isThrottling(error) { return SinkResult(.throttled, error: text) }
        if isSize(error) { return SinkResult(.tooLarge, error: text) }
        if error.senderFault == true { return SinkResult(.permanent, error: text) }
        return SinkResult(.retry, error: text)
    }

    /// Reads an error body: AWS JSON 1.0 (`{"__type": "…#Code", "message": "…"}` with
    /// `x-amzn-query-error: Code;Sender`) or XML (`<Error><Code>…</Code><Message>…</Message><Type>Sender</Type>`),
    /// which moto and AWS's front ends send for authentication errors even on JSON requests.
    public static func parseError(status: Int, headers: [(name: String, value: String)], body: [UInt8]) -> SQSError {
        var error = SQSError(code: "HTTP\(status)", queryCode: nil, message: "", senderFault: nil)
        if let q = headers.first(where: { $0.name.lowercased() == "x-amzn-query-error" })?.value {
            let parts = q.split(separator: ";", maxSplits: 1).map(String.init)
            error.queryCode = parts.first
            if parts.count == 2 { error.senderFault = parts[1] == "Sender" }
        }
        let text = String(decoding: body, as: UTF8.self)
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix("<") {
            if let code = xmlElement("Code", in: text) { error.code = code }
            error.message = xmlElement("Message", in: text) ?? ""
            if let type = xmlElement("Type", in: text) { error.senderFault = type == "Sender" }
        } else if let json = try? JSONParser.parse(body), json.objectValue != nil {
            if let type = json["__type"]?.stringValue ?? json["code"]?.stringValue ?? json["Code"]?.stringValue {
                error.code = type.split(separator: "#").last.map(String.init) ?? type
            }
            error.message = json["message"]?.stringValue ?? json["Message"]?.stringValue ?? ""
        } else if !text.isEmpty {
            error.message = preview(body)
        }
        if error.code.hasPrefix("HTTP"), let q = error.queryCode { error.code = q }
        return error
    }

    static func isThrottling(_ e: SQSError) -> Bool { matches(e, throttlingCodes) }
    static func isAuth(_ e: SQSError) -> Bool { matches(e, authCodes) }
    static func isSize(_ e: SQSError) -> Bool {
        if matches(e, sizeCodes) { return true }
        // AWS reports an over-long message as InvalidParameterValue with a message saying so.
        let m = e.message.lowercased()
        return e.code.hasSuffix("InvalidParameterValue")
            && (m.contains("must be shorter than") || m.contains("too long") || m.contains("exceeds the maximum"))
    }

    /// Whether the code or the query code is in `codes`, with or without the `AWS.SimpleQueueService.` prefix.
    static func matches(_ e: SQSError, _ codes: Set<String>) -> Bool {
        for c in [e.code, e.queryCode].compactMap({ $0 }) {
            let short =
                c.hasPrefix("AWS.SimpleQueueService.") ? String(c.dropFirst("AWS.SimpleQueueService.".count)) : c
            if codes.contains(c) || codes.contains(short) { return true }
        }
        return false
    }

    static func entryIndex(_ id: JSONValue?, _ count: Int) -> Int? {
        guard let s = id?.stringValue, let i = Int(s), i >= 0, i < count else { return nil }
        return i
    }

    /// `SenderFault` is a boolean in AWS's answers and the string "true" in moto's.
    static func boolValue(_ v: JSONValue?) -> Bool? {
        if let b = v?.boolValue { return b }
        if let s = v?.stringValue { return s.lowercased() == "true" }
        return nil
    }

    /// `Retry-After` in seconds, as milliseconds (0 when absent).
    static func retryAfter(_ headers: [(name: String, value: String)]) -> UInt32 {
        guard let v = headers.first(where: { $0.name.lowercased() == "retry-after" })?.value,
            let seconds = UInt32(v.trimmingSpaces())
        else { return 0 }
        return min(seconds, 3600) * 1000
    }

    static func xmlElement(_ name: String, in text: String) -> String? {
        guard let open = text.firstRange(of: "<\(name)>") else { return nil }
        let after = text[open.upperBound...]
        guard let close = after.firstRange(of: "</\(name)>") else { return nil }
        return unescapeXML(String(after[..<close.lowerBound]))
    }

    static func unescapeXML(_ s: String) -> String {
        guard s.contains("&") else { return s }
        return s.replacingAll("&lt;", with: "<").replacingAll("&gt;", with: ">").replacingAll("&quot;", with: "\"")
            .replacingAll("&apos;", with: "'").replacingAll("&amp;", with: "&")
    }

    static func preview(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return body.count > 300 ? text + "…" : text
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
