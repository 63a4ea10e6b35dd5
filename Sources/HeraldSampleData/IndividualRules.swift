import HeraldJSON

/// Rules files such as examples/matching/person-rules.json: `{"matchGroups": [...], …}` whose members replace
/// those of the `Individual` entity type in a tenant's configuration (the benchmark and the tests load the demo
/// tenant with them).
public enum IndividualRules {
    public static let individualType = "configuration/entityTypes/Individual"

    /// Replaces, in `tenant` (a tenant object's members), the Individual type's members named in `rules`.
    public static func apply(_ rules: [JSONMember], to tenant: inout [JSONMember]) {
        guard let i = tenant.firstIndex(where: { $0.key == "entityTypes" }), case .array(var types) = tenant[i].value
        else { return }
        for t in types.indices {
            guard case .object(var members) = types[t],
                members.contains(where: { $0.key == "uri" && $0.value.stringValue == individualType })
            else { continue }
            for replacement in rules {
                members.removeAll { $0.key == replacement.key }
                members.append(replacement)
            }
            types[t] = .object(members)
        }
        tenant[i].value = .array(types)
    }
}
