/// What an AWS error code says is wrong, where that decides the result more than the HTTP status
/// does (docs/sinks/sqs.md, "Results").
public enum SQSErrorClass: String, Sendable, CaseIterable {
    /// Slow down: `THROTTLED`.
    case throttling
    /// The credentials are expired, revoked, unknown or have the wrong secret: new credentials fix it,
    /// without a restart when they come from a credentials file. `RETRY`, instance unhealthy.
    case credentials
    /// The request's time is too far from AWS's: the host's clock is wrong; each request is signed
    /// with the time it is sent, so a corrected clock fixes it. `RETRY`, instance unhealthy.
    case clock
    /// The credentials are valid but their principal may not send to the queue (IAM or queue policy,
    /// KMS key policy, service not enabled): a policy change fixes it, also without a restart.
    /// `RETRY`, instance unhealthy.
    case permission
    /// The request's authentication is malformed (not signed, signature incomplete, not over HTTPS
    /// where required): neither new credentials nor a policy fix it, only another endpoint or sink.
    /// `PERMANENT`, instance unhealthy.
    case signing
    /// The message or the request is too large: `TOO_LARGE` (a request of several is split).
    case size
    /// The queue is missing: `PERMANENT`, instance unhealthy.
    case queue

    /// The codes of each class, as AWS's JSON (`__type` after `#`), XML (`<Code>`) and query
    /// (`x-amzn-query-error`, with or without `AWS.SimpleQueueService.`) forms write them.
    public static let codes: [String: SQSErrorClass] = {
        var table: [String: SQSErrorClass] = [:]
        func add(_ c: SQSErrorClass, _ names: [String]) { for n in names { table[n] = c } }
        add(
            .throttling,
            [
                "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottled",
                "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown",
                "KmsThrottled", "KMS.ThrottlingException", "ProvisionedThroughputExceededException",
                "BandwidthLimitExceeded", "PriorRequestNotComplete",
            ])
        add(
            .credentials,
            [
                // Temporary credentials past their expiry.
                "ExpiredToken", "ExpiredTokenException",
                // An access key or session token AWS does not know (deleted, deactivated, made up, or a token
                // from another partition): InvalidClientTokenId in XML/query, UnrecognizedClientException in JSON.
                "InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId", "InvalidToken",
                // The secret does not belong to the key (the sink's signer passes AWS's SigV4 suite, so a
                // mismatch is a wrong secret, e.g. a key id rotated without its secret).
                "SignatureDoesNotMatch", "InvalidSignatureException",
                // EC2's "AWS was not able to validate the provided access credentials".
                "AuthFailure",
            ])
        add(.clock, ["RequestExpired", "SignatureExpired", "RequestTimeTooSkewed", "RequestInTheFuture"])
        add(
            .permission,
            [
                "AccessDenied", "AccessDeniedException", "NotAuthorized", "KmsAccessDenied", "OptInRequired",
                "KmsOptInRequired",
            ])
        add(
            .signing,
            [
                "IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
                "MissingAuthenticationTokenException", "InvalidSecurity",
            ])
        add(.size, ["BatchRequestTooLong", "MessageTooLong", "RequestEntityTooLarge", "RequestTooLarge", "KeyTooLong"])
        add(.queue, ["QueueDoesNotExist", "NonExistentQueue", "QueueDeletedRecently"])
        return table
    }()

    /// The class of an error's code or query code (with or without `AWS.SimpleQueueService.`);
    /// nil for codes whose status and fault decide (`InvalidParameterValue`, `InternalError`…).
    /// AWS's `InvalidParameterValue` saying a message is too long is `size`.
    public static func of(_ e: SQSError) -> SQSErrorClass? {
        for c in [e.code, e.queryCode].compactMap({ $0 }) {
            let short =
                c.hasPrefix("AWS.SimpleQueueService.") ? String(c.dropFirst("AWS.SimpleQueueService.".count)) : c
            if let found = codes[c] ?? codes[short] { return found }
        }
        let m = e.message.lowercased()
        if e.code.hasSuffix("InvalidParameterValue")
            && (m.contains("must be shorter than") || m.contains("too long") || m.contains("exceeds the maximum"))
        {
            return .size
        }
        return nil
    }

    /// Refusals that no message can get past and that are fixed outside Herald without a restart:
    /// `RETRY`, the instance unhealthy, and the batch's requests not sent yet take the same result.
    public var isRefusal: Bool { self == .credentials || self == .clock || self == .permission }
}
