import ArgumentParser
import HeraldConfig

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with configuration files.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file without starting anything.",
            discussion: "Prints every error (JSON path and reason) and exits 1, or prints a summary and exits 0.")

        @Argument(help: "Configuration file (JSON).")
        var file: String

        func run() async throws {
            do {
                let configuration = try HeraldConfiguration.load(path: file)
                print("\(file): OK")
                print(configuration.summary)
            } catch let error as ConfigurationError {
                printError(error.description)
                throw ExitCode(1)
            }
        }
    }
}
