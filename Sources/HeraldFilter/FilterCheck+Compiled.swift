import HeraldModel

extension FilterCheck {
    /// A type filter and an object filter parsed and checked once, to test many events (the filter playground,
    /// `POST /api/{tenant}/objectFilter/_test`): each `evaluate` answers as `FilterCheck.evaluate` would.
    public struct Compiled: Sendable {
        /// nil: every type passes.
        let types: Set<EventType>?
        /// nil: no object filter (every object passes).
        let filter: ObjectFilter?

        /// The outcome for one event: always `.evaluated`.
        public func evaluate(_ event: SampleEvent, ovOnly: Bool) -> Outcome {
            let typePasses = types?.contains(event.type) ?? true
            guard let filter else {
                return .evaluated(passes: typePasses, typePasses: typePasses, objectPasses: true, explanation: nil)
            }
            let explanation = filter.explain(filter.subject(entity: event.entity, delta: event.delta, ovOnly: ovOnly))
            return .evaluated(
                passes: typePasses && explanation.result, typePasses: typePasses, objectPasses: explanation.result,
                explanation: explanation)
        }
    }

    /// Parses and checks the filters as `validate` does: the compiled filters, or the `.invalid` outcome.
    public static func compile(objectFilter: String?, typeFilter: [String]?, schema: TenantSchema? = nil)
        -> Result<Compiled, CompileFailure>
    {
        switch prepare(objectFilter: objectFilter, typeFilter: typeFilter, schema: schema) {
        case .failure(let invalid): return .failure(CompileFailure(outcome: invalid.outcome))
        case .success(let (types, filter)): return .success(Compiled(types: types, filter: filter))
        }
    }

    /// Why filters do not compile: an `.invalid` outcome.
    public struct CompileFailure: Error, Sendable {
        public var outcome: Outcome
    }
}
