import ArgumentParser
import Foundation
import HeraldSampleData

struct SampleDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample-data",
        abstract: "Generate person records (NDJSON) from several sources, with realistic duplicates.",
        discussion: """
            Writes one entity per line for the Individual type of examples/demo/herald.json. With --truth, \
            also writes source,crosswalk,person CSV: which records describe the same person (for \
            measuring match quality).

            --errors realistic tags every duplicate with the errors it carries and adds "twins" (different \
            people with an existing person's last name, address and birth year); the truth CSV then has two \
            more columns: errors (the kinds, separated by ';') and twinOf (the person a twin looks like). \
            Kinds: swappedNames, swappedAddressLines, identifierTypo, postcodeTypo, birthDateTypo, nameTypo, \
            nickname, missingValues, otherEmail, twin. The default, classic, writes what earlier versions wrote \
            for the same seed.
            """)

    @Option(help: "Number of distinct people.")
    var people: Int = 1000

    @Option(help: "Share of people that appear in more than one source (0...1).")
    var duplicates: Double = 0.3

    @Option(help: "Random seed (the output is the same for the same seed).")
    var seed: UInt64 = 42

    @Option(
        help: """
            Errors in duplicate records: classic (untagged typos, nicknames, swapped names, missing values; \
            the default) or realistic (tagged error kinds and twins).
            """)
    var errors: SampleDataGenerator.ErrorProfile = .classic

    @Option(name: .shortAndLong, help: "Output file (default: standard output).")
    var output: String?

    @Option(help: "Ground-truth CSV file to write.")
    var truth: String?

    func run() throws {
        var options = SampleDataGenerator.Options()
        options.people = people
        options.duplicateRate = duplicates
        options.seed = seed
        options.errorProfile = errors
        let realistic = errors == .realistic
        let out: UnsafeMutablePointer<FILE>
        if let output {
            guard let f = fopen(output, "w") else { throw ValidationError("cannot write '\(output)'") }
            out = f
        } else {
            out = fdopen(dup(STDOUT_FILENO), "w")
        }
        defer { fclose(out) }
        var truthFile: UnsafeMutablePointer<FILE>?
        if let truth {
            guard let f = fopen(truth, "w") else { throw ValidationError("cannot write '\(truth)'") }
            truthFile = f
            fputs(realistic ? "source,crosswalk,person,errors,twinOf\n" : "source,crosswalk,person\n", f)
        }
        defer { if let truthFile { fclose(truthFile) } }
        SampleDataGenerator(options: options).generate { record in
            record.json.withUnsafeBufferPointer { _ = fwrite($0.baseAddress, 1, $0.count, out) }
            fputc(0x0A, out)
            if let truthFile {
                let extra =
                    realistic
                    ? ",\(record.errors.map(\.rawValue).joined(separator: ";")),\(record.twinOf.map(String.init) ?? "")"
                    : ""
                fputs("\(record.source),\(record.crosswalkValue),\(record.personId)\(extra)\n", truthFile)
            }
        }
    }
}

extension SampleDataGenerator.ErrorProfile: ExpressibleByArgument {}
