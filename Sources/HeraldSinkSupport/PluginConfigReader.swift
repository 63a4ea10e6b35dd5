import HeraldJSON
import HeraldSinkSDK

/// Reads a plugin's JSON configuration with the same rules as Herald's own file: unknown keys
/// and wrong types are errors that name the key. Throws a `SinkError(.permanent, …)` listing them.
public func readPluginConfig<T>(_ text: String, plugin: String, _ read: (inout JSONObjectReader) -> T) throws -> T {
    let json: JSONValue
    do {
        json = try JSONParser.parse(text)
    } catch {
        throw SinkError(.permanent, "the \(plugin) sink configuration is not valid JSON: \(error)")
    }
    let issues = JSONShapeIssues()
    guard var reader = JSONObjectReader(json, at: .root, issues: issues) else {
        throw SinkError(.permanent, "the \(plugin) sink configuration must be a JSON object")
    }
    let value = read(&reader)
    reader.finish()
    if !issues.isEmpty {
        let text = issues.issues.map { "\($0.path): \($0.message)" }.joined(separator: "; ")
        throw SinkError(.permanent, "\(plugin) sink configuration: \(text)")
    }
    return value
}
