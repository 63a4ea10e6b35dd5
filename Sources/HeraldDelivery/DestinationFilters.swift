import HeraldConfig
import HeraldFilter
import HeraldModel

/// The filter stage: a destination's compiled object filter as a predicate on decoded events.
public enum DestinationFilters {
    public static func predicate(_ filter: ObjectFilter, destination: DestinationConfiguration) -> EventPredicate {
        let ovOnly = destination.ovOnly
        return EventPredicate(scope: filter.decodeScope) { entity, delta, _ in
            filter.matches(entity: entity, delta: delta, ovOnly: ovOnly)
        }
    }
}
