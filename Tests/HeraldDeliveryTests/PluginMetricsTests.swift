import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// A plugin's metrics cannot stop Herald: they live under `herald_plugin_<plugin>_`, and a name or type clash
/// is refused with one log line (the Prometheus registry would otherwise stop the process on a type mismatch).
@Suite(.blocking, .timeLimit(.minutes(10)))
struct PluginMetricsTests {
    @Test func aPluginThatTriesEveryClashIsRefusedNotFatal() throws {
        let dir = TemporaryDirectory()
        let plugins = dir.file("plugins.d")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try PluginLoaderTests.compileBroken("METRIC_CLASH", into: plugins + "/libclash.so")
        StreamingTestSupport.installManifest(name: "metric-clash", library: "libclash.so", in: plugins)
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins,
            streaming: """
                {"messaging": {"providers": {"m": {"plugin": "metric-clash", "config": {}}},
                  "destinations": [{"provider": "m", "name": "a", "batch": {"maxMessages": 1, "lingerMs": 0}}]}}
                """)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 4, prefix: "c", batch: 1)
        #expect(StreamingTestSupport.eventually { (try? StreamingTestSupport.destinationStatus(client, id: "m/a"))?["sent"] == .number("4") })
        #expect(server.process.isRunning, "the daemon must survive the plugin's metrics")

        let text = try client.get("/metrics").text
        func value(_ name: String) -> Double? {
            TenantIsolationTests.metric(text, name, tenant: "t1", destination: "m/a")
        }
        func type(_ name: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("# TYPE \(name) ") }.map { String($0.split(separator: " ")[3]) }
        }
        // Reported on start and on each of the 4 batches (one message each).
        #expect(value("herald_plugin_metric_clash_ok_total") == 15)
        #expect(type("herald_plugin_metric_clash_ok_total") == "counter")
        #expect(value("herald_plugin_metric_clash_level") == 42)
        #expect(type("herald_plugin_metric_clash_clash_total") == "counter", "the counter came first; the gauge was refused")
        #expect(value("herald_plugin_metric_clash_clash_total") == 5)
        #expect(type("herald_plugin_metric_clash_sent_total") == "gauge", "the gauge came first; the counter was refused")
        #expect(type("herald_plugin_metric_clash_x") == "gauge")
        #expect(type("herald_plugin_metric_clash_x_total") == "counter", "a gauge x and a counter x_total do not clash")
        #expect(value("herald_plugin_metric_clash_many_193") == 193, "200 names per plugin: 6 before the loop, then 194")
        #expect(value("herald_plugin_metric_clash_many_194") == nil)
        // Herald's own counter of the destination is not the plugin's.
        #expect(value("herald_destination_sent_total") == 4)
        #expect(type("herald_destination_sent_total") == "counter")

        // One log line per refused (name, kind), however often the plugin tries: 4 clashes and 56 over the budget.
        let refusals = server.log.split(separator: "\n").filter { $0.contains("metric refused and dropped") }
        #expect(refusals.count == 60, "\(refusals.count) refusal lines:\n\(refusals.prefix(8).joined(separator: "\n"))")
        #expect(refusals.contains { $0.contains("gauge 'clash_total' would be 'herald_plugin_metric_clash_clash_total', already a counter") })
    }
}
