import HeraldJSON
import HeraldModel

/// Tests a type filter and an object filter against one sample event — what
/// `POST /api/{tenant}/objectFilter/validate` and `herald filter test` answer.
public struct FilterCheck: Sendable {
    public enum Outcome: Sendable {
        /// The filter or the event could not be read.
        case invalid(message: String, position: Int?, expected: String?)
        case evaluated(passes: Bool, typePasses: Bool, objectPasses: Bool, explanation: FilterExplanation?)
    }

    /// A sample event: `{"type": "ENTITY_CHANGED", "object": {…entity…}, "deltas": {"ovChanged", "delta": […]}}`,
    /// or a bare entity (then the type is ENTITY_CHANGED and there is no delta).
    public struct SampleEvent: Sendable {
        public var type: EventType
        public var entity: Entity
        public var delta: Delta?

        public init(type: EventType, entity: Entity, delta: Delta?) {
            self.type = type
            self.entity = entity
            self.delta = delta
        }

        public init(json: JSONValue) throws(FilterCheckError) {
            var objectJSON = json
            var type = EventType.entityChanged
            var delta: Delta?
            if let object = json["object"] {
                objectJSON = object
                if let name = json["type"]?.stringValue {
                    guard let t = EventType(rawValue: name) else {
                        throw FilterCheckError("unknown event type '\(name)' in event.type")
                    }
                    type = t
                }
                if let deltas = json["deltas"] { delta = Delta(json: deltas) }
            }
            do {
                self.init(type: type, entity: try Entity(json: objectJSON), delta: delta)
            } catch {
                throw FilterCheckError("the event's object is not an entity: \(error)")
            }
        }
    }

    public static func evaluate(
        objectFilter: String?, typeFilter: [String]?, ovOnly: Bool, event: SampleEvent
    ) -> Outcome {
        var types: Set<EventType>?
        if let typeFilter {
            var set = Set<EventType>()
            for name in typeFilter {
                guard let t = EventType(rawValue: name) else {
                    return .invalid(
                        message: "unknown event type '\(name)' in the type filter; known: \(EventType.allCases.map(\.rawValue).joined(separator: ", "))",
                        position: nil, expected: nil)
                }
                set.insert(t)
            }
            types = set
        }
        let typePasses = types?.contains(event.type) ?? true
        guard let text = objectFilter, !text.allSatisfy({ $0 == " " }) else {
            return .evaluated(passes: typePasses, typePasses: typePasses, objectPasses: true, explanation: nil)
        }
        let filter: ObjectFilter
        do {
            filter = try ObjectFilter.parse(text)
        } catch {
            return .invalid(message: error.message, position: error.position, expected: error.expected)
        }
        let subject = FilterSubject(entity: event.entity, delta: event.delta, ovOnly: ovOnly)
        let explanation = filter.explain(subject)
        return .evaluated(
            passes: typePasses && explanation.result, typePasses: typePasses, objectPasses: explanation.result,
            explanation: explanation)
    }
}

public struct FilterCheckError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
