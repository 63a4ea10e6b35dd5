@testable import HeraldSQSSinkCore
import HeraldSinkSDK
import Testing

/// Mapping SQS answers to per-message results. Bodies recorded from moto 5.2 (JSON 1.0 protocol,
/// signature checking on) and, where moto has no such answer, written as AWS documents them.
@Suite struct SQSResponseMapperTests {
    static let jsonHeaders = [(name: "content-type", value: "application/x-amz-json-1.0")]

    func map(_ status: Int, _ body: String, headers: [(name: String, value: String)] = jsonHeaders, entries: Int = 1)
        -> SQSResponseOutcome
    {
        SQSResponseMapper.map(status: status, headers: headers, body: Array(body.utf8), entryCount: entries)
    }

    @Test func successfulAndFailedEntriesMapPerMessage() {
        // moto: the second entry had DelaySeconds 1800 (SenderFault is the string "true" in moto's answer).
        let body = #"""
            {"Successful": [{"Id": "0", "MessageId": "53291ff9-93f1-42fa-89e8-9aebaa61aea8", "MD5OfMessageBody": "0cc175b9c0f1b6a831c399e269772661"}], "Failed": [{"Id": "1", "SenderFault": "true", "Code": "InvalidParameterValue", "Message": "Value 1800 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be &gt;= 0 and &lt;= 900."}]}
            """#
        let o = map(200, body, entries: 3)
        #expect(o.results.map(\.status) == [.ok, .permanent, .retry])
        #expect(o.results[1].error?.contains("InvalidParameterValue: Value 1800 for parameter DelaySeconds") == true)
        #expect(o.results[2].error?.contains("no result") == true)
        #expect(o.health == .healthy)
    }

    @Test(arguments: [
        (
            #"{"Id": "0", "SenderFault": true, "Code": "ThrottlingException", "Message": "Rate exceeded"}"#,
            SinkStatus.throttled
        ),
        (#"{"Id": "0", "SenderFault": false, "Code": "RequestThrottled", "Message": "slow down"}"#, .throttled),
        (
            #"{"Id": "0", "SenderFault": false, "Code": "InternalError", "Message": "We encountered an internal error."}"#,
            .retry
        ),
        (#"{"Id": "0", "SenderFault": false, "Code": "ServiceUnavailable", "Message": "try later"}"#, .retry),
        (
            #"{"Id": "0", "SenderFault": true, "Code": "InvalidMessageContents", "Message": "Invalid characters found."}"#,
            .permanent
        ),
        (#"{"Id": "0", "SenderFault": true, "Code": "KmsDisabled", "Message": "the key is disabled"}"#, .permanent),
        (#"{"Id": "0", "SenderFault": true, "Code": "KmsAccessDenied", "Message": "no key access"}"#, .retry),
        (#"{"Id": "0", "SenderFault": true, "Code": "MessageTooLong", "Message": "too long"}"#, .tooLarge),
        (
            #"{"Id": "0", "SenderFault": true, "Code": "InvalidParameterValue", "Message": "One or more parameters are invalid. Reason: Message must be shorter than 262144 bytes."}"#,
            .tooLarge
        ),
        (#"{"Id": "0", "SenderFault": true, "Code": "KmsThrottled", "Message": "kms"}"#, .throttled),
    ])
    func failedEntryCodes(_ entry: String, _ expected: SinkStatus) {
        let o = map(200, #"{"Successful": [], "Failed": [\#(entry)]}"#)
        #expect(o.results.map(\.status) == [expected])
        #expect(o.results[0].error?.hasPrefix("SQS rejected the message: ") == true)
    }

    @Test func aSignatureMismatchIsRetriedAndUnhealthyFromTheXMLBody() {
        // moto answers authentication errors in XML even on JSON requests.
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>
            """
        let o = SQSResponseMapper.map(
            status: 403, headers: [(name: "content-type", value: "text/html; charset=utf-8")], body: Array(body.utf8),
            entryCount: 2, credentials: "key AKIAEXAMPLE from the credentials file /etc/aws, profile [herald]",
            advice: "write valid ones to /etc/aws")
        #expect(o.results.map(\.status) == [.retry, .retry], "not dead-lettered: new credentials fix it")
        let text =
            "SQS refused the credentials: SignatureDoesNotMatch: The request signature we calculated does not match "
            + "the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service "
            + "documentation for details. [HTTP 403; key AKIAEXAMPLE from the credentials file /etc/aws, profile [herald]]. "
            + "Messages are retried until valid credentials are in place: write valid ones to /etc/aws"
        #expect(o.results[0].error == text)
        #expect(o.health == .unhealthy(text))
        #expect(o.skipOthers?.status == .retry, "the batch's other requests are not sent")
    }

    enum Form: Sendable { case xml, json, queryHeader }

