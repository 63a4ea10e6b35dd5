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
                FILE holds an event ({"type", "object", "deltas"?}: what the events API shows, or a message body \
                a sink wrote) or a bare entity (tested as ENTITY_CHANGED). Without "deltas", the delta is \
                derived as delivery derives it: everything added for ENTITY_CREATED, removed for \
                ENTITY_REMOVED, nothing otherwise. A hand-written object may leave out value and crosswalk URIs \
                and "ov" (a value without "ov" counts as operational). The filter is checked before the file \
                is read. Prints 'match' or 'no match' and the tree of sub-expressions. Exit status: 0 match, \
                1 no match, 2 invalid filter or input.
                """)

        @Option(parsing: .unconditional, help: "The object filter expression (it may start with '-').")
        var filter: String?

        @Option(help: "Event types that pass (comma-separated); default: all.")
        var typeFilter: String?

        @Flag(help: "Only operational values count.")
        var ovOnly = false

        @Option(help: "JSON file with the sample event.")
        var event: String

        func run() throws {
            let types = typeFilter?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if case .invalid(let message, let position, _)? = FilterCheck.validate(objectFilter: filter, typeFilter: types) {
                if let filter {
                    printInvalidFilter(filter, message: message, position: position)
                } else {
                    printError("invalid: \(message)")
                }
                throw ExitCode(2)
            }
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
