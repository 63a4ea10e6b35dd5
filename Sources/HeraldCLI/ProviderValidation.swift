import Foundation
import HeraldConfig
import HeraldJSON
import HeraldPlugins
import HeraldSetup

extension HeraldConfiguration {
    /// Loads a configuration file for `serve` or `config check`: its shape, its object filters (compiled once,
    /// `CompiledConfiguration`), then its plugins (scanned into `registry`). Relative paths in plugin configurations resolve against the file's folder, as the file's own
    /// paths do: the process works in that folder from here on.
    /// - Throws: `ConfigurationError` with every problem.
    static func loadForRunning(path: String, registry: (HeraldConfiguration) -> PluginRegistry) throws
        -> (CompiledConfiguration, PluginRegistry)
    {
        let compiled = try CompiledConfiguration(try HeraldConfiguration.load(path: path), file: path)
        let configuration = compiled.configuration
        let folder = (absolute(path) as NSString).deletingLastPathComponent
        FileManager.default.changeCurrentDirectoryPath(folder)
        let plugins = registry(configuration)
        let issues = configuration.providerIssues(plugins)
        if !issues.isEmpty { throw ConfigurationError(file: path, issues: issues) }
        return (compiled, plugins)
    }
}
