import HeraldConfig
import HeraldFilter
import HeraldModel

/// The filter stage: a destination's `objectFilter`, parsed once, as a predicate on decoded events.
public enum DestinationFilters {
    /// Nil when the destination has no object filter (everything passes).
    ///
    /// The configuration loader already refused filters that do not parse; should one fail here
    /// anyway, the predicate lets nothing through (a broken filter must not stream everything).
    public static func predicate(tenant: TenantConfiguration, destination: DestinationConfiguration) -> EventPredicate? {
        guard let text = destination.objectFilter else { return nil }
        guard let filter = try? ObjectFilter.parse(text) else { return { _, _, _ in false } }
        let ovOnly = destination.ovOnly
        return { entity, delta, _ in filter.matches(entity: entity, delta: delta, ovOnly: ovOnly) }
    }
}
