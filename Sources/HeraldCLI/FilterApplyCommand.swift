import ArgumentParser
import Foundation
import HeraldConfig
import HeraldFilter
import HeraldJSON
import HeraldModel

extension FilterCommand {
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Filter NDJSON entities offline and keep selected fields, as a destination would.",
            discussion: """
                Reads one entity per line in the API form (as GET /api/{tenant}/entities/{id} returns it) \
                from FILE or standard input, keeps the entities that pass --filter (the objectFilter \
                language) and writes each one as an NDJSON line, reduced to --fields (payloadFields \
                semantics). Without --fields and --ov-only the kept lines are written unchanged. \
                Empty lines are skipped. There is no event and no delta: changes(...) is always false.

                Every line is checked as JSON; only the parts the filter and --fields read are built and \
                checked as an entity (the attributes they name; crosswalks when named), which is what keeps \
                large entities fast. The parts only --fields reads are built for the lines the filter keeps.

                Exit status: 0 on success, 2 for an invalid filter, invalid fields, or a line that is \
                not JSON or not an entity (the message names the line; the lines before it have been written).
                """)

        @Argument(help: "NDJSON file with one entity per line (default, or '-': standard input).")
        var file: String?

        @Option(help: "The object filter expression (default: every entity passes).")
        var filter: String?

        @Option(help: "Fields to keep, comma-separated, as in payloadFields: uri, type, createdBy, createdTime, updatedBy, updatedTime, attributes, attributes.X, attributes.X.Y, crosswalks.")
        var fields: String?

        @Flag(help: "Only operational values count, in the filter and in the output (a destination's ovOnly).")
        var ovOnly = false

        @Option(name: .shortAndLong, help: "Output file (default: standard output).")
        var output: String?

        func run() throws {
            var objectFilter: ObjectFilter?
            if let filter, !filter.allSatisfy({ $0 == " " }) {
                do {
                    objectFilter = try ObjectFilter.parse(filter)
                } catch {
                    printInvalidFilter(filter, message: error.message, position: error.position)
                    throw ExitCode(2)
                }
            }
            var payloadFields: [String]?
            if let fields {
                let list = fields.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !list.isEmpty else {
                    printError("invalid: --fields names no field")
                    throw ExitCode(2)
                }
                for field in list {
                    if let problem = NDJSONEntityFilter.checkField(field) {
                        printError("invalid: \(problem)")
                        throw ExitCode(2)
                    }
                }
                payloadFields = list
            }
            let input: Int32
            if let file, file != "-" {
                input = open(file, O_RDONLY | O_CLOEXEC)
                guard input >= 0 else {
                    printError("cannot read \(file): \(String(cString: strerror(errno)))")
                    throw ExitCode(2)
                }
            } else {
                input = STDIN_FILENO
            }
            defer { if input != STDIN_FILENO { close(input) } }
            let out: Int32
            if let output {
                out = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard out >= 0 else {
                    printError("cannot write \(output): \(String(cString: strerror(errno)))")
                    throw ExitCode(2)
                }
            } else {
                out = STDOUT_FILENO
            }
            defer { if out != STDOUT_FILENO { close(out) } }

            var engine = NDJSONEntityFilter(
                filter: objectFilter, options: EntityRenderOptions(payloadFields: payloadFields, ovOnly: ovOnly),
                ovOnly: ovOnly)
            do {
                try engine.run(input: input, output: out)
            } catch let error as NDJSONEntityFilter.LineError {
                printError("\(inputName): \(error)")
                throw ExitCode(2)
            } catch let error as NDJSONEntityFilter.IOError {
                printError(error.description)
                throw ExitCode(2)
            }
        }

        private var inputName: String { file.flatMap { $0 == "-" ? nil : $0 } ?? "<stdin>" }
    }
}

/// Prints an invalid filter with a caret under the problem, as `filter test` and `filter apply` do.
func printInvalidFilter(_ filter: String, message: String, position: Int?) {
    if let position {
        printError(filter)
        printError(String(repeating: " ", count: position) + "^")
    }
    printError("invalid: \(message)")
}

/// The engine of `herald filter apply`: NDJSON entities in, the ones that pass a filter out, each
/// reduced to the selected fields the way a destination's payload is (`Entity.render(into:options:)`
/// with `EntityRenderOptions(payloadFields:ovOnly:)`, the code the payload stage uses).
///
/// Reads and writes in large blocks with `read(2)`/`write(2)`: no per-line system calls.
struct NDJSONEntityFilter {
    let filter: ObjectFilter?
    let options: EntityRenderOptions
    let ovOnly: Bool
    /// Whether kept lines are re-rendered (fields selected or non-operational values dropped).
    let rerender: Bool
    /// What the filter and the output read of a line: only those members are built (`Entity(json:)` checks them);
    /// the rest is checked as JSON and skipped.
    let scope: Scope
    /// What the filter alone reads, when the output reads more (nil: `scope` serves both). Every line is
    /// then built only as far as the filter needs, and the few it keeps are parsed again with `scope`: with
    /// `--fields crosswalks` (the whole entity) and a filter that keeps 5% of the lines, that is 4x less work.
    let filterScope: Scope?

    /// A decode scope with its pruned parse.
    struct Scope {
        var entity: EntityDecodeScope
        var pruning: JSONPruning
        init(_ entity: EntityDecodeScope) {
            self.entity = entity
            self.pruning = entity.apiPruning
        }
    }
    private var writer = JSONWriter(capacity: 1 << 20)

    static let blockSize = 1 << 20

