import HeraldConfig
import HeraldDelivery

/// Builds each destination's object filter (the filter stage).
enum DestinationFilters {
    static func predicate(tenant: TenantConfiguration, destination: DestinationConfiguration) -> EventPredicate? {
        nil
    }
}