    /// One AWS error in the form SQS sends it.
    func answer(_ status: Int, _ code: String, _ form: Form) -> SQSResponseOutcome {
        switch form {
        case .xml:
            return map(
                status,
                "<ErrorResponse><Error><Type>Sender</Type><Code>\(code)</Code><Message>m</Message></Error></ErrorResponse>",
                headers: [], entries: 2)
        case .json:
            return map(status, #"{"__type": "com.amazon.coral.service#\#(code)", "message": "m"}"#, entries: 2)
        case .queryHeader:
            return map(
                status, #"{"__type": "com.amazon.coral.service#\#(code)Exception", "message": "m"}"#,
                headers: [(name: "x-amzn-query-error", value: "\(code);Sender")], entries: 2)
        }
    }

    /// The table of docs/sinks/sqs.md, "Results": refusals that new credentials, a policy or the clock
    /// fix are RETRY with the instance unhealthy; a malformed authentication is PERMANENT.
    @Test(arguments: [
        (403, "ExpiredToken", Form.xml, SinkStatus.retry, "SQS refused the credentials: ExpiredToken"),
        (400, "ExpiredTokenException", .json, .retry, "SQS refused the credentials: ExpiredTokenException"),
        (403, "InvalidClientTokenId", .xml, .retry, "SQS refused the credentials: InvalidClientTokenId"),
        (400, "UnrecognizedClientException", .json, .retry, "SQS refused the credentials: UnrecognizedClientException"),
        (403, "InvalidAccessKeyId", .xml, .retry, "SQS refused the credentials: InvalidAccessKeyId"),
        (403, "SignatureDoesNotMatch", .xml, .retry, "SQS refused the credentials: SignatureDoesNotMatch"),
        (400, "InvalidSignatureException", .json, .retry, "SQS refused the credentials: InvalidSignatureException"),
        (400, "InvalidToken", .xml, .retry, "SQS refused the credentials: InvalidToken"),
        (403, "AccessDenied", .xml, .retry, "SQS denied permission: AccessDenied"),
        (400, "AccessDenied", .queryHeader, .retry, "SQS denied permission: AccessDeniedException (AccessDenied)"),
        (400, "KmsAccessDenied", .json, .retry, "SQS denied permission: KmsAccessDenied"),
        (403, "OptInRequired", .xml, .retry, "SQS denied permission: OptInRequired"),
        (400, "RequestExpired", .xml, .retry, "SQS refused the request's time: RequestExpired"),
        (403, "SignatureExpired", .xml, .retry, "SQS refused the request's time: SignatureExpired"),
        (403, "RequestTimeTooSkewed", .xml, .retry, "check the clock of Herald's host"),
        (403, "Forbidden", .xml, .retry, "SQS refused the request: Forbidden"),
        (401, "Unauthorized", .json, .retry, "SQS refused the request: Unauthorized"),
        (400, "IncompleteSignature", .xml, .permanent, "refused the request's authentication as malformed"),
        (403, "MissingAuthenticationToken", .xml, .permanent, "refused the request's authentication as malformed"),
        (403, "InvalidSecurity", .xml, .permanent, "refused the request's authentication as malformed"),
    ])
    func authenticationErrors(_ status: Int, _ code: String, _ form: Form, _ expected: SinkStatus, _ text: String) {
        let o = answer(status, code, form)
        #expect(o.results.map(\.status) == [expected, expected])
        guard case .unhealthy(let reason) = o.health else {
            Issue.record("\(code): expected unhealthy, got \(o.health)")
            return
        }
        #expect(reason.contains(text), "\(code): \(reason)")
        if expected == .retry {
            #expect(o.results[0].error == reason)
            #expect(o.skipOthers?.status == .retry && o.skipOthers?.error == reason)
        } else {
            #expect(o.skipOthers == nil, "a PERMANENT result never reaches a message that was not sent")
        }
    }

    @Test func theClassTableCoversWhatTheDocsList() {
        let expected: [SQSErrorClass: Set<String>] = [
            .credentials: [
                "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
                "InvalidAccessKeyId", "InvalidToken", "SignatureDoesNotMatch", "InvalidSignatureException",
                "AuthFailure",
            ],
            .clock: ["RequestExpired", "SignatureExpired", "RequestTimeTooSkewed", "RequestInTheFuture"],
            .permission: [
                "AccessDenied", "AccessDeniedException", "NotAuthorized", "KmsAccessDenied", "OptInRequired",
                "KmsOptInRequired",
            ],
            .signing: [
                "IncompleteSignature", "IncompleteSignatureException", "MissingAuthenticationToken",
                "MissingAuthenticationTokenException", "InvalidSecurity",
            ],
        ]
        for (errorClass, codes) in expected {
            #expect(Set(SQSErrorClass.codes.filter { $0.value == errorClass }.keys) == codes, "\(errorClass)")
        }
        #expect(SQSErrorClass.credentials.isRefusal && SQSErrorClass.permission.isRefusal)
        #expect(SQSErrorClass.clock.isRefusal && !SQSErrorClass.signing.isRefusal && !SQSErrorClass.queue.isRefusal)
    }

    @Test func aRefusedEntryIsRetriedAndMarksTheInstanceUnhealthy() {
        let o = map(
            200,
            #"{"Successful": [{"Id": "0", "MessageId": "x", "MD5OfMessageBody": "y"}], "Failed": [{"Id": "1", "SenderFault": true, "Code": "KmsAccessDenied", "Message": "The caller does not have kms:GenerateDataKey"}]}"#,
            entries: 2)
        #expect(o.results.map(\.status) == [.ok, .retry])
        #expect(
            o.health
                == .unhealthy("SQS rejected the message: KmsAccessDenied: The caller does not have kms:GenerateDataKey")
        )
    }

