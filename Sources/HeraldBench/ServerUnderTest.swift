import Foundation
import HeraldHTTPClient
import HeraldJSON
import HeraldSampleData

/// A `herald serve` child process with a temporary data directory.
final class ServerUnderTest: @unchecked Sendable {
    let process = Process()
    let directory: String
    private(set) var port: Int = 0
    var baseURL: String { "http://127.0.0.1:\(port)" }
    private let statusClient = HTTPClient(timeout: 30)

    let packageRoot: String
    let synchronous: String
    let pluginDirectory: String?
    let matching: Bool
    /// Members that replace the Individual type's (`matchGroups`, `survivorshipGroups`) when matching.
    let matchRules: JSONValue?
    /// Extra members of the `store` object (e.g. `"readerCount": 2`), written after `synchronous`.
    let storeOptions: String
    /// The `store` object's members, chosen once (a PostgreSQL server keeps its database across reloads), or given
    /// (several nodes on one database).
    private var store: String?

    /// Starts herald with the demo tenant; `streaming` replaces its streamingConfig (nil: none).
    /// - Parameters:
    ///   - matching: keep the demo tenant's match and survivorship groups (false: ingest without matching).
    ///   - matchRules: with `matching`, an object whose members replace the Individual type's (a rules file:
    ///     `{"matchGroups": [...]}`, optionally `survivorshipGroups`).
    init(
        herald: String, packageRoot: String, synchronous: String = "FULL", pluginDirectory: String? = nil,
        streaming: String? = nil, matching: Bool = false, matchRules: JSONValue? = nil, storeOptions: String = "",
        store: String? = nil, extraArguments: [String] = []
    ) throws {
        self.store = store
        self.matching = matching
        self.matchRules = matchRules
        self.storeOptions = storeOptions
        directory = NSTemporaryDirectory() + "herald-bench-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        self.packageRoot = packageRoot
        self.synchronous = synchronous
        self.pluginDirectory = pluginDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeConfig(streaming: streaming)
        process.executableURL = URL(fileURLWithPath: herald)
        // On PostgreSQL, info: the store logs its writer profile (statements, time waiting) when it closes.
        let level = BenchStore.current == .postgres ? "info" : "warning"
        process.arguments = ["serve", "--config", directory + "/herald.json", "--log-level", level] + extraArguments
        let out = Pipe()
        process.standardOutput = out
        FileManager.default.createFile(atPath: directory + "/serve.log", contents: nil)
        process.standardError = FileHandle(forWritingAtPath: directory + "/serve.log")
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty {
                let log = (try? String(contentsOfFile: directory + "/serve.log", encoding: .utf8)) ?? ""
                throw BenchError("herald serve exited before listening:\n\(log.suffix(2000))")
            }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let r = text.range(of: "127.0.0.1:"), let p = Int(text[r.upperBound...].prefix { $0.isNumber }) else {
            throw BenchError("unexpected output from herald serve: \(text)")
        }
        port = p
    }

    var pid: Int32 { process.processIdentifier }

    /// (Re)writes the configuration file with the demo tenant and `streaming` as its streamingConfig.
    func writeConfig(streaming: String?) throws {
        let demo = try JSONParser.parse(Array(FileManager.default.contents(atPath: packageRoot + "/examples/demo/herald.json")!))
        guard case .object(var tenant) = demo["tenants"]!.arrayValue![0] else { throw BenchError("demo tenant") }
        tenant.removeAll { $0.key == "streamingConfig" }
        if !matching, let i = tenant.firstIndex(where: { $0.key == "entityTypes" }), case .array(var types) = tenant[i].value {
            for t in types.indices {
                if case .object(var members) = types[t] {
                    members.removeAll { $0.key == "matchGroups" || $0.key == "survivorshipGroups" }
                    types[t] = .object(members)
                }
            }
            tenant[i].value = .array(types)
        }
        if matching, case .object(let replacements) = matchRules { IndividualRules.apply(replacements, to: &tenant) }
        if let streaming { tenant.append(JSONMember(key: "streamingConfig", value: try JSONParser.parse(streaming))) }
        let storeMembers = storeOptions.isEmpty ? "" : ", " + storeOptions
        if store == nil { store = try BenchStore.configuration(sqliteMembers: "\"synchronous\": \"\(synchronous)\"\(storeMembers)") }
        let plugins = pluginDirectory.map { "\"pluginDirectories\": [\"\($0)\"]," } ?? ""
        let config = """
            {"server": {"host": "127.0.0.1", "port": 0, "maxRequestBytes": 67108864},
             "dataDirectory": "\(directory)/data", "store": {\(store!)}, \(plugins)
             "tenants": [\(JSONValue.object(tenant).serializedString())]}
            """
        try config.write(toFile: directory + "/herald.json", atomically: true, encoding: .utf8)
    }

