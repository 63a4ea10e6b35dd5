import Foundation
import HeraldJSON

/// A plugin's manifest in a `plugins.d` directory:
///
///     {"name": "file", "library": "libherald-sink-file.so", "abi": "1.1",
///      "description": "…", "sha256": "<hex, optional>"}
///
/// `library` is relative to the manifest's folder or absolute.
public struct PluginManifest: Sendable, Equatable {
    public var name: String
    /// Absolute path of the shared library.
    public var library: String
    public var abiMajor: Int
    public var abiMinor: Int
    public var description: String
    /// Lower-case hex SHA-256 the library must have, if pinned.
    public var sha256: String?
    /// Where the manifest was read from.
    public var manifestPath: String

    public static func read(path: String) throws(PluginLoadError) -> PluginManifest {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginLoadError(.manifestInvalid, "cannot read manifest \(path)")
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse([UInt8](data))
        } catch {
            throw PluginLoadError(.manifestInvalid, "manifest \(path) is not valid JSON: \(error)")
        }
        let issues = JSONShapeIssues()
        guard var r = JSONObjectReader(json, at: .root, issues: issues) else {
            throw PluginLoadError(.manifestInvalid, "manifest \(path): expected a JSON object")
        }
        let name = r.string("name", required: true)
        let library = r.string("library", required: true)
        let abi = r.string("abi", required: true)
        let description = r.string("description") ?? ""
        let sha = r.string("sha256")?.lowercased()
        r.finish()
        var major = 0
        var minor = 0
        if let abi {
            let parts = abi.split(separator: ".")
            if parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]) {
                major = a
                minor = b
            } else {
                issues.report(JSONPath.root + "abi", "'\(abi)' must be MAJOR.MINOR, e.g. \"1.0\"")
            }
        }
        if let sha, sha.count != 64 || !sha.allSatisfy({ $0.isHexDigit }) {
            issues.report(JSONPath.root + "sha256", "must be 64 hex digits")
        }
        guard issues.isEmpty, let name, let library else {
            let text = issues.issues.map { "\($0.path): \($0.message)" }.joined(separator: "; ")
            throw PluginLoadError(.manifestInvalid, "manifest \(path): \(text)")
        }
        let folder = (path as NSString).deletingLastPathComponent
        let resolved =
            library.hasPrefix("/") ? library : ((folder as NSString).appendingPathComponent(library) as NSString).standardizingPath
        return PluginManifest(
            name: name, library: resolved, abiMajor: major, abiMinor: minor, description: description, sha256: sha,
            manifestPath: path)
    }
}