    @Test func jsonErrorsUseTypeAndQueryErrorHeader() {
        // moto: a queue that does not exist.
        let o = map(
            400,
            #"{"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist.", "Message": "The specified queue does not exist."}"#,
            headers: [(name: "x-amzn-query-error", value: "AWS.SimpleQueueService.NonExistentQueue;Sender")], entries: 2
        )
        #expect(o.results.map(\.status) == [.permanent, .permanent])
        #expect(
            o.results[0].error
                == "SQS answered HTTP 400 QueueDoesNotExist (AWS.SimpleQueueService.NonExistentQueue): The specified queue does not exist."
        )
        #expect(
            o.health
                == .unhealthy(
                    "SQS: QueueDoesNotExist (AWS.SimpleQueueService.NonExistentQueue): The specified queue does not exist."
                ))

        // moto: a FIFO queue without MessageGroupId.
        let missing = map(
            400,
            #"{"__type": "com.amazon.coral.service#MissingRequiredParameterException", "Message": "The request must contain the parameter MessageGroupId."}"#,
            headers: [(name: "x-amzn-query-error", value: "MissingParameter;Sender")])
        #expect(missing.results.map(\.status) == [.permanent])
        #expect(missing.results[0].error?.contains("MessageGroupId") == true)
        #expect(missing.health == .unchanged)
    }

    @Test func throttlingAndServerFaultsAreRetried() {
        let throttled = map(
            400, #"{"__type": "com.amazon.coral.availability#ThrottlingException", "message": "Rate exceeded"}"#,
            headers: [
                (name: "x-amzn-query-error", value: "ThrottlingException;Sender"), (name: "retry-after", value: "2"),
            ], entries: 3)
        #expect(throttled.results.map(\.status) == [.throttled, .throttled, .throttled])
        #expect(throttled.results[0].retryAfterMs == 2000)
        #expect(throttled.health == .unchanged)

        let xmlThrottled = map(
            403,
            "<ErrorResponse><Error><Type>Sender</Type><Code>RequestThrottled</Code><Message>Request is throttled.</Message></Error></ErrorResponse>"
        )
        #expect(xmlThrottled.results.map(\.status) == [.throttled], "a 403 that says throttled is not an auth error")

        #expect(map(429, "").results.map(\.status) == [.throttled])
        let serverError = map(
            500,
            #"{"__type": "com.amazonaws.sqs#InternalError", "message": "We encountered an internal error. Please try again."}"#,
            entries: 2)
        #expect(serverError.results.map(\.status) == [.retry, .retry])
        let unavailable = map(503, "<html>Service Unavailable</html>", headers: [(name: "Retry-After", value: "3")])
        #expect(unavailable.results.map(\.status) == [.retry])
        #expect(unavailable.results[0].retryAfterMs == 3000)
        #expect(map(502, "").results[0].error?.contains("HTTP 502") == true)
        let receiver = map(
            400, #"{"__type": "com.amazonaws.sqs#KmsInternal", "message": "x"}"#,
            headers: [(name: "x-amzn-query-error", value: "KmsInternal;Receiver")])
        #expect(receiver.results.map(\.status) == [.retry])
    }

    @Test func aBatchTooLongAsAWholeIsSplitAndASingleMessageIsTooLarge() {
        // moto: one body of 1,048,577 bytes.
        let body =
            #"{"__type": "com.amazonaws.sqs#BatchRequestTooLong", "message": "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.", "Message": "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes."}"#
        let headers = [(name: "x-amzn-query-error", value: "AWS.SimpleQueueService.BatchRequestTooLong;Sender")]
        let many = map(400, body, headers: headers, entries: 4)
        #expect(many.splitRequested)
        let one = map(400, body, headers: headers, entries: 1)
        #expect(!one.splitRequested)
        #expect(one.results.map(\.status) == [.tooLarge])
        #expect(map(413, "", entries: 1).results.map(\.status) == [.tooLarge])
    }

    @Test func unreadableAnswersAreRetried() {
        let o = map(200, "<html>proxy error</html>", entries: 2)
        #expect(o.results.map(\.status) == [.retry, .retry])
        #expect(o.results[0].error?.contains("not JSON") == true)
    }
}
