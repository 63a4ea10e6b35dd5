import HeraldConfig
import HeraldFilter
import HeraldJSON
import HeraldMatch
import HeraldModel

/// The configuration with what the stages run compiled once: every destination's object filter,
/// parsed and checked against its tenant's data model, and every entity type's match engine.
///
/// `HeraldConfig` reads the file into plain values (filters stay text, match rules stay rules); this
/// step turns them into the forms the stages use — filters for delivery, engines for ingest — and
/// refuses what does not compile, with the JSON path of each problem. `herald config check`, `serve` and a reload all go through it, so what one refuses the
/// others refuse, and a filter is parsed once per load, not once to check and again to run.
public struct CompiledConfiguration: Sendable {
    public let configuration: HeraldConfiguration
    /// The object filter of every destination that has one.
    public let filters: [DestinationKey: ObjectFilter]
    /// The match engine of every entity type with match rules: tenant id → entity type URI.
    public let matching: [String: [String: CompiledMatching]]

    /// Compiles `configuration` (read from `file`).
    ///
    /// - Throws: `ConfigurationError` listing every filter that does not parse or names an attribute
    ///   the tenant's data model does not have.
    public init(_ configuration: HeraldConfiguration, file: String) throws(ConfigurationError) {
        var filters: [DestinationKey: ObjectFilter] = [:]
        var issues: [JSONShapeIssue] = []
        for (t, tenant) in configuration.tenants.enumerated() {
            for (d, destination) in tenant.streaming.destinations.enumerated() {
                guard let text = destination.objectFilter else { continue }
                let path =
                    JSONPath.root + "tenants" + t + "streamingConfig" + "messaging" + "destinations" + d + "objectFilter"
                do {
                    let filter = try ObjectFilter.parse(text)
                    let problems = filter.schemaProblems(tenant.schema)
                    for problem in problems {
                        issues.append(JSONShapeIssue(path: path, message: "at position \(problem.position): \(problem.message)"))
                    }
                    if problems.isEmpty { filters[DestinationKey(tenant: tenant.id, destination: destination.id)] = filter }
                } catch {
                    issues.append(JSONShapeIssue(path: path, message: "does not parse: \(error.message)"))
                }
            }
        }
        if !issues.isEmpty { throw ConfigurationError(file: file, issues: issues) }
        var matching: [String: [String: CompiledMatching]] = [:]
        for tenant in configuration.tenants {
            for (type, rules) in tenant.matching {
                let entityType = tenant.schema.entityType(type) ?? EntityTypeDefinition(uri: type, attributes: [])
                matching[tenant.id, default: [:]][type] = CompiledMatching(rules, entityType: entityType)
            }
        }
        self.configuration = configuration
        self.filters = filters
        self.matching = matching
    }
}
