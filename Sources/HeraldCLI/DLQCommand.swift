import ArgumentParser
import Foundation
import HeraldHTTPClient
import HeraldJSON

/// `herald dlq …`: the dead-letter queue through the REST API.
struct DLQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "List, show, replay or purge dead-lettered messages.",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct Connection: ParsableArguments {
        @Option(help: "Base URL of the Herald server.")
        var url: String = "http://127.0.0.1:8080"

        @Option(help: "Tenant id.")
        var tenant: String

        @Option(help: "Bearer token (default: the HERALD_TOKEN environment variable).")
        var token: String?

        func call(_ method: String, _ path: String) throws -> JSONValue {
            let client = HTTPClient(timeout: 60)
            var headers: [(String, String)] = [("X-Herald-Client", "herald-cli")]
            if let t = token ?? ProcessInfo.processInfo.environment["HERALD_TOKEN"] {
                headers.append(("Authorization", "Bearer \(t)"))
            }
            let response = try client.send(
                method: method, url: url.trimmingSuffix("/") + "/api/\(tenant)" + path, headers: headers,
                body: method == "POST" ? [] : nil)
            let json = (try? JSONParser.parse(response.body)) ?? .null
            guard response.status == 200 else {
                let message = json["errorMessage"]?.stringValue ?? response.bodyText
                printError("HTTP \(response.status): \(message)")
                throw ExitCode(1)
            }
            return json
        }
    }

    struct Selection: ParsableArguments {
        @Option(help: "Only this destination id.")
        var destination: String?

        @Option(parsing: .upToNextOption, help: "Only these dead-letter ids.")
        var ids: [Int64] = []

        @Flag(help: "Every dead letter of the tenant.")
        var all = false

        var query: String {
            var parts: [String] = []
            if let destination { parts.append("destination=\(percentEncode(destination))") }
            if !ids.isEmpty { parts.append("ids=\(ids.map(String.init).joined(separator: ","))") }
            if all { parts.append("all=true") }
            return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
        }
    }

    struct List: ParsableCommand {
        @OptionGroup var connection: Connection
        @Option(help: "Only this destination id.") var destination: String?
        @Option(help: "At most this many.") var limit: Int = 100

        func run() throws {
            var path = "/streaming/dlq?limit=\(limit)"
            if let destination { path += "&destination=\(percentEncode(destination))" }
            let json = try connection.call("GET", path)
            let letters = json["deadLetters"]?.arrayValue ?? []
            if letters.isEmpty { print("no dead letters") }
            for l in letters {
                print(
                    "\(l["id"]?.int64Value ?? 0)  \(l["destination"]?.stringValue ?? "")  seq \(l["seq"]?.int64Value ?? 0)  "
                        + "\(l["eventType"]?.stringValue ?? "")  \(l["objectUri"]?.stringValue ?? "")  "
                        + "\(l["status"]?.stringValue ?? "") after \(l["attempts"]?.int64Value ?? 0) attempt(s): "
                        + "\(l["reason"]?.stringValue ?? "")")
            }
        }
    }

    struct Show: ParsableCommand {
        @OptionGroup var connection: Connection
        @Argument(help: "Dead-letter id.") var id: Int64

        func run() throws {
            print(try connection.call("GET", "/streaming/dlq/\(id)").serializedString())
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters again through their destination (they go back to the retry schedule, due now).")
        @OptionGroup var connection: Connection
        @OptionGroup var selection: Selection

        func run() throws {
            guard selection.destination != nil || !selection.ids.isEmpty || selection.all else {
                throw ValidationError("name what to replay: --destination ID, --ids N… or --all")
            }
            let json = try connection.call("POST", "/streaming/dlq/_replay" + selection.query)
            print("replayed \(json["replayed"]?.int64Value ?? 0) message(s)")
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead letters.")
        @OptionGroup var connection: Connection
        @OptionGroup var selection: Selection

        func run() throws {
            guard selection.destination != nil || !selection.ids.isEmpty || selection.all else {
                throw ValidationError("name what to purge: --destination ID, --ids N… or --all")
            }
            let json = try connection.call("POST", "/streaming/dlq/_purge" + selection.query)
            print("purged \(json["purged"]?.int64Value ?? 0) message(s)")
        }
    }
}

func percentEncode(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
}
