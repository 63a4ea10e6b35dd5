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
    /// The result the batch's requests not sent yet take without sending (a refusal that would
    /// meet them too: credentials, permission, clock).
    public var skipOthers: SinkResult?

    public init(
        results: [SinkResult], health: SQSHealthSignal, splitRequested: Bool = false, skipOthers: SinkResult? = nil
    ) {
        self.results = results
        self.health = health
        self.splitRequested = splitRequested
        self.skipOthers = skipOthers
    }
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
    /// Maps a complete HTTP answer to a request of `entryCount` entries (ids "0"…).
    ///
    /// - Parameters:
    ///   - credentials: which credentials signed the request (`key AKIA… from …`), for the texts of refusals.
    ///   - advice: what to do when SQS refuses those credentials (depends on where they come from).
    public static func map(
        status: Int, headers: [(name: String, value: String)], body: [UInt8], entryCount: Int,
        credentials: String = "", advice: String = ""
    ) -> SQSResponseOutcome {
        if status == 200 { return mapSuccess(body: body, entryCount: entryCount) }
        let error = parseError(status: status, headers: headers, body: body)
        let errorClass = SQSErrorClass.of(error)
        let all = { (result: SinkResult) in Array(repeating: result, count: entryCount) }
        let text = "SQS answered HTTP \(status) \(error)"
        if status == 429 || errorClass == .throttling {
            return SQSResponseOutcome(
                results: all(SinkResult(.throttled, retryAfterMs: retryAfter(headers), error: text)), health: .unchanged
            )
        }
        if errorClass?.isRefusal == true || (errorClass == nil && (status == 401 || status == 403)) {
            let reason = refusalText(
                errorClass, status: status, error: error, credentials: credentials, advice: advice)
            let result = SinkResult(.retry, retryAfterMs: retryAfter(headers), error: reason)
            return SQSResponseOutcome(results: all(result), health: .unhealthy(reason), skipOthers: result)
        }
        if errorClass == .signing {
            return SQSResponseOutcome(
                results: all(SinkResult(.permanent, error: text)),
                health: .unhealthy(
                    "SQS refused the request's authentication as malformed (\(text)): not a credentials problem; "
                        + "check the endpoint"))
        }
        if status == 413 || errorClass == .size {
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
            let health: SQSHealthSignal = errorClass == .queue ? .unhealthy("SQS: \(error)") : .unchanged
            return SQSResponseOutcome(results: all(SinkResult(.permanent, error: text)), health: health)
        }
        return SQSResponseOutcome(
            results: all(SinkResult(.retry, error: "unexpected answer from SQS: HTTP \(status)")), health: .unchanged)
    }

    /// The text of a refusal (`RETRY` and the instance's health reason): what SQS said, which
    /// credentials were refused, and what fixes it. `errorClass` nil: a 401/403 with an unknown code.
    static func refusalText(
        _ errorClass: SQSErrorClass?, status: Int, error: SQSError, credentials: String, advice: String
    ) -> String {
        let context = credentials.isEmpty ? "HTTP \(status)" : "HTTP \(status); \(credentials)"
        switch errorClass {
        case .credentials:
            return "SQS refused the credentials: \(error) [\(context)]. Messages are retried until valid credentials "
                + "are in place" + (advice.isEmpty ? "" : ": \(advice)")
        case .clock:
            return "SQS refused the request's time: \(error) [HTTP \(status)]. Messages are retried: "
                + "check the clock of Herald's host (NTP)"
        case .permission:
            return "SQS denied permission: \(error) [\(context)]. Messages are retried until it is granted "
                + "(sqs:SendMessage on the queue; kms:GenerateDataKey and kms:Decrypt on an encrypted queue's key)"
        default:
            return "SQS refused the request: \(error) [\(context)]. Messages are retried until it accepts "
                + "the credentials and their permissions"
        }
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
        var health = SQSHealthSignal.healthy
        for s in json["Successful"]?.arrayValue ?? [] {
            if let i = entryIndex(s["Id"], entryCount) { results[i] = .ok }
        }
        for f in json["Failed"]?.arrayValue ?? [] {
            guard let i = entryIndex(f["Id"], entryCount) else { continue }
            let error = SQSError(
                code: f["Code"]?.stringValue ?? "UnknownError", queryCode: nil,
                message: f["Message"]?.stringValue ?? "",
                senderFault: boolValue(f["SenderFault"]))
            let result = mapEntryFailure(error)
            results[i] = result
            if SQSErrorClass.of(error)?.isRefusal == true { health = .unhealthy(result.error ?? "") }
        }
        return SQSResponseOutcome(
            results: results.map { $0 ?? SinkResult(.retry, error: "SQS returned no result for this message") },
            health: health)
    }

    /// One `Failed` entry: throttling → THROTTLED, size → TOO_LARGE, a refusal (permission, credentials,
    /// clock: `KmsAccessDenied`…) → RETRY, other sender faults → PERMANENT, else RETRY.
    public static func mapEntryFailure(_ error: SQSError) -> SinkResult {
        let text = "SQS rejected the message: \(error)"
        switch SQSErrorClass.of(error) {
        case .throttling: return SinkResult(.throttled, error: text)
        case .size: return SinkResult(.tooLarge, error: text)
        case .credentials, .clock, .permission: return SinkResult(.retry, error: text)
        default: return SinkResult(error.senderFault == true ? .permanent : .retry, error: text)
        }
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
