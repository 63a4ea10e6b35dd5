import ArgumentParser
import HeraldConfig
import HeraldPlugins

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with configuration files.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file without starting anything.",
            discussion: """
                Checks the file's shape and values, loads the plugins of its pluginDirectories and runs each \
                provider's configuration through its plugin's pure validation: exactly what `herald serve` \
                refuses to start with. Prints every error (JSON path and reason) and exits 1, or prints a \
                summary and exits 0.
                """)

        @Argument(help: "Configuration file (JSON).")
        var file: String

        func run() async throws {
            let configuration: HeraldConfiguration
            do {
                configuration = try HeraldConfiguration.loadForRunning(path: HeraldConfiguration.absolute(file)) { c in
                    let registry = PluginRegistry(directories: c.pluginDirectories)
                    registry.scan()
                    return registry
                }.0.configuration
            } catch let error as ConfigurationError {
                printError(error.description)
                throw ExitCode(1)
            }
            print("\(file): OK")
            for w in configuration.warnings { printError("warning: \(w.path): \(w.message)") }
            print(configuration.summary)
        }
    }
}
