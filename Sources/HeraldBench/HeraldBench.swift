import ArgumentParser
import Foundation

@main
struct HeraldBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald-bench",
        abstract: "Herald's benchmarks: each scenario prints throughput, latency percentiles and peak RSS.",
        discussion: "Build in release mode first (make bench does). Results are also appended to --json as JSON lines.")

    @Option(help: "Scenarios to run (comma-separated): ingest (without, then with match rules), ingest-match (only with), filter-render, delivery, e2e, backlog, jq, kafka, sqs, cloud (the Pub/Sub and Service Bus sinks), file (the file sink), soak (the server's RSS while 1M entities are ingested with matching by 50 clients), cluster (several nodes on one PostgreSQL: see --nodes).")
    var scenarios: String = HeraldBench.defaultScenarios

    static let defaultScenarios = "ingest,filter-render,delivery,e2e,backlog,jq,kafka,isolation,sqs,cloud,file,soak"

    @Option(help: "Node counts for the cluster scenario, comma-separated (default 1,2,3): ingest and delivery with each many herald serve processes on one PostgreSQL. Given alone, runs only that scenario.")
    var nodes: String?

    @Flag(help: "A few seconds per scenario: keeps the benchmark code working in CI; figures are not meaningful.")
    var quick = false

    @Option(help: "Append results as JSON lines to this file.")
    var json: String?

    @Option(help: "The herald binary (default: next to herald-bench).")
    var herald: String?

    @Option(help: "Measured runs per scenario (the median is reported).")
    var runs: Int?

    @Option(help: "Entities posted per ingest run (soak: in all).")
    var entities: Int?

    @Option(help: "Concurrent HTTP connections for ingest (default 4; soak: 50).")
    var connections: Int?

    @Option(
        help: """
            Match rules for the ingest scenario's runs with matching, comma-separated: demo (the demo tenant's) and/or \
            rules files ({"matchGroups": [...]} for Individual, e.g. examples/matching/person-rules.json). The rule \
            sets run alternately on the same data, the realistic sample data (tagged errors and twins) when a file \
            is given, else the classic one; entities/s is printed for each. Default: demo, on the classic data.
            """)
    var matchRules: String?

    @Option(help: "Extra members of the server's SQLite `store` configuration, as JSON members (e.g. '\"readerCount\": 2').")
    var storeOptions: String = ""

    @Option(help: "The store of the servers under test, comma-separated to run every scenario on each: sqlite (default), postgres (a cluster herald-bench starts; needs Debian's postgresql).")
    var store: String = "sqlite"

    @Option(help: "SQLite synchronous mode of the server under test: FULL (durable, default) or NORMAL.")
    var synchronous: String = "FULL"

    func validate() throws {
        if let entities, entities < 100 {
            throw ValidationError("--entities must be at least 100 (ingest posts batches of 100), not \(entities)")
        }
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1, not \(runs)") }
        if let connections, connections < 1 { throw ValidationError("--connections must be at least 1, not \(connections)") }
        if let matchRules, matchRules.split(separator: ",").isEmpty {
            throw ValidationError("--match-rules needs demo or a rules file")
        }
        for name in store.split(separator: ",") where BenchStore(rawValue: String(name)) == nil {
            throw ValidationError("--store takes sqlite, postgres or both comma-separated, not '\(name)'")
        }
    }

    func run() throws {
        defer {
            removeBenchPluginDirectory()
            BenchStore.stop()
        }
        var binDir = (CommandLine.arguments[0] as NSString).deletingLastPathComponent
        if !binDir.hasPrefix("/") { binDir = FileManager.default.currentDirectoryPath + "/" + binDir }
        binDir = (binDir as NSString).standardizingPath
        let heraldPath = herald ?? binDir + "/herald"
        let root = packageRoot()
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        say("# herald-bench \(quick ? "(quick mode: figures are not meaningful)" : "")")
        say("machine: \(machineSummary(configuration: build))")
        try ReleaseSelfCheck.run()
        let writer = ResultWriter(jsonPath: json)
        let chosen = nodes != nil && scenarios == HeraldBench.defaultScenarios ? "cluster" : scenarios
        let backends = store.split(separator: ",").compactMap({ BenchStore(rawValue: String($0)) })
        for scenario in chosen.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
          for backend in backends {
            BenchStore.current = backend
            switch scenario {
            case "ingest", "ingest-match":
                var plain = IngestScenario(
                    herald: heraldPath, packageRoot: root, entities: entities ?? (quick ? 2_000 : 100_000), batch: 100,
                    connections: connections ?? 4, runs: runs ?? (quick ? 1 : 3), synchronous: synchronous)
                if scenario == "ingest" { try plain.run(writer: writer) }
                plain.duplicateRate = 0.1
                if let matchRules {
                    let ruleSets = try matchRules.split(separator: ",").map {
                        try IngestScenario.MatchRules.parse($0.trimmingCharacters(in: .whitespaces), packageRoot: root)
                    }
                    // Files are rules for the realistic data: every rule set gets that data, for a fair comparison.
                    if ruleSets.contains(where: { $0.members != nil }) { plain.errorProfile = .realistic }
                    try plain.runComparing(ruleSets, writer: writer)
                } else {
                    plain.matching = true
                    try plain.run(writer: writer)
                }
            case "soak":
                try SoakScenario(
                    herald: heraldPath, packageRoot: root, entities: entities ?? (quick ? 5_000 : 1_000_000),
                    connections: connections ?? (quick ? 10 : 50), synchronous: synchronous, storeOptions: storeOptions,
                    idleSeconds: quick ? 1 : 15, sampleSeconds: quick ? 0.2 : 1
                ).run(writer: writer)
            case "filter-render":
                try FilterRenderScenario(entities: quick ? 200 : 2_000, seconds: quick ? 0.2 : 2, runs: runs ?? (quick ? 1 : 3))
                    .run(packageRoot: root, writer: writer)
            case "delivery":
                try DeliveryScenario(
                    herald: heraldPath, packageRoot: root, binDirectory: binDir, events: quick ? 5_000 : 200_000,
                    runs: runs ?? (quick ? 1 : 3), latencyRate: quick ? 1_000 : 5_000, latencySeconds: quick ? 2 : 10
                ).run(writer: writer)
            case "jq":
                try JQScenario(
                    herald: heraldPath, packageRoot: root, entities: quick ? 3_000 : 200_000, runs: runs ?? (quick ? 1 : 3)
                ).run(writer: writer)
            case "kafka":
                try KafkaScenario(
                    packageRoot: root, binDirectory: binDir, messages: quick ? 5_000 : 200_000, runs: runs ?? (quick ? 1 : 3)
                ).run(writer: writer)
            case "isolation":
                try IsolationScenario(
                    packageRoot: root, binDirectory: binDir, messages: quick ? 20_000 : 200_000, runs: runs ?? (quick ? 1 : 3)
                ).run(writer: writer)
            case "sqs":
                try SQSScenario(
                    packageRoot: root, binDirectory: binDir, messages: quick ? 5_000 : 200_000, runs: runs ?? (quick ? 1 : 3),
                    signSeconds: quick ? 0.3 : 1, capacitySeconds: quick ? 1 : 3
                ).run(writer: writer)
            case "cloud":
                try CloudScenario(
                    packageRoot: root, binDirectory: binDir, messages: quick ? 5_000 : 200_000,
                    peerMessages: quick ? 500 : 20_000, runs: runs ?? (quick ? 1 : 3)
                ).run(writer: writer)
            case "file":
                try FileSinkScenario(
                    packageRoot: root, binDirectory: binDir, messages: quick ? 5_000 : 200_000,
                    fsyncMessages: quick ? 1_000 : 20_000, runs: runs ?? (quick ? 1 : 3)
                ).run(writer: writer)
            case "e2e":
                try EndToEndScenario(
                    herald: heraldPath, packageRoot: root, binDirectory: binDir, entities: quick ? 5_000 : 100_000,
                    runs: runs ?? (quick ? 1 : 3), steadyRate: quick ? 1_000 : 2_000, steadySeconds: quick ? 2 : 15
                ).run(writer: writer)
            case "cluster":
                // Always on PostgreSQL, once, whatever --store says.
                guard backend == backends.last else { continue }
                try ClusterScenario(
                    herald: heraldPath, packageRoot: root, binDirectory: binDir,
                    nodeCounts: (nodes ?? "1,2,3").split(separator: ",").compactMap { Int($0) },
                    entities: entities ?? (quick ? 2_000 : 20_000)
                ).run(writer: writer)
            case "backlog":
                try BacklogScenario(
                    herald: heraldPath, packageRoot: root, binDirectory: binDir, entities: quick ? 20_000 : 1_100_000,
                    checkpoints: quick ? [2_000, 10_000] : [100_000, 1_000_000]
                ).run(writer: writer)
            default:
                throw ValidationError("unknown scenario '\(scenario)'")
            }
          }
        }
    }

    func packageRoot() -> String {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }
}
