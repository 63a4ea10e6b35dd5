import HeraldJSON

/// One end of a posted relation: an entity URI, or a crosswalk that identifies the entity.
public enum RelationEndpointReference: Sendable, Equatable {
    case entity(id: String)
    case crosswalk(CrosswalkKey)
}

/// A posted relation: its contribution (attributes, crosswalks) and its two ends.
public struct RelationInput: Sendable {
    public var input: EntityInput
    public var start: RelationEndpointReference
    public var end: RelationEndpointReference

    /// `{"type": "configuration/relationTypes/Employment", "startObject": {"objectURI": "entities/A"},
    ///   "endObject": {"crosswalks": [{"type": "configuration/sources/CRM", "value": "org-1"}]},
    ///   "attributes": {…}, "crosswalks": […]}`
    public init(json: JSONValue, schema: TenantSchema, at path: JSONPath) throws(IngestError) {
        input = try EntityInput(json: json, schema: schema, at: path, relation: true)
        start = try RelationInput.endpoint(json["startObject"], schema: schema, at: path + "startObject")
        end = try RelationInput.endpoint(json["endObject"], schema: schema, at: path + "endObject")
    }

    static func endpoint(_ json: JSONValue?, schema: TenantSchema, at path: JSONPath) throws(IngestError)
        -> RelationEndpointReference
    {
        guard let json, case .object = json else {
            throw IngestError(
                .invalidEntity, "required: {\"objectURI\": \"entities/ID\"} or {\"crosswalks\": [{\"type\", \"value\"}]}", at: path)
        }
        if let uri = json["objectURI"]?.stringValue {
            guard uri.hasPrefix("entities/") else {
                throw IngestError(.invalidEntity, "'\(Echo.cut(uri))' is not an entity URI (entities/ID)", at: path + "objectURI")
            }
            let id = uri.dropFirst("entities/".count)
            if let problem = ObjectID.problem(id) {
                throw IngestError(.invalidEntity, "'objectURI' is not an entity URI (entities/ID): \(problem)", at: path + "objectURI")
            }
            return .entity(id: String(id))
        }
        if let first = json["crosswalks"]?.arrayValue?.first {
            let c = try EntityInput.decodeCrosswalk(first, schema: schema, at: path + "crosswalks" + 0)
            return .crosswalk(c.key)
        }
        throw IngestError(.invalidEntity, "give 'objectURI' or 'crosswalks' to say which entity this end is", at: path)
    }
}
