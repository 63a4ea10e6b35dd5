import ArgumentParser

@main
struct Herald: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herald",
        abstract: "Herald: a master-data event streaming engine.",
        discussion: """
            Source systems post entities to Herald's REST API; Herald stores them and turns every \
            change into an event on a durable queue that sink plugins stream to your own queues.
            """,
        version: heraldVersion,
        subcommands: [
            ServeCommand.self, LoadCommand.self, ConfigCommand.self, PluginsCommand.self, DLQCommand.self, FilterCommand.self,
            SampleDataCommand.self, StoreCommand.self, SinkHostCommand.self,
        ])
}

let heraldVersion = "0.1.0"
