import HTTPTypes
import HeraldJSON
import HeraldModel
@testable import HeraldServer
import HeraldStorage
import Hummingbird
import Logging
import NIOCore
import Testing

/// A page of the events API larger than `APIServer.eventsPiece` is sent in pieces as it is rendered, and the
/// pieces make the same document as rendering the page whole.
struct EventsPageTests {
    static let logger = Logger(label: "events-page-test")

    /// Collects what a response body writes.
    final class Collector: ResponseBodyWriter, @unchecked Sendable {
        var pieces: [ByteBuffer] = []
        var finished = false
        func write(_ buffer: ByteBuffer) async throws { pieces.append(buffer) }
        func finish(_ trailingHeaders: HTTPFields?) async throws { finished = true }
    }

    static func records(_ count: Int) -> [EventRecord] {
        (0..<count).map { i in
            var e = EventRenderTests.entity(first: "Ann\(i)")
            e.id = "E\(i)"
            // ~16 KB per event, so that 200 events make several pieces.
            e.attributes.append(
                AttributeEntry(
                    name: "Note",
                    values: (0..<40).map { AttributeValue(id: "n\($0)", content: .simple(String(repeating: "x", count: 300)), ov: true, sources: ["c1"]) }))
            return EventRenderTests.record(i % 2 == 0 ? .entityChanged : .entityCreated, entity: e, seq: Int64(i + 1))
        }
    }

    /// The page rendered whole, as the API did before it streamed.
    static func whole(_ events: [EventRecord], next: Int64) throws -> [UInt8] {
        var w = JSONWriter()
        var stored = StoredEntityRenderer()
        w.beginObject()
        w.key("events")
        w.beginArray()
        for record in events { try APIServer.renderEvent(record, into: &w, stored: &stored) }
        w.endArray()
        w.key("next")
        w.int(next)
        w.endObject()
        return w.bytes
    }

    static func body(_ response: Response) async throws -> (bytes: [UInt8], pieces: Int, finished: Bool) {
        let collector = Collector()
        try await response.body.write(collector)
        var bytes: [UInt8] = []
        for piece in collector.pieces { bytes += piece.readableBytesView }
        return (bytes, collector.pieces.count, collector.finished)
    }

    @Test func aLargePageIsSentInPiecesThatMakeTheWholeDocument() async throws {
        let events = Self.records(200)
        let response = try APIServer.eventsPage(events, next: 200, logger: Self.logger, tenant: "t1")
        #expect(response.body.contentLength == nil, "sent chunked")
        let (bytes, pieces, finished) = try await Self.body(response)
        let expected = try Self.whole(events, next: 200)
        #expect(expected.count > 3 * APIServer.eventsPiece)
        #expect(bytes == expected)
        #expect(pieces >= 3)
        #expect(finished)
        let parsed = try JSONParser.parse(bytes)
        #expect(parsed["events"]?.arrayValue?.count == 200)
        #expect(parsed["next"] == .number("200"))
    }

    /// A damaged snapshot in the first piece is an error before the answer; further on, it ends the body there.
    @Test func aDamagedSnapshotFailsThePageBeforeTheAnswerOrEndsTheBody() async throws {
        var events = Self.records(200)
        var damaged = events[150]
        damaged.event.snapshot = Array("not a snapshot".utf8)
        events[150] = damaged
        let response = try APIServer.eventsPage(events, next: 200, logger: Self.logger, tenant: "t1")
        let collector = Collector()
        await #expect(throws: (any Error).self) { try await response.body.write(collector) }
        #expect(!collector.finished)
        let sent = collector.pieces.reduce(0) { $0 + $1.readableBytes }
        let before = try Self.whole(Array(events[..<150]), next: 150).count
        #expect(sent > APIServer.eventsPiece && sent < before)

        events = Self.records(3)
        damaged = events[1]
        damaged.event.snapshot = Array("not a snapshot".utf8)
        events[1] = damaged
        #expect(throws: (any Error).self) { try APIServer.eventsPage(events, next: 3, logger: Self.logger, tenant: "t1") }
    }

    @Test func aSmallPageIsAnsweredWholeWithItsLength() async throws {
        let events = Self.records(3)
        let response = try APIServer.eventsPage(events, next: 3, logger: Self.logger, tenant: "t1")
        let expected = try Self.whole(events, next: 3)
        #expect(response.body.contentLength == expected.count)
        #expect(try await Self.body(response).bytes == expected)
        let empty = try APIServer.eventsPage([], next: 42, logger: Self.logger, tenant: "t1")
        #expect(try await Self.body(empty).bytes == Array(#"{"events":[],"next":42}"#.utf8))
    }
}
