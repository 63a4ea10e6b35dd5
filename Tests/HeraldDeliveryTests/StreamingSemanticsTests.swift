import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Streaming behaviour a user of the platform relies on: lag that alerts can use, empty lists, what message
/// bodies say.
@Suite(.timeLimit(.minutes(4)))
struct StreamingSemanticsTests {
    func start(_ dir: TemporaryDirectory, streaming: String) throws -> (HeraldProcess, TestClient) {
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: StreamingTestSupport.pluginDirectory(in: dir), streaming: streaming)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        return (server, TestClient(baseURL: server.baseURL))
    }

    /// During an outage every message waits in the retry schedule while the cursor moves on: lag must show it.
    @Test func lagCountsTheRetrySchedule() throws {
        let dir = TemporaryDirectory()
        let (server, client) = try start(
            dir,
            streaming: """
                {"messaging": {"providers": {"q": {"plugin": "test", "config": {"retryEveryNth": 1}}},
                  "destinations": [{"provider": "q", "name": "down", "retry": {"initialDelayMs": 600000, "maxDelayMs": 600000},
                                    "batch": {"lingerMs": 0}}]}}
                """)
        defer { withExtendedLifetime(server) {} }
        try StreamingTestSupport.postPeople(client, count: 30, prefix: "o")
        let parked = StreamingTestSupport.eventually {
            let s = try? StreamingTestSupport.destinationStatus(client, id: "q/down")
            return s?["cursor"] == .number("30") && s?["retryBacklog"] == .number("30")
        }
        #expect(parked, "every message should wait in the retry schedule")
        Thread.sleep(forTimeInterval: 1.1)
        let status = try #require(try StreamingTestSupport.destinationStatus(client, id: "q/down"))
        #expect(status["lagEvents"] == .number("30"), "\(status.serializedString())")
        #expect((status["lagSeconds"]?.doubleValue ?? 0) >= 1, "\(status.serializedString())")
        let metrics = try client.get("/metrics").text
        #expect(TenantIsolationTests.metric(metrics, "herald_destination_lag_events", tenant: "t1", destination: "q/down") == 30)
    }
}
