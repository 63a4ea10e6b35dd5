import Foundation
import HeraldConfig
import HeraldJSON
import HeraldPlugins
import HeraldSetup

extension HeraldConfiguration {
    /// What `herald config check` checks beyond the file's shape, and what `herald serve` refuses at start and on
    /// reload: every provider's plugin must load, and accept its configuration (the plugin's pure validation).
    ///
    /// Both commands run this one function, so that a configuration `config check` refuses never starts, and a
    /// deterministic configuration error is not retried forever by a destination.
    func providerIssues(_ registry: PluginRegistry) -> [JSONShapeIssue] {
        var issues: [JSONShapeIssue] = []
        for (t, tenant) in tenants.enumerated() {
            for (alias, provider) in tenant.streaming.providers.sorted(by: { $0.key < $1.key }) {
                let path = JSONPath.root + "tenants" + t + "streamingConfig" + "messaging" + "providers" + alias
                switch registry.plugin(named: provider.plugin) {
                case .failure(let error):
                    issues.append(JSONShapeIssue(path: path + "plugin", message: error.message))
                case .success(let plugin):
                    if let problem = plugin.validate(config: provider.config) {
                        issues.append(JSONShapeIssue(path: path + "config", message: problem))
                    }
                }
            }
        }
        return issues
    }

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
