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
        (#"{"Id": "0", "SenderFault": true, "Code": "KmsAccessDenied", "Message": "no key access"}"#, .permanent),
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

    @Test func signatureMismatchIsPermanentAndUnhealthyFromTheXMLBody() {
        // moto answers authentication errors in XML even on JSON requests.
        let body = """
            <?xml version="1.0" encoding="utf-8"?>
            <ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>
            """
        let o = map(403, body, headers: [(name: "content-type", value: "text/html; charset=utf-8")], entries: 2)
        #expect(o.results.map(\.status) == [.permanent, .permanent])
        #expect(o.results[0].error?.contains("SignatureDoesNotMatch: The request signature we calculated") == true)
        guard case .unhealthy(let reason) = o.health else {
            Issue.record("expected unhealthy, got \(o.health)")
            return
        }
        #expect(reason.contains("SignatureDoesNotMatch"))
    }

    @Test func unknownKeyAndMissingPermissionAreAuthErrors() {
        let unknown = """
            <?xml version="1.0" encoding="utf-8"?>
            <ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message><Type>Sender</Type></Error></Errors></ErrorResponse>
            """
        let denied = """
            <?xml version="1.0" encoding="utf-8"?>
            <ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/late is not authorized to perform: sqs:SendMessageBatch</Message><Type>Sender</Type></Error></Errors></ErrorResponse>
            """
        for (body, code) in [(unknown, "InvalidClientTokenId"), (denied, "AccessDenied")] {
            let o = map(403, body)
            #expect(o.results.map(\.status) == [.permanent])
            #expect(
                o.health
                    == .unhealthy(
                        "SQS refused the request's credentials or permissions: \(code): \(SQSResponseMapper.xmlElement("Message", in: body)!)"
                    ))
        }
        // AWS's JSON form of an unknown key (HTTP 400).
        let json = map(
            400,
            #"{"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": "The security token included in the request is invalid."}"#
        )
        #expect(json.results.map(\.status) == [.permanent])
        #expect(json.health != .unchanged)
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
