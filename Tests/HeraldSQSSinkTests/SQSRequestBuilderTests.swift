import HeraldJSON
@testable import HeraldSQSSinkCore
import HeraldSinkSDK
import Testing

/// Splitting host batches into SendMessageBatch requests, and the request bodies.
@Suite struct SQSRequestBuilderTests {
    static let herald = [
        SQSAttribute("tenantId", "t1"), SQSAttribute("eventType", "ENTITY_CREATED"),
        SQSAttribute("sourceObjectUri", "entities/1"),
        SQSAttribute("objectVersion", "1"), SQSAttribute("updatedTime", "1700000000000"),
        SQSAttribute("messageId", "1-abc"),
    ]

    func message(_ i: Int, bodyBytes: Int = 20, headers: [SQSAttribute] = herald) -> SQSOutgoingMessage {
        SQSOutgoingMessage(
            id: "\(i)-0badf00d", key: "entities/e\(i)", body: Array(repeating: UInt8(ascii: "x"), count: bodyBytes),
            headers: headers)
    }

    @Test func aBatchIsSplitAtTenEntriesInOrder() {
        let plan = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan((0..<25).map { message($0) })
        #expect(plan.requests.map(\.count) == [10, 10, 5])
        #expect(plan.requests.flatMap { $0.map(\.index) } == Array(0..<25))
        #expect(plan.rejected.isEmpty)
    }

