import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Loader refusals, the conformance suite, drop-in plugins, reloads and dead-letter replay.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct PluginLoaderTests {
    static let include = BuildProducts.packageRoot + "/Sources/CHeraldSink/include"
    static let fixture = BuildProducts.packageRoot + "/Tests/Fixtures/broken_sink.c"

    /// Compiles a variant of Tests/Fixtures/broken_sink.c with `cc`.
    static func compileBroken(_ variant: String?, into path: String) throws {
        var args = ["-std=c11", "-shared", "-fPIC", "-I", include, fixture, "-o", path]
        if let variant { args.insert("-D\(variant)", at: 0) }
        let r = try runCommand("/usr/bin/cc", args)
        if r.status != 0 { throw HeraldProcessError(message: "cc failed: \(r.stderr)") }
    }

    /// Broken plugins in a plugin directory are reported; a configuration whose providers use them is refused
    /// the same way by `config check` and by `serve` (every refusal with its path and reason); one that does not
    /// use them runs.
    @Test func refusedPluginsAreReportedAndAConfigurationUsingThemDoesNotStart() throws {
        let dir = TemporaryDirectory()
        let plugins = dir.file("plugins.d")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        let variants: [(name: String, macro: String)] = [
            ("magic", "BROKEN_MAGIC"), ("major", "BROKEN_MAJOR"), ("minor", "NEWER_MINOR"), ("noentry", "NO_ENTRY"),
            ("small", "SMALL_STRUCT"),
        ]
        for v in variants {
            try PluginLoaderTests.compileBroken(v.macro, into: plugins + "/lib\(v.name).so")
            // Each manifest names the library by its own plugin name.
            let manifest = "{\"name\": \"\(v.name)\", \"library\": \"lib\(v.name).so\", \"abi\": \"1.0\"}"
            FileManager.default.createFile(atPath: plugins + "/\(v.name).json", contents: Data(manifest.utf8))
        }
        try PluginLoaderTests.compileBroken(nil, into: plugins + "/libok.so")
        StreamingTestSupport.installManifest(
            name: "broken-ok", library: "libok.so", in: plugins, sha256: String(repeating: "0", count: 64))
        StreamingTestSupport.installManifest(name: "file", library: BuildProducts.directory + "/libherald-sink-file.so", in: plugins)
        let output = dir.file("good.ndjson")
        let good = "\"good\": {\"plugin\": \"file\", \"config\": {\"path\": \"\(output)\"}}"
        var providers = [good]
        var destinations: [String] = ["{\"provider\": \"good\", \"name\": \"g\"}"]
        for name in variants.map(\.name) + ["broken-ok"] {
            providers.append("\"p-\(name)\": {\"plugin\": \"\(name)\", \"config\": {}}")
            destinations.append("{\"provider\": \"p-\(name)\", \"name\": \"\(name)\"}")
        }
        let expectations: [(String, String)] = [
            ("magic", "is not a Herald sink"), ("major", "built for ABI 2.1"), ("minor", "built for ABI 1.2"),
            ("noentry", "does not export 'herald_sink_entry'"), ("small", "descriptor struct_size is"),
            ("broken-ok", "the manifest pins 0000"),
        ]

        // 1. Providers that use them: `config check` and `serve` refuse it with the same lines.
        let refusedConfig = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins,
            streaming: "{\"messaging\": {\"providers\": {\(providers.joined(separator: ","))}, \"destinations\": [\(destinations.joined(separator: ","))]}}")
        let check = try runCommand(BuildProducts.herald, ["config", "check", refusedConfig])
        let serve = try runCommand(BuildProducts.herald, ["serve", "--config", refusedConfig, "--port", "0"])
        #expect(check.status == 1)
        #expect(serve.status == 2, "serve must refuse what config check refuses: \(serve.stderr)")
        let lines = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("  ") }.map(String.init) }
        #expect(lines(check.stderr) == lines(serve.stderr), "check:\n\(check.stderr)\nserve:\n\(serve.stderr)")
        #expect(lines(serve.stderr).count == expectations.count)
        for (name, text) in expectations {
            #expect(
                lines(serve.stderr).contains { $0.contains("providers.p-\(name).plugin:") && $0.contains(text) },
                "\(name): \(serve.stderr)")
        }

        // 2. A configuration that does not use them runs; the API and the CLI report them.
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins,
            streaming: "{\"messaging\": {\"providers\": {\(good)}, \"destinations\": [{\"provider\": \"good\", \"name\": \"g\"}]}}")
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        let listed = try #require(try client.get("/api/plugins").json?["plugins"]?.arrayValue)
        func plugin(_ name: String) -> JSONValue? { listed.first { $0["name"]?.stringValue == name } }
        let codes = [
            "magic": "BAD_MAGIC", "major": "ABI_MISMATCH", "minor": "ABI_MISMATCH", "noentry": "ENTRY_SYMBOL_MISSING",
            "small": "DESCRIPTOR_INVALID", "broken-ok": "HASH_MISMATCH",
        ]
        for (name, text) in expectations {
            let p = plugin(name)
            #expect(p?["loaded"] == .bool(false), "\(name)")
            #expect(p?["errorCode"] == .string(codes[name]!), "\(name): \(p?.serializedString() ?? "missing")")
            #expect(p?["error"]?.stringValue?.contains(text) == true, "\(name): \(p?["error"]?.stringValue ?? "")")
        }
        #expect(plugin("file")?["loaded"] == .bool(true))
        #expect(server.log.contains("plugin major not loaded"), "the reason is logged")
        try StreamingTestSupport.postPeople(client, count: 5, prefix: "x")
        #expect(StreamingTestSupport.eventually { StreamingTestSupport.readLines(output).count == 5 })

        // `herald plugins list` says the same and exits 1.
        let list = try runCommand(BuildProducts.herald, ["plugins", "list", "--plugins-dir", plugins])
        #expect(list.status == 1)
        #expect(list.stdout.contains("major  NOT LOADED  ABI_MISMATCH"), "\(list.stdout)")
        #expect(list.stdout.contains("file 1.0.0  ABI 1.1  loaded from"), "\(list.stdout)")
    }

    @Test func conformanceSuitePassesOnBuiltInsAndTheExampleAndFailsOnABrokenPlugin() throws {
        let dir = TemporaryDirectory()
        let file = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-file.so", "--config", "{\"path\": \"\(dir.file("f.ndjson"))\"}"])
        #expect(file.status == 0, "\(file.stdout)")
        #expect(file.stdout.contains("PASS  completion") || file.stdout.contains("PASS  synchronous completion"))

        let test = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-test.so", "--config",
             "{\"output\": \"\(dir.file("t.ndjson"))\", \"maxMessageBytes\": 65536}"])
        #expect(test.status == 0, "\(test.stdout)")
        #expect(test.stdout.contains("from a thread other than on_send_batch's, all accepted"), "\(test.stdout)")
        #expect(test.stdout.contains("PASS  message over the size limit"), "\(test.stdout)")

        let example = BuildProducts.packageRoot + "/Plugins/example-c"
        let make = try runCommand("/usr/bin/make", ["-C", example, "OUT=\(dir.path)"])
        #expect(make.status == 0, "\(make.stderr)")
        let exampleLib = dir.file("libherald-sink-example.so")
        let built = FileManager.default.fileExists(atPath: exampleLib) ? exampleLib : example + "/libherald-sink-example.so"
        let ex = try runCommand(
            BuildProducts.herald, ["plugins", "check", built, "--config", "{\"path\": \"\(dir.file("e.log"))\"}"])
        #expect(ex.status == 0, "\(ex.stdout)")

        let poisoned = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-test.so", "--config",
             "{\"output\": \"\(dir.file("p.ndjson"))\", \"permanentMarker\": \"ENTITY\"}"])
        #expect(poisoned.status == 1)
        #expect(poisoned.stdout.contains("FAIL  batch of 1"), "\(poisoned.stdout)")

        // Through `herald sink-host`, as isolation "process" runs it: the same checks pass, and a plugin that calls
        // back after on_stop is caught there too (the child waits before it reports).
        let isolated = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-test.so", "--isolation", "process", "--config",
             "{\"output\": \"\(dir.file("i.ndjson"))\", \"maxMessageBytes\": 65536}"])
        #expect(isolated.status == 0, "\(isolated.stdout)")
        #expect(isolated.stdout.contains("PASS  create and start: started in its own process"), "\(isolated.stdout)")
        #expect(isolated.stdout.contains("PASS  message over the size limit"), "\(isolated.stdout)")
        let late = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-test.so", "--isolation", "process", "--config",
             "{\"output\": \"\(dir.file("l.ndjson"))\", \"callbacksAfterStop\": true}"])
        #expect(late.status == 1)
        #expect(late.stdout.contains("FAIL  no completion after stop"), "\(late.stdout)")
        let unknown = try runCommand(BuildProducts.herald, ["plugins", "check", BuildProducts.directory + "/libherald-sink-test.so", "--isolation", "thread"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--isolation must be inProcess or process"), "\(unknown.stderr)")

        let major = dir.file("libmajor.so")
        try PluginLoaderTests.compileBroken("BROKEN_MAJOR", into: major)
        let refused = try runCommand(BuildProducts.herald, ["plugins", "check", major])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("FAIL  descriptor"), "\(refused.stdout)")
    }

    @Test func aDroppedInPluginStartsOnReloadAndReplayDeliversDeadLetters() throws {
        let dir = TemporaryDirectory()
        let plugins = dir.file("plugins.d")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        let output = dir.file("out.ndjson")
        func streaming(marker: String) -> String {
            """
            {"messaging": {"providers": {"sink": {"plugin": "test", "config": {"output": "\(output)", "permanentMarker": "\(marker)"}}},
             "destinations": [{"provider": "sink", "name": "q1", "batch": {"lingerMs": 0}}]}}
            """
        }
        let tokens = #"[{"name": "ops", "token": "admin-token-0123456789", "role": "admin", "tenants": "*"}]"#
        let config = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: "{}", tokens: tokens)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL, token: "admin-token-0123456789")
        try StreamingTestSupport.postPeople(client, count: 6, prefix: "d", name: { $0 < 2 ? "BAD\($0)" : "OK\($0)" })

        // A reload naming a plugin that is not there is refused; the running configuration stays.
        _ = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming(marker: "BAD"), tokens: tokens)
        let early = try client.post("/api/admin/_reload", "")
        #expect(early.status == 400 && early.json?["errorCode"] == .string("INVALID_CONFIGURATION"), "\(early.text)")
        #expect(early.text.contains("no plugin named 'test'"), "\(early.text)")
        #expect(try client.get("/api/t1/streaming/status").json?["destinations"]?.arrayValue?.isEmpty == true)

        // Drop the plugin in and send SIGHUP: it loads, the destination starts from the queue's beginning.
        StreamingTestSupport.installManifest(name: "test", library: BuildProducts.directory + "/libherald-sink-test.so", in: plugins)
        kill(server.process.processIdentifier, SIGHUP)
        #expect(
            StreamingTestSupport.eventually(timeout: 20) { StreamingTestSupport.readLines(output).count == 4 },
            "delivering after the reload: \(server.log.suffix(1500))")
        #expect(StreamingTestSupport.eventually { (try? client.get("/api/t1/streaming/dlq"))?.json?["deadLetters"]?.arrayValue?.count == 2 })

        // The CLI lists them; change the destination's plugin configuration, reload over REST, replay.
        let list = try runCommand(
            BuildProducts.herald, ["dlq", "list", "--tenant", "t1", "--url", server.baseURL, "--token", "admin-token-0123456789"])
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").count == 2, "\(list.stdout)")
        #expect(list.stdout.contains("PERMANENT"))
        _ = StreamingTestSupport.writeConfig(in: dir, plugins: plugins, streaming: streaming(marker: "NEVER"), tokens: tokens)
        let reload = try client.post("/api/admin/_reload", "")
        #expect(reload.status == 200, "\(reload.text)")
        let replay = try runCommand(
            BuildProducts.herald,
            ["dlq", "replay", "--tenant", "t1", "--url", server.baseURL, "--token", "admin-token-0123456789", "--destination", "sink/q1"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("replayed 2 message(s)"))
        #expect(StreamingTestSupport.eventually(timeout: 20) { StreamingTestSupport.readLines(output).count == 6 })
        #expect(try client.get("/api/t1/streaming/dlq").json?["deadLetters"]?.arrayValue?.isEmpty == true)

        // Purge needs a selection.
        let purge = try runCommand(
            BuildProducts.herald, ["dlq", "purge", "--tenant", "t1", "--url", server.baseURL, "--token", "admin-token-0123456789"])
        #expect(purge.status != 0)
    }
}

