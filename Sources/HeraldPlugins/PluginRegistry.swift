import Foundation
import Synchronization

/// What happened to one manifest found in a plugin directory.
public struct PluginStatus: Sendable {
    public var name: String
    public var manifestPath: String
    public var library: String
    /// Set when the plugin loaded.
    public var plugin: LoadedPlugin?
    /// Set when it did not, with the reason.
    public var error: PluginLoadError?

    public var isLoaded: Bool { plugin != nil }
}

/// The plugins found in the configured directories. Rescanning loads new manifests and new library files:
/// a plugin whose library bytes changed (a new version copied over the old file, or a manifest naming another
/// file) is loaded again, and destinations using it are replaced on reload. Libraries are never unloaded.
public final class PluginRegistry: Sendable {
    public let directories: [String]
    private let state = Mutex<[String: PluginStatus]>([:])

    public init(directories: [String]) {
        self.directories = directories
    }

    /// Reads every `*.json` manifest of the directories and loads what is not loaded yet.
    /// - Returns: the status of every plugin, sorted by name.
    @discardableResult
    public func scan() -> [PluginStatus] {
        var found: [String: PluginStatus] = [:]
        for directory in directories {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            for file in entries.sorted() where file.hasSuffix(".json") {
                let path = (directory as NSString).appendingPathComponent(file)
                let status: PluginStatus
                do {
                    let manifest = try PluginManifest.read(path: path)
                    if let existing = state.withLock({ $0[manifest.name] }), let plugin = existing.plugin,
                        plugin.manifest == manifest,
                        (try? PluginLoader.read(library: manifest.library))?.sha256 == plugin.sha256
                    {
                        status = existing
                    } else {
                        do {
                            let plugin = try PluginLoader.load(manifest)
                            status = PluginStatus(
                                name: manifest.name, manifestPath: path, library: manifest.library, plugin: plugin)
                        } catch {
                            status = PluginStatus(
                                name: manifest.name, manifestPath: path, library: manifest.library, error: error)
                        }
                    }
                } catch {
                    let name = (file as NSString).deletingPathExtension
                    status = PluginStatus(name: name, manifestPath: path, library: "", error: error)
                }
                if let earlier = found[status.name] {
                    found[status.name] = PluginStatus(
                        name: status.name, manifestPath: path, library: status.library,
                        error: PluginLoadError(
                            .manifestInvalid,
                            "two manifests name plugin '\(status.name)': \(earlier.manifestPath) and \(path)"))
                } else {
                    found[status.name] = status
                }
            }
        }
        state.withLock { $0 = found }
        return found.values.sorted { $0.name < $1.name }
    }

    public var statuses: [PluginStatus] {
        state.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }

    /// The loaded plugin called `name`, or the reason it is not available.
    public func plugin(named name: String) -> Result<LoadedPlugin, PluginLoadError> {
        guard let status = state.withLock({ $0[name] }) else {
            let known = statuses.map(\.name).joined(separator: ", ")
            return .failure(
                PluginLoadError(
                    .unknownPlugin,
                    "no plugin named '\(name)' in \(directories.joined(separator: ", ")) (found: \(known.isEmpty ? "none" : known))"
                ))
        }
        if let plugin = status.plugin { return .success(plugin) }
        return .failure(status.error ?? PluginLoadError(.unknownPlugin, "plugin '\(name)' did not load"))
    }
}