    @Test func theDispatcherRunsAStandardQueuesRequestsApartAndAFifoQueuesAsOneJobInOrder() {
        var messages = (0..<25).map { message($0) }
        messages[3] = message(3, bodyBytes: 0)
        let standard = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan(messages).dispatchPlan(
            inOrder: false)
        #expect(standard.requests.map(\.requests.count) == [1, 1, 1])
        #expect(standard.requests.map(\.indices.count) == [10, 10, 4])
        #expect(standard.rejected.map(\.index) == [3])
        let fifo = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: true).plan(messages).dispatchPlan(inOrder: true)
        #expect(fifo.requests.count == 1)
        #expect(fifo.requests[0].requests.map(\.count) == [10, 10, 4])
        #expect(fifo.requests[0].indices == Array(0..<25).filter { $0 != 3 })
        #expect(fifo.rejected.map(\.index) == [3])
        let empty = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: true).plan([message(0, bodyBytes: 0)])
        #expect(empty.dispatchPlan(inOrder: true).requests.isEmpty)
    }

    @Test func aBatchIsSplitAtOneMebibyteCountingAttributes() {
        // Each message: body + 6 attributes. Three bodies of 349,400 bytes fit 1 MiB without attributes
        // (1,048,200), nor with names and values alone (1,048,530), but not as SQS counts: name + "String" + value.
        let attributeBytes = SQSRequestBuilderTests.herald.reduce(0) {
            $0 + $1.name.utf8.count + 6 + $1.value.utf8.count
        }
        let body = 349_400
        let typeBytes = 6 * SQSRequestBuilderTests.herald.count
        #expect(3 * (body + attributeBytes - typeBytes) <= 1_048_576 && 3 * (body + attributeBytes) > 1_048_576)
        let plan = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan(
            (0..<5).map { message($0, bodyBytes: body) })
        #expect(plan.requests.map(\.count) == [2, 2, 1])
        for r in plan.requests {
            #expect(r.reduce(0) { $0 + $1.size } <= SQSRequestBuilder.maxRequestBytes)
        }
        #expect(plan.requests[0][0].size == body + attributeBytes)

        // Without attributes the same bodies go three to a request.
        let bare = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan(
            (0..<5).map { message($0, bodyBytes: body, headers: []) })
        #expect(bare.requests.map(\.count) == [3, 2])
    }

    @Test func aMessageOverTheLimitIsTooLargeCountingItsAttributesAndTheOthersStillGo() {
        let limit = 262_144
        let attributeBytes = SQSRequestBuilderTests.herald.reduce(0) {
            $0 + $1.name.utf8.count + 6 + $1.value.utf8.count
        }
        let messages = [
            message(0), message(1, bodyBytes: limit - attributeBytes),
            message(2, bodyBytes: limit - attributeBytes + 1), message(3),
        ]
        let plan = SQSRequestBuilder(maxMessageBytes: limit, fifo: false).plan(messages)
        #expect(plan.rejected.map(\.index) == [2])
        #expect(plan.rejected.first?.result.status == .tooLarge)
        #expect(plan.rejected.first?.result.error?.contains("262145 bytes") == true)
        #expect(plan.requests.flatMap { $0.map(\.index) } == [0, 1, 3])
    }

    @Test func atMostTenAttributesAreSentTheFirstTen() {
        let headers = (0..<13).map { SQSAttribute("h\($0)", "v\($0)") }
        let plan = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan([message(0, headers: headers)])
        let entry = plan.requests[0][0]
        #expect(entry.attributes.map(\.name) == (0..<10).map { "h\($0)" })
        #expect(plan.droppedAttributes.count == 1)
        #expect(plan.droppedAttributes[0].contains("h10, h11, h12"))
        // The size counts only what is sent.
        #expect(entry.size == 20 + headers.prefix(10).reduce(0) { $0 + $1.name.utf8.count + 6 + $1.value.utf8.count })
    }

    @Test func attributesSQSWouldRefuseAreSkipped() {
        let headers = [
            SQSAttribute("ok", "1"), SQSAttribute("empty", ""), SQSAttribute("AWS.reserved", "x"),
            SQSAttribute("bad name", "x"),
            SQSAttribute(".dot", "x"), SQSAttribute("a..b", "x"), SQSAttribute("ok", "duplicate"),
            SQSAttribute("fine.name-2_x", "y"),
        ]
        let (kept, dropped) = SQSRequestBuilder.attributes(from: headers)
        #expect(kept == [SQSAttribute("ok", "1"), SQSAttribute("fine.name-2_x", "y")])
        #expect(dropped == ["empty", "AWS.reserved", "bad name", ".dot", "a..b", "ok"])
    }

    @Test func fifoEntriesCarryTheEntityAsGroupAndTheMessageIdAsDeduplicationId() throws {
        let fifo = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: true).plan([message(7)])
        let e = fifo.requests[0][0]
        #expect(e.groupId == "entities/e7")
        #expect(e.deduplicationId == "7-0badf00d")
        let standard = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan([message(7)])
        #expect(standard.requests[0][0].groupId == nil && standard.requests[0][0].deduplicationId == nil)

        let body = try JSONParser.parse(
            SQSRequestBuilder.body(queueURL: "http://q/1/a.fifo", entries: fifo.requests[0]))
        let entry = try #require(body["Entries"]?.arrayValue?.first)
        #expect(entry["MessageGroupId"] == .string("entities/e7"))
        #expect(entry["MessageDeduplicationId"] == .string("7-0badf00d"))
        // A key SQS would refuse (too long, not printable ASCII) becomes its stable SHA-256.
        let long = String(repeating: "k", count: 129)
        #expect(SQSRequestBuilder.fifoIdentifier(long).count == 64)
        #expect(SQSRequestBuilder.fifoIdentifier(long) == SQSRequestBuilder.fifoIdentifier(long))
        #expect(SQSRequestBuilder.fifoIdentifier("entities/é") != "entities/é")
    }

    @Test func theRequestBodyIsSendMessageBatchJSON() throws {
        let messages = [
            SQSOutgoingMessage(
                id: "1", key: "entities/a", body: Array(#"{"type":"ENTITY_CREATED","q":"\"x\""}"#.utf8),
                headers: [SQSAttribute("tenantId", "t1")]),
            SQSOutgoingMessage(id: "2", key: "entities/b", body: Array("second".utf8), headers: []),
        ]
        let plan = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan(messages)
        let json = try JSONParser.parse(
            SQSRequestBuilder.body(queueURL: "http://127.0.0.1:1/123456789012/q", entries: plan.requests[0]))
        #expect(json["QueueUrl"] == .string("http://127.0.0.1:1/123456789012/q"))
        let entries = try #require(json["Entries"]?.arrayValue)
        #expect(entries.map { $0["Id"] } == [.string("0"), .string("1")])
        #expect(entries[0]["MessageBody"] == .string(#"{"type":"ENTITY_CREATED","q":"\"x\""}"#))
        #expect(entries[0]["MessageAttributes"]?["tenantId"]?["DataType"] == .string("String"))
        #expect(entries[0]["MessageAttributes"]?["tenantId"]?["StringValue"] == .string("t1"))
        #expect(entries[1]["MessageAttributes"] == nil)
        #expect(entries[1]["MessageGroupId"] == nil)
    }

    @Test func emptyBodiesControlCharactersAndNonUTF8ArePermanent() {
        let messages = [
            SQSOutgoingMessage(id: "1", key: "k", body: [], headers: []),
            SQSOutgoingMessage(id: "2", key: "k", body: [0x61, 0x01], headers: []),
            SQSOutgoingMessage(id: "3", key: "k", body: Array("tab\tand\nnewline é".utf8), headers: []),
            SQSOutgoingMessage(id: "4", key: "k", body: [0x61, 0xC3], headers: []),
        ]
        let plan = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false).plan(messages)
        #expect(plan.rejected.map(\.index) == [0, 1, 3])
        #expect(plan.rejected.allSatisfy { $0.result.status == .permanent })
        #expect(plan.rejected[1].result.error?.contains("control character 0x1") == true)
        #expect(plan.rejected[2].result.error?.contains("not UTF-8") == true)
        #expect(plan.requests.flatMap { $0.map(\.index) } == [2])
    }
}