@Suite(.blocking, .timeLimit(.minutes(10))) struct ConfigCheckWithPluginsTests {
    @Test func configCheckRunsEachProvidersPluginValidation() throws {
        let dir = TemporaryDirectory()
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins,
            streaming: """
                {"messaging": {"providers": {
                   "good": {"plugin": "file", "config": {"path": "/tmp/x.ndjson"}},
                   "typo": {"plugin": "file", "config": {"path": "/tmp/x.ndjson", "fsinc": true}},
                   "ghost": {"plugin": "nosuchplugin", "config": {}}},
                 "destinations": [{"provider": "good", "name": "a"}]}}
                """)
        let result = try runCommand(BuildProducts.herald, ["config", "check", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("2 configuration errors"), "\(result.stderr)")
        #expect(
            result.stderr.contains("tenants[0].streamingConfig.messaging.providers.typo.config:")
                && result.stderr.contains("fsinc"), "\(result.stderr)")
        #expect(
            result.stderr.contains("tenants[0].streamingConfig.messaging.providers.ghost.plugin: no plugin named 'nosuchplugin'"),
            "\(result.stderr)")
    }
}

extension ConfigCheckWithPluginsTests {
    /// The older names of `maxInFlight` (`concurrency`, `maxInFlightBatches`) still pass `herald config check`, through
    /// each real plugin's own validation; giving both names fails it.
    @Test func olderNamesOfMaxInFlightStillPassConfigCheck() throws {
        let dir = TemporaryDirectory()
        let plugins = StreamingTestSupport.pluginDirectory(in: dir)
        for name in ["servicebus", "pubsub", "kafka"] {
            StreamingTestSupport.installManifest(
                name: name, library: BuildProducts.directory + "/libherald-sink-\(name).so", in: plugins)
        }
        func check(_ providers: String) throws -> CommandResult {
            let config = StreamingTestSupport.writeConfig(
                in: dir, plugins: plugins,
                streaming: #"{"messaging": {"providers": {\#(providers)}, "destinations": [{"provider": "sb", "name": "q"}]}}"#)
            return try runCommand(BuildProducts.herald, ["config", "check", config])
        }
        let old = try check(
            #""sb": {"plugin": "servicebus", "config": {"namespace": "ns", "keyName": "a", "key": "b", "concurrency": 2}},"#
                + #""ps": {"plugin": "pubsub", "config": {"project": "my-project", "emulatorHost": "127.0.0.1:8085", "concurrency": 2}},"#
                + #""k": {"plugin": "kafka", "config": {"bootstrapServers": "127.0.0.1:9092", "maxInFlightBatches": 8}}"#)
        #expect(old.status == 0, "\(old.stderr)")
        let both = try check(
            #""sb": {"plugin": "servicebus", "config": {"namespace": "ns", "keyName": "a", "key": "b", "concurrency": 2, "maxInFlight": 2}}"#)
        #expect(both.status == 1)
        #expect(both.stderr.contains("'concurrency' is the older name of 'maxInFlight'"), "\(both.stderr)")
    }
}

/// A plugin upgraded in place (a new library copied over the old file, its manifest re-pinned) runs as the new
/// code after a reload, while events flow, without losing any.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct PluginUpgradeTests {
    static func compileTestSink(version: String, into path: String) throws {
        let root = BuildProducts.packageRoot
        let r = try runCommand(
            "/usr/bin/cc",
            [
                "-std=c11", "-shared", "-fPIC", "-O1", "-I", root + "/Sources/CHeraldSink/include", "-I",
                root + "/Plugins/test-sink-c/include", "-DTS_VERSION=\"\(version)\"", root + "/Plugins/test-sink-c/test_sink.c",
                "-lpthread", "-o", path,
            ])
        if r.status != 0 { throw HeraldProcessError(message: "cc failed: \(r.stderr)") }
    }

    static func sha256(_ path: String) throws -> String {
        let r = try runCommand("/usr/bin/sha256sum", [path])
        return String(r.stdout.prefix(64))
    }

    @Test func aLibraryReplacedInPlaceRunsAsTheNewVersionAfterAReload() throws {
        let dir = TemporaryDirectory()
        let plugins = dir.file("plugins.d")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try PluginUpgradeTests.compileTestSink(version: "1.0.0", into: dir.file("v1.so"))
        try PluginUpgradeTests.compileTestSink(version: "2.0.0", into: dir.file("v2.so"))
        let library = plugins + "/libtest.so"
        try FileManager.default.copyItem(atPath: dir.file("v1.so"), toPath: library)
        StreamingTestSupport.installManifest(name: "test", library: "libtest.so", in: plugins, sha256: try PluginUpgradeTests.sha256(library))
        let output = dir.file("out.ndjson")
        let config = StreamingTestSupport.writeConfig(
            in: dir, plugins: plugins,
            streaming: """
                {"messaging": {"providers": {"q": {"plugin": "test", "config": {"output": "\(output)", "completionDelayMs": 5}}},
                  "destinations": [{"provider": "q", "name": "up", "batch": {"maxMessages": 10, "lingerMs": 0}}]}}
                """)
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        let client = TestClient(baseURL: server.baseURL)
        try StreamingTestSupport.postPeople(client, count: 100, prefix: "a", batch: 10)

        // The new code is written over the running library's file (in place: same inode), the manifest re-pinned.
        let v2 = try Data(contentsOf: URL(fileURLWithPath: dir.file("v2.so")))
        let handle = try #require(FileHandle(forWritingAtPath: library))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: v2)
        try handle.close()
        StreamingTestSupport.installManifest(name: "test", library: "libtest.so", in: plugins, sha256: try PluginUpgradeTests.sha256(library))
        try StreamingTestSupport.postPeople(client, count: 100, prefix: "b", batch: 10)
        let reload = try client.post("/api/admin/_reload", "")
        #expect(reload.status == 200, "\(reload.text)")
        try StreamingTestSupport.postPeople(client, count: 100, prefix: "c", batch: 10)

        let listed = try client.get("/api/plugins").json?["plugins"]?.arrayValue?.first { $0["name"] == .string("test") }
        #expect(listed?["version"] == .string("2.0.0"))
        #expect(StreamingTestSupport.eventually {
            (try? StreamingTestSupport.destinationStatus(client, id: "q/up"))?["pluginVersion"] == .string("2.0.0")
        })
        #expect(StreamingTestSupport.eventually(timeout: 30) {
            Set(StreamingTestSupport.readLines(output).compactMap(DeliveryTests.seq)).count == 300
        }, "every event arrives across the upgrade")
        let lines = StreamingTestSupport.readLines(output)
        #expect(Set(lines.compactMap(DeliveryTests.seq)) == Set(1...300))
        #expect(lines.first?["sink"] == .string("1.0.0"))
        #expect(lines.last?["sink"] == .string("2.0.0"), "the new code delivers after the reload")
        let versions = lines.compactMap { $0["sink"]?.stringValue }
        #expect(versions == versions.sorted(), "no message goes through v1 once v2 has started")
        #expect(server.log.contains("plugin test changed (1.0.0 → 2.0.0)"))
    }
}
