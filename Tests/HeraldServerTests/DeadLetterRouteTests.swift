import Foundation
import HeraldJSON
import HeraldModel
import HeraldSQLite
import HeraldStorage
import HeraldTestSupport
import Testing

/// The dead-letter routes go through the delivery service: a replayed letter is delivered again by the
/// destination's worker, a purged one is gone.
@Suite(.timeLimit(.minutes(3)))
struct DeadLetterRouteTests {
    /// Dead-letters one message of `files/events` straight into the store; returns its id.
    static func deadLetter(_ store: SQLiteStore, seq: Int64, body: String) async throws -> Int64 {
        let key = DestinationKey(tenant: "t1", destination: RouteHarness.destination)
        let message = DeliveryMessage(
            seq: seq, id: "dead-\(seq)", key: "entities/e\(seq)", eventType: "ENTITY_CREATED",
            objectURI: "entities/e\(seq)", headers: [MessageHeader("messageId", "dead-\(seq)")], body: Array(body.utf8))
        let now = epochMilliseconds()
        return try await store.write { tx in
            try tx.deadLetter(
                DeadLetter(
                    key: key, message: message, status: "PERMANENT", reason: "refused by the test", attempts: 3,
                    firstAttempt: now, lastAttempt: now, plugin: "file", pluginVersion: "1", created: now))
        }
    }

    /// Polls `condition` every 50 ms for up to `seconds`.
    static func eventually(seconds: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return try await condition()
    }

    @Test func replayGoesBackToTheDestinationsWorkerAndPurgeDeletes() async throws {
        let harness = try await RouteHarness()
        let first = try await Self.deadLetter(harness.store, seq: 1, body: #"{"letter": "first"}"#)
        let second = try await Self.deadLetter(harness.store, seq: 2, body: #"{"letter": "second"}"#)
        let output = harness.output
        try await harness.test { client in
            let listed = try await client.send(.get, "/api/t1/streaming/dlq", token: "t1-reader")
            #expect(listed.json?["deadLetters"]?.arrayValue?.compactMap { $0["id"]?.int64Value } == [first, second])

            let replayed = try await client.send(.post, "/api/t1/streaming/dlq/_replay?ids=\(first)", token: "t1-admin")
            #expect(replayed.status == 200 && replayed.json?["replayed"] == .number("1"), "\(replayed.text)")
            // The worker of files/events sends it again, through the file sink.
            let delivered = await Self.eventually {
                StreamingTestSupport.readLines(output).contains { $0["body"]?.stringValue == #"{"letter": "first"}"# }
            }
            #expect(delivered, "the replayed letter was not delivered: \(StreamingTestSupport.readLines(output))")
            #expect(!StreamingTestSupport.readLines(output).contains { $0["body"]?.stringValue == #"{"letter": "second"}"# })
            let left = try await client.send(.get, "/api/t1/streaming/dlq", token: "t1-reader")
            #expect(left.json?["deadLetters"]?.arrayValue?.compactMap { $0["id"]?.int64Value } == [second])
            let drained = try await Self.eventually {
                let status = try await client.send(.get, "/api/t1/streaming/status", token: "t1-reader")
                let destination = status.json?["destinations"]?.arrayValue?.first
                return destination?["retryBacklog"] == .number("0") && destination?["deadLetterCount"] == .number("1")
            }
            #expect(drained, "the retry schedule empties and one dead letter is left")

            let purged = try await client.send(
                .post, "/api/t1/streaming/dlq/_purge?destination=\(RouteHarness.destination)", token: "t1-admin")
            #expect(purged.status == 200 && purged.json?["purged"] == .number("1"), "\(purged.text)")
            let none = try await client.send(.get, "/api/t1/streaming/dlq", token: "t1-reader")
            #expect(none.json?["deadLetters"]?.arrayValue?.isEmpty == true, "\(none.text)")
            let gone = try await client.send(.get, "/api/t1/streaming/dlq/\(second)", token: "t1-reader")
            #expect(gone.status == 404 && gone.errorCode == "DEAD_LETTER_NOT_FOUND")
        }
        await harness.close()
    }

    @Test func replayAndPurgeNeedAKnownDestinationAndASelection() async throws {
        let harness = try await RouteHarness()
        let id = try await Self.deadLetter(harness.store, seq: 1, body: "{}")
        try await harness.test { client in
            for action in ["_replay", "_purge"] {
                let unknown = try await client.send(
                    .post, "/api/t1/streaming/dlq/\(action)?destination=files/nosuch", token: "t1-admin")
                #expect(unknown.status == 404 && unknown.errorCode == "UNKNOWN_DESTINATION", "\(action): \(unknown.text)")
                let unscoped = try await client.send(.post, "/api/t1/streaming/dlq/\(action)", token: "t1-admin")
                #expect(unscoped.status == 400 && unscoped.errorCode == "INVALID_PARAMETER", "\(action): \(unscoped.text)")
                // Another tenant's scope holds none of t1's letters.
                let elsewhere = try await client.send(.post, "/api/t2/streaming/dlq/\(action)?ids=\(id)", token: "root")
                #expect(elsewhere.status == 200 && elsewhere.text.hasSuffix(":0}"), "\(action) on t2: \(elsewhere.text)")
            }
            let still = try await client.send(.get, "/api/t1/streaming/dlq/\(id)", token: "t1-reader")
            #expect(still.status == 200 && still.json?["body"] == .string("{}"), "\(still.text)")
        }
        await harness.close()
    }
}
