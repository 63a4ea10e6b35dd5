import ArgumentParser
import Foundation
import HeraldFilter
import HeraldJSON

struct FilterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter", abstract: "Work with object filters.", subcommands: [Test.self, Apply.self])

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test a filter against a sample event, offline.",
            discussion: """
                FILE holds an event ({"type", "object", "deltas"}, as the events API and DELTAS payloads show it) \
                or a bare entity (tested as ENTITY_CHANGED without a delta). Prints 'match' or 'no match' and \
                the tree of sub-expressions. Exit status: 0 match, 1 no match, 2 invalid filter or input.
                """)

        @Option(help: "The object filter expression.")
        var filter: String?

        @Option(help: "Event types that pass (comma-separated); default: all.")
        var typeFilter: String?

        @Flag(help: "Only operational values count.")
        var ovOnly = false

        @Option(help: "JSON file with the sample event.")
        var event: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: event) else {
                printError("cannot read \(event)")
                throw ExitCode(2)
            }
            let sample: FilterCheck.SampleEvent
            do {
                sample = try FilterCheck.SampleEvent(json: try JSONParser.parse([UInt8](data)))
            } catch {
                printError("\(event): \(error)")
                throw ExitCode(2)
            }
            let types = typeFilter?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            switch FilterCheck.evaluate(objectFilter: filter, typeFilter: types, ovOnly: ovOnly, event: sample) {
            case .invalid(let message, let position, _):
                if let filter {
                    printInvalidFilter(filter, message: message, position: position)
                } else {
                    printError("invalid: \(message)")
                }
                throw ExitCode(2)
            case .evaluated(let passes, let typePasses, _, let explanation):
                if !typePasses { print("type \(sample.type.rawValue) is not in the type filter") }
                if let explanation { print(explanation.outline) }
                print(passes ? "match" : "no match")
                if !passes { throw ExitCode(1) }
            }
        }
    }
}
