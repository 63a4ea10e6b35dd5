import HeraldConfig
import HeraldJSON
import HeraldPlugins

extension HeraldConfiguration {
    /// What `herald config check` checks beyond the file's shape, and what `herald serve` refuses at start and on
    /// reload: every provider's plugin must load, and accept its configuration (the plugin's pure validation).
    ///
    /// Both commands run this one function, so that a configuration `config check` refuses never starts, and a
    /// deterministic configuration error is not retried forever by a destination.
    public func providerIssues(_ registry: PluginRegistry) -> [JSONShapeIssue] {
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
}