    init(filter: ObjectFilter?, options: EntityRenderOptions, ovOnly: Bool) {
        self.filter = filter
        self.options = options
        self.ovOnly = ovOnly
        self.rerender = options != .all
        let filterScope = filter?.decodeScope ?? EntityDecodeScope(attributes: [], crosswalks: false)
        let scope = rerender ? filterScope.union(EntityDecodeScope(rendering: options)) : filterScope
        self.scope = Scope(scope)
        self.filterScope = filter != nil && scope != filterScope ? Scope(filterScope) : nil
    }

    struct LineError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    struct IOError: Error, CustomStringConvertible {
        var description: String
    }

    /// Checks one `--fields` entry (as the configuration loader checks `payloadFields`, without a schema).
    static func checkField(_ field: String) -> String? {
        if selectableObjectFields.contains(field) { return nil }
        if field.hasPrefix("attributes.") {
            let path = field.dropFirst("attributes.".count).split(separator: ".", omittingEmptySubsequences: false)
            if path.contains(where: \.isEmpty) { return "'\(field)' has an empty attribute name" }
            if path.count > 2 { return "'\(field)' is too deep: use attributes.X or attributes.X.Y" }
            return nil
        }
        return "unknown field '\(field)'; fields are \(selectableObjectFields.joined(separator: ", ")) or attributes.<Name>"
    }

    /// Filters every line of `input` into `output`. Throws `LineError` at the first line that is not
    /// an entity (after writing the kept lines before it) and `IOError` when reading or writing fails.
    mutating func run(input: Int32, output: Int32) throws {
        do {
            try filterLines(input: input, output: output)
        } catch let error as LineError {
            try flush(output)
            throw error
        }
        try flush(output)
    }

    private mutating func filterLines(input: Int32, output: Int32) throws {
        var buffer = [UInt8](repeating: 0, count: NDJSONEntityFilter.blockSize)
        var filled = 0  // bytes of `buffer` holding data; a line not yet processed starts at 0
        var lineNumber = 0
        var atEOF = false
        while true {
            // Process every complete line in the buffer.
            let processed: Int = try buffer.withUnsafeBufferPointer { all in
                var lineStart = 0
                while lineStart < filled {
                    let rest = UnsafeRawPointer(all.baseAddress! + lineStart)
                    let newline = memchr(rest, 0x0A, filled - lineStart)
                    let lineEnd: Int
                    if let newline {
                        lineEnd = UnsafeRawPointer(newline) - UnsafeRawPointer(all.baseAddress!)
                    } else if atEOF {
                        lineEnd = filled
                    } else {
                        break
                    }
                    lineNumber += 1
                    try process(UnsafeBufferPointer(rebasing: all[lineStart..<lineEnd]), line: lineNumber, output: output)
                    lineStart = lineEnd + 1
                }
                return min(lineStart, filled)
            }
            if atEOF { break }
            // Keep the incomplete last line; grow the buffer when one line fills it.
            if processed > 0 {
                let remaining = filled - processed
                if remaining > 0 {
                    buffer.withUnsafeMutableBytes { raw in
                        _ = memmove(raw.baseAddress!, raw.baseAddress! + processed, remaining)
                    }
                }
                filled = remaining
            }
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let count = buffer.withUnsafeMutableBytes { raw in
                read(input, raw.baseAddress! + filled, raw.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw IOError(description: "cannot read the input: \(String(cString: strerror(errno)))")
            }
            if count == 0 { atEOF = true } else { filled += count }
        }
    }

    /// Parses one line, evaluates the filter and appends the kept entity to the output buffer.
    @inline(__always)
    private mutating func process(_ line: UnsafeBufferPointer<UInt8>, line number: Int, output: Int32) throws {
        var end = line.count
        if end > 0 && line[end - 1] == 0x0D { end -= 1 }  // CRLF
        let text = UnsafeBufferPointer(rebasing: line[0..<end])
        if text.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
        var entity = try NDJSONEntityFilter.entity(text, filterScope ?? scope, line: number)
        if let filter, !filter.matches(FilterSubject(entity: entity, delta: nil, ovOnly: ovOnly)) { return }
        if filterScope != nil { entity = try NDJSONEntityFilter.entity(text, scope, line: number) }
        if rerender {
            writer.reset(keepingContent: true)
            entity.render(into: &writer, options: options)
        } else {
            writer.bytes.append(contentsOf: text)
        }
        writer.bytes.append(0x0A)
        if writer.bytes.count >= NDJSONEntityFilter.blockSize { try flush(output) }
    }

    /// One line built as an entity as far as `scope` reaches: straight from the bytes (`Entity.readAPIForm`), or,
    /// where that gives up, through the pruned parse, whose errors name the line.
    @inline(__always)
    private static func entity(_ text: UnsafeBufferPointer<UInt8>, _ scope: Scope, line number: Int) throws -> Entity {
        if let entity = Entity.readAPIForm(text, scope: scope.entity) { return entity }
        let json: JSONValue
        do {
            json = try JSONParser.parse(text, pruning: scope.pruning)
        } catch {
            throw LineError(line: number, message: "not valid JSON: \(error.reason) at column \(error.column)")
        }
        do {
            return try Entity(json: json)
        } catch {
            let hint = json["object"] != nil ? " (this looks like an event: give the entity, its \"object\")" : ""
            throw LineError(line: number, message: "not an entity in the API form: \(error.path): \(error.reason)\(hint)")
        }
    }

    private mutating func flush(_ output: Int32) throws {
        try writer.bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(output, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw IOError(description: "cannot write the output: \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
        writer.reset()
    }
}
