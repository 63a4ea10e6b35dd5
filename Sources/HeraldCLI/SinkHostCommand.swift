import ArgumentParser
import HeraldPlugins

/// `herald sink-host`: the child process of a provider with `isolation: "process"`. `herald serve` starts it with
/// its end of a socket as file descriptor 3; it is not meant to be run by hand.
struct SinkHostCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sink-host",
        abstract: "Runs one sink plugin instance for herald serve (isolation: \"process\"); started by herald serve.",
        shouldDisplay: false)

    @Argument(help: "The provider and destination it serves (shown by ps; not used otherwise).")
    var label: String = ""

    func run() throws {
        SinkHost.run(fd: 3)
    }
}
