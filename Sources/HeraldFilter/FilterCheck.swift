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
    /// or a bare entity (then the type is ENTITY_CHANGED and there is no delta). An event without `deltas`
    /// gets the delta delivery derives: everything added for ENTITY_CREATED, removed for ENTITY_REMOVED.
    public struct SampleEvent: Sendable {
        public var type: EventType
        public var entity: Entity
        public var delta: EventDelta

        /// - Parameter delta: nil: the event carries none (derived as delivery derives it).
        public init(type: EventType, entity: Entity, delta: EventDelta? = nil) {
            self.type = type
            self.entity = entity
            self.delta = delta ?? .derived(for: type, entity: entity)
        }

        public init(json: JSONValue) throws(FilterCheckError) {
            var objectJSON = json
            var type = EventType.entityChanged
            var delta: EventDelta?
            if let object = json["object"] {
                objectJSON = object
                if let name = json["type"]?.stringValue {
                    guard let t = EventType(rawValue: name) else {
                        throw FilterCheckError("unknown event type '\(name)' in event.type")
                    }
                    type = t
                }
                if let deltas = json["deltas"] { delta = .stored(Array(deltas.serializedString().utf8)) }
            }
            do {
                self.init(type: type, entity: try Entity(json: objectJSON, handWritten: true), delta: delta)
            } catch {
                throw FilterCheckError("the event's object is not an entity: \(error)")
            }
        }
    }

    /// Checks a type filter and an object filter before any event is read (so a bad event never hides the
    /// filter's own error): `.invalid` with the reason, or nil. With a schema, the attributes the filter names
    /// are checked against the tenant's data model, as the configuration loader checks them.
    public static func validate(objectFilter: String?, typeFilter: [String]?, schema: TenantSchema? = nil) -> Outcome? {
        switch prepare(objectFilter: objectFilter, typeFilter: typeFilter, schema: schema) {
        case .failure(let invalid): return invalid.outcome
        case .success: return nil
        }
    }

    public static func evaluate(
        objectFilter: String?, typeFilter: [String]?, ovOnly: Bool, event: SampleEvent, schema: TenantSchema? = nil
    ) -> Outcome {
        switch compile(objectFilter: objectFilter, typeFilter: typeFilter, schema: schema) {
        case .failure(let failure): return failure.outcome
        case .success(let compiled): return compiled.evaluate(event, ovOnly: ovOnly)
        }
    }

    /// The type filter as a set (nil: all types) and the parsed object filter (nil: none, for an absent, empty or
    /// blank one, as in a destination's configuration).
    static func prepare(objectFilter: String?, typeFilter: [String]?, schema: TenantSchema?)
        -> Result<(Set<EventType>?, ObjectFilter?), OutcomeBox>
    {
        var types: Set<EventType>?
        if let typeFilter, !typeFilter.isEmpty {
            var set = Set<EventType>()
            for name in typeFilter {
                guard let t = EventType(rawValue: name) else {
                    return .failure(
                        OutcomeBox(
                            .invalid(
                                message: "unknown event type '\(Echo.cut(name))' in the type filter; known: \(EventType.allCases.map(\.rawValue).joined(separator: ", "))",
                                position: nil, expected: nil)))
                }
                set.insert(t)
            }
            types = set
        }
        guard let text = objectFilter, !text.allSatisfy(\.isWhitespace) else { return .success((types, nil)) }
        let filter: ObjectFilter
        do {
            filter = try ObjectFilter.parse(text)
        } catch {
            return .failure(OutcomeBox(.invalid(message: error.message, position: error.position, expected: error.expected)))
        }
        if let schema, let problem = filter.schemaProblems(schema).first {
            return .failure(
                OutcomeBox(.invalid(message: "at position \(problem.position): \(problem.message)", position: problem.position, expected: nil)))
        }
        return .success((types, filter))
    }

    /// An outcome carried as an error (Result needs one).
    struct OutcomeBox: Error {
        var outcome: Outcome
        init(_ outcome: Outcome) { self.outcome = outcome }
    }
}

public struct FilterCheckError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
