import Foundation
import HeraldJSON

/// Helpers for delivery tests: plugin directories, streaming configurations, waiting for a state.
public enum StreamingTestSupport {
    /// Writes a manifest for a built plugin library into `directory`.
    public static func installManifest(
        name: String, library: String, in directory: String, abi: String = "1.1", sha256: String? = nil
    ) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sha = sha256.map { ", \"sha256\": \"\($0)\"" } ?? ""
        let text = "{\"name\": \"\(name)\", \"library\": \"\(library)\", \"abi\": \"\(abi)\", \"description\": \"test\"\(sha)}"
        FileManager.default.createFile(atPath: directory + "/\(name).json", contents: Data(text.utf8))
    }

    /// A plugin directory with the built test sink (`test`) and file sink (`file`).
    ///
    /// The `test` plugin is not one of the shipped sinks, so it runs in `herald sink-host` (isolation "process") by
    /// default, also under a `DeliveryService` inside the test runner: the sink host is then the `herald` built
    /// beside the test bundle (see `SinkHostExecutable`).
    public static func pluginDirectory(in dir: TemporaryDirectory) -> String {
        let plugins = dir.file("plugins.d")
        installManifest(name: "test", library: BuildProducts.directory + "/libherald-sink-test.so", in: plugins)
        installManifest(name: "file", library: BuildProducts.directory + "/libherald-sink-file.so", in: plugins)
        return plugins
    }

    /// The test tenant with a `streamingConfig`.
    public static func tenant(streaming: String) -> String {
        var t = TestConfiguration.tenantJSON
        t.removeLast()  // the closing brace
        while t.last?.isWhitespace == true { t.removeLast() }
        return t + ",\n  \"streamingConfig\": \(streaming)\n}"
    }

    /// The test tenant under another id, with a `streamingConfig`.
    public static func tenant(id: String, streaming: String) -> String {
        tenant(streaming: streaming).replacingOccurrences(of: "\"id\": \"t1\"", with: "\"id\": \"\(id)\"")
    }

    /// Writes a configuration with plugins and streaming; returns its path. `store`: see ``TestStore`` (default:
    /// SQLite in `data`).
    public static func writeConfig(
        in dir: TemporaryDirectory, plugins: String, streaming: String, tokens: String = "[]", store: TestStore? = nil,
        storeKeys: String = ""
    ) -> String {
        TestConfiguration.write(
            in: dir.path, tokens: tokens, tenants: tenant(streaming: streaming),
            extra: "\"pluginDirectories\": [\"\(plugins)\"],", store: store, storeKeys: storeKeys)
    }

    /// Adds `"cluster": {"leaseMs": …}` to a configuration file that `writeConfig` wrote (several nodes share it).
    public static func setLeaseMs(_ leaseMs: Int, in config: String) throws {
        var text = try String(contentsOfFile: config, encoding: .utf8)
        // The top-level "tenants" is the file's last (tokens before it may have their own "tenants").
        guard let top = text.range(of: "\"tenants\":", options: .backwards) else { return }
        text.replaceSubrange(top, with: "\"cluster\": {\"leaseMs\": \(leaseMs)},\n  \"tenants\":")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// Starts `herald serve` with the test tenant, `streaming` as its streamingConfig and the built test and file
    /// sinks, on `store` (default: SQLite in `data`); returns the server and a client for it.
    public static func start(_ dir: TemporaryDirectory, streaming: String, store: TestStore? = nil) throws
        -> (HeraldProcess, TestClient)
    {
        let config = writeConfig(in: dir, plugins: pluginDirectory(in: dir), streaming: streaming, store: store)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        return (server, TestClient(baseURL: server.baseURL))
    }

    /// The suffix of a destination's message ids (FNV-1a of its id, as the payload stage makes them).
    public static func idSuffix(_ destination: String) -> String {
        var hash: UInt32 = 0x811C_9DC5
        for b in destination.utf8 {
            hash ^= UInt32(b)
            hash = hash &* 0x0100_0193
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Lines of an NDJSON file, parsed (missing file: empty).
    public static func readLines(_ path: String) -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
    }

    /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    public static func eventually(timeout: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try condition()
    }

    /// The status object of one destination.
    public static func destinationStatus(_ client: TestClient, tenant: String = "t1", id: String) throws -> JSONValue? {
        let r = try client.get("/api/\(tenant)/streaming/status")
        return r.json?["destinations"]?.arrayValue?.first { $0["id"]?.stringValue == id }
    }

    /// Posts `count` people with ids `prefix0…` (first names from `name`).
    public static func postPeople(
        _ client: TestClient, count: Int, prefix: String, name: (Int) -> String = { "P\($0)" }, batch: Int = 100
    ) throws {
        var i = 0
        while i < count {
            let items = (i..<min(count, i + batch)).map { TestConfiguration.person(id: "\(prefix)\($0)", first: name($0)) }
            let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
            guard r.status == 200 else { throw HeraldProcessError(message: "post failed: \(r.status) \(r.text)") }
            i += batch
        }
    }
}

/// A small seeded generator, so that a failing random run can be repeated from its seed.
public struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
