import HeraldJSON

/// Configuration of the file sink:
///
///     {"path": "/var/lib/herald/events-{destination}.ndjson", "fsync": false, "maxMessageBytes": 1048576}
///
/// `{destination}` in the path is replaced by the destination's name, so one provider can
/// serve several destinations with one file each.
struct FileSinkConfig {
    var path: String
    var fsync: Bool = false
    var maxMessageBytes: UInt64 = 1_048_576

    static func parse(_ text: String) throws -> FileSinkConfig {
        let json: JSONValue
        do {
            json = try JSONParser.parse(text)
        } catch {
            throw ConfigError("the file sink configuration is not valid JSON: \(error)")
        }
        let issues = JSONShapeIssues()
        guard var r = JSONObjectReader(json, at: .root, issues: issues) else {
            throw ConfigError("the file sink configuration must be a JSON object like {\"path\": \"/tmp/events.ndjson\"}")
        }
        let path = r.string("path", required: true)
        let fsync = r.bool("fsync")
        let max = r.int("maxMessageBytes", in: 1...(1 << 30))
        r.finish()
        if let first = issues.issues.first {
            throw ConfigError("\(first.path): \(first.message)")
        }
        var config = FileSinkConfig(path: path ?? "")
        if let fsync { config.fsync = fsync }
        if let max { config.maxMessageBytes = UInt64(max) }
        return config
    }
}

struct ConfigError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
