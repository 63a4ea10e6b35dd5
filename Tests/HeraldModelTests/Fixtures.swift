import HeraldJSON
import HeraldModel

let individual = "configuration/entityTypes/Individual"

func testSchema(limits: ObjectLimits = ObjectLimits()) -> TenantSchema {
    let base = individual + "/attributes/"
    return TenantSchema(
        tenant: "t1",
        entityTypes: [
            EntityTypeDefinition(
                uri: individual,
                attributes: [
                    AttributeDefinition(name: "FirstName", uri: base + "FirstName", dataType: .string),
                    AttributeDefinition(name: "LastName", uri: base + "LastName", dataType: .string),
                    AttributeDefinition(name: "Email", uri: base + "Email", dataType: .email),
                    AttributeDefinition(name: "BirthDate", uri: base + "BirthDate", dataType: .date),
                    AttributeDefinition(name: "Age", uri: base + "Age", dataType: .int),
                    AttributeDefinition(name: "VIP", uri: base + "VIP", dataType: .boolean),
                    AttributeDefinition(
                        name: "Address", uri: base + "Address", dataType: .nested,
                        attributes: [
                            AttributeDefinition(name: "City", uri: base + "Address/attributes/City", dataType: .string),
                            AttributeDefinition(name: "Zip", uri: base + "Address/attributes/Zip", dataType: .string),
                        ]),
                ]),
            EntityTypeDefinition(uri: "configuration/entityTypes/Organization", attributes: []),
        ],
        sources: [
            SourceDefinition(uri: "configuration/sources/CRM"), SourceDefinition(uri: "configuration/sources/ERP"),
        ],
        limits: limits)
}

func input(_ json: String, schema: TenantSchema = testSchema()) throws -> EntityInput {
    try EntityInput(json: try JSONParser.parse(json), schema: schema, at: JSONPath.root + 0)
}

func post(source: String = "CRM", id: String, _ attributes: String, updateDate: Int64? = nil) -> String {
    let date = updateDate.map { ", \"updateDate\": \($0)" } ?? ""
    return """
        {"type": "\(individual)", "attributes": {\(attributes)}, \
        "crosswalks": [{"type": "configuration/sources/\(source)", "value": "\(id)"\(date)}]}
        """
}

/// Applies posts in order to one entity, as the store would.
struct Harness {
    var ingestor = EntityIngestor(schema: testSchema())
    var ids = IDGenerator(seed: 7)
    var entity: Entity?
    var now: Int64 = 1_000

    mutating func apply(_ json: String) throws -> IngestOutcome {
        now += 1000
        let outcome = try ingestor.apply(
            try input(json, schema: ingestor.schema), to: entity, newEntityId: "E1", now: now, user: "tester",
            ids: &ids, at: JSONPath.root + 0)
        entity = outcome.entity
        return outcome
    }
}

extension Entity {
    func simpleValues(_ name: String) -> [String] {
        (values(of: name) ?? []).compactMap(\.content.simpleValue)
    }

    func ovValues(_ name: String) -> [String] {
        (values(of: name) ?? []).filter(\.ov).compactMap(\.content.simpleValue)
    }
}
