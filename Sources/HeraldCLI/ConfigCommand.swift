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
                provider's configuration through its plugin's pure validation. Prints every error (JSON path \
                and reason) and exits 1, or prints a summary and exits 0.
                """)

        @Argument(help: "Configuration file (JSON).")
        var file: String

        func run() async throws {
            let configuration: HeraldConfiguration
            do {
                configuration = try HeraldConfiguration.load(path: file)
            } catch let error as ConfigurationError {
                printError(error.description)
                throw ExitCode(1)
            }
            let problems = Check.validateProviders(configuration)
            if !problems.isEmpty {
                printError("\(file): \(problems.count) configuration error\(problems.count == 1 ? "" : "s")")
                for p in problems { printError("  \(p)") }
                throw ExitCode(1)
            }
            print("\(file): OK")
            for w in configuration.warnings { printError("warning: \(w.path): \(w.message)") }
            print(configuration.summary)
        }

        /// Every provider's plugin must load and accept its configuration.
        static func validateProviders(_ configuration: HeraldConfiguration) -> [String] {
            let registry = PluginRegistry(directories: configuration.pluginDirectories)
            registry.scan()
            var problems: [String] = []
            for (t, tenant) in configuration.tenants.enumerated() {
                for (alias, provider) in tenant.streaming.providers.sorted(by: { $0.key < $1.key }) {
                    let path = "tenants[\(t)].streamingConfig.messaging.providers.\(alias)"
                    switch registry.plugin(named: provider.plugin) {
                    case .failure(let error):
                        problems.append("\(path).plugin: \(error.message)")
                    case .success(let plugin):
                        if let problem = plugin.validate(config: provider.config) {
                            problems.append("\(path).config: \(problem)")
                        }
                    }
                }
            }
            return problems
        }
    }
}