    /// The end of the server's log (for error messages).
    var logTail: String {
        let text = (try? String(contentsOfFile: directory + "/serve.log", encoding: .utf8)) ?? ""
        return String(text.suffix(3000))
    }

    /// The first destination's delivery status (from the streaming status API).
    struct DestinationProgress {
        var cursor: Int64
        var lagEvents: Int64
        var sent: Int64
        var filtered: Int64
        var state: String
    }

    func destinationStatus() throws -> DestinationProgress {
        let r = try statusClient.send(method: "GET", url: baseURL + "/api/demo/streaming/status")
        guard r.status == 200, let d = (try? JSONParser.parse(r.body))?["destinations"]?.arrayValue?.first else {
            throw BenchError("streaming status: HTTP \(r.status) \(r.bodyText.prefix(300))")
        }
        return DestinationProgress(
            cursor: d["cursor"]?.int64Value ?? 0, lagEvents: d["lagEvents"]?.int64Value ?? 0,
            sent: d["sent"]?.int64Value ?? 0, filtered: d["filtered"]?.int64Value ?? 0, state: d["state"]?.stringValue ?? "")
    }

    /// Every destination's status object (from the streaming status API).
    func streamingStatus() throws -> [JSONValue] {
        let r = try statusClient.send(method: "GET", url: baseURL + "/api/demo/streaming/status")
        guard r.status == 200, let list = (try? JSONParser.parse(r.body))?["destinations"]?.arrayValue else {
            throw BenchError("streaming status: HTTP \(r.status) \(r.bodyText.prefix(300))")
        }
        return list
    }

    /// Waits until the first destination has caught up with the queue (its lag is zero).
    func waitForDelivery(timeout: Double) throws {
        let deadline = monotonicSeconds() + timeout
        var last = try destinationStatus()
        while monotonicSeconds() < deadline {
            last = try destinationStatus()
            if last.lagEvents == 0 && last.state == "RUNNING" { return }
            usleep(10_000)
        }
        throw BenchError("delivery did not catch up within \(Int(timeout)) s (lag \(last.lagEvents), state \(last.state))\n\(logTail)")
    }

    /// Re-reads the configuration (SIGHUP).
    func reload() { kill(process.processIdentifier, SIGHUP) }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        let log = (try? String(contentsOfFile: directory + "/serve.log", encoding: .utf8)) ?? ""
        if let line = log.split(separator: "\n").last(where: { $0.contains("writer profile:") }),
            let range = line.range(of: "writer profile:")
        {
            say("  PostgreSQL writer:\(line[range.upperBound...])")
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A plugin directory (under the temporary directory, one per herald-bench process) with manifests of
/// the built sinks the scenarios use; removed when herald-bench ends (`removeBenchPluginDirectory`).
func benchPluginDirectory(binDirectory: String) throws -> String {
    let dir = benchPluginDirectoryPath
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for (name, lib) in [("test", "libherald-sink-test.so"), ("file", "libherald-sink-file.so"), ("kafka", "libherald-sink-kafka.so")] {
        let path = binDirectory + "/" + lib
        guard FileManager.default.fileExists(atPath: path) else { continue }
        let manifest = "{\"name\": \"\(name)\", \"library\": \"\(path)\", \"abi\": \"1.0\"}"
        try manifest.write(toFile: dir + "/\(name).json", atomically: true, encoding: .utf8)
    }
    return dir
}

private var benchPluginDirectoryPath: String { NSTemporaryDirectory() + "herald-bench-plugins-\(getpid())" }

func removeBenchPluginDirectory() {
    try? FileManager.default.removeItem(atPath: benchPluginDirectoryPath)
}
