import ArgumentParser
import Foundation
import HeraldConfig
import HeraldPlugins
import Logging

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "List sink plugins or check one against the ABI.", subcommands: [List.self, Check.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each plugin of the plugin directories: version, ABI, where it was loaded from, or why not.",
            discussion: "Exit status 1 when any plugin failed to load.")

        @Option(name: .customLong("plugins-dir"), help: "A plugin directory (repeatable). Default: those of --config.")
        var pluginsDirs: [String] = []

        @Option(help: "Configuration file whose pluginDirectories to use.")
        var config: String?

        func run() async throws {
            var directories = pluginsDirs.map { ($0 as NSString).standardizingPath }
            if directories.isEmpty {
                guard let config else {
                    throw ValidationError("give --plugins-dir DIR or --config FILE")
                }
                do {
                    directories = try HeraldConfiguration.load(path: config).pluginDirectories
                } catch let error as ConfigurationError {
                    printError(error.description)
                    throw ExitCode(2)
                }
            }
            let statuses = PluginRegistry(directories: directories).scan()
            print("plugin directories: \(directories.joined(separator: ", "))")
            if statuses.isEmpty { print("no plugin manifests found") }
            for s in statuses {
                if let p = s.plugin {
                    print("  \(p.name) \(p.version)  ABI \(p.abiMajor).\(p.abiMinor)  loaded from \(p.manifest.library)")
                    if !p.summary.isEmpty { print("      \(p.summary)") }
                } else {
                    print("  \(s.name)  NOT LOADED  \(s.error?.description ?? "")")
                    print("      manifest: \(s.manifestPath)")
                }
            }
            if statuses.contains(where: { !$0.isLoaded }) { throw ExitCode(1) }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the conformance suite against a plugin library.",
            discussion: """
                Checks the descriptor and ABI version, configuration validation (good and bad), \
                create/start/stop/destroy, batches of 1 and many, messages at and over the declared size \
                limit, completion threading, one result per message and no completion after stop. Prints \
                PASS or FAIL per check and exits 1 on any failure.
                """)

        @Argument(help: "The plugin's shared library (.so).")
        var library: String

        @Option(help: "A JSON configuration under which the plugin can deliver.")
        var config: String = "{}"

        @Option(help: "Where the instance runs: inProcess, or process (in herald sink-host, as isolation \"process\" runs it).")
        var isolation: String = "inProcess"

        func run() async throws {
            LoggingSystem.bootstrap { label in
                var h = StreamLogHandler.standardError(label: label)
                h.logLevel = .warning
                return h
            }
            guard let mode = SinkIsolationMode(rawValue: isolation) else {
                throw ValidationError("--isolation must be inProcess or process, not '\(isolation)'")
            }
            let checks = await ConformanceSuite(library: library, config: config, isolation: mode).run()
            for c in checks {
                print("\(c.passed ? "PASS" : "FAIL")  \(c.name): \(c.detail)")
            }
            let failed = checks.filter { !$0.passed }.count
            print(failed == 0 ? "\(checks.count) checks passed" : "\(failed) of \(checks.count) checks failed")
            if failed > 0 { throw ExitCode(1) }
        }
    }
}
