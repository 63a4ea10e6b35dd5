import HeraldJSON
import HeraldModel

extension MatchConfigurationReader {
    /// Reads `survivorshipGroups`: one group is applied per entity type (the one marked `default`, or the
    /// only one); its `mapping` gives the strategy of each listed attribute, LUD for the others.
    static func readSurvivorshipGroups(
        _ r: inout JSONObjectReader, entityType: EntityTypeDefinition, sources: [SourceDefinition]
    ) -> SurvivorshipRules {
        struct Group {
            var index: Int
            var isDefault: Bool?
            var mappings: [SurvivorshipMapping]
        }
        var index = 0
        let groups =
            r.objects("survivorshipGroups") { g -> Group? in
                defer { index += 1 }
                let uri = g.string("uri", required: true)
                let prefix = entityType.uri + "/survivorshipGroups/"
                if let uri, !uri.hasPrefix(prefix) || uri.count == prefix.count {
                    g.report("uri", "'\(uri)' must look like '\(prefix){Name}'")
                }
                _ = g.string("label")
                let isDefault = g.bool("default")
                var seen = Set<String>()
                let mappings =
                    g.objects("mapping", required: true) { m -> SurvivorshipMapping? in
                        guard let mapping = readMapping(&m, entityType: entityType, sources: sources) else {
                            return nil
                        }
                        guard seen.insert(mapping.attribute).inserted else {
                            m.report("attribute", "'\(mapping.attribute)' is mapped twice in this group")
                            return nil
                        }
                        return mapping
                    } ?? []
                return Group(index: index, isDefault: isDefault, mappings: mappings)
            } ?? []
        guard !groups.isEmpty else { return .lastUpdateWins }
        if groups.count == 1 {
            if groups[0].isDefault == false {
                r.issues.report(
                    r.path + "survivorshipGroups" + groups[0].index + "default",
                    "the only survivorship group is the one applied; remove \"default\": false")
            }
            return SurvivorshipRules(mappings: groups[0].mappings)
        }
        let defaults = groups.filter { $0.isDefault == true }
        if defaults.count != 1 {
            r.report(
                "survivorshipGroups",
                "\(groups.count) survivorship groups and \(defaults.count) marked \"default\": true; Herald applies "
                    + "one group per entity type: mark exactly one as default")
            return SurvivorshipRules(mappings: defaults.first?.mappings ?? [])
        }
        for g in groups where g.isDefault != true {
            r.issues.report(
                r.path + "survivorshipGroups" + g.index,
                "only the default survivorship group is applied (there are no role-based groups); remove this one")
        }
        return SurvivorshipRules(mappings: defaults[0].mappings)
    }

    static func readMapping(_ m: inout JSONObjectReader, entityType: EntityTypeDefinition, sources: [SourceDefinition])
        -> SurvivorshipMapping?
    {
        let strategies = SurvivorshipStrategy.allCases.map(\.rawValue)
        let attribute = m.string("attribute", required: true)
        let strategy = m.choice("survivorshipStrategy", strategies).flatMap(SurvivorshipStrategy.init(rawValue:))
        if m.value("survivorshipStrategy") == nil {
            m.report(
                "survivorshipStrategy",
                "required key 'survivorshipStrategy' is missing (one of \(strategies.joined(separator: ", ")))")
        }
        let fallback = m.choice("fallbackStrategy", strategies).flatMap(SurvivorshipStrategy.init(rawValue:))
        let order = m.stringArray("sourcesUriOrder")
        var name: String?
        if let attribute {
            switch AttributeReference.resolve(attribute, in: entityType) {
            case .success(let (ref, _)):
                if let sub = ref.subAttribute {
                    m.report(
                        "attribute",
                        "'\(ref.attribute).\(sub)' is a sub-attribute; sub-values follow their nested value: map '\(ref.attribute)'"
                    )
                } else {
                    name = ref.attribute
                }
            case .failure(let error):
                if entityType.attribute(named: SurvivorshipRules.attributeName(attribute))?.dataType == .nested {
                    name = SurvivorshipRules.attributeName(attribute)  // a nested attribute as a whole is fine here
                } else {
                    m.report("attribute", error.message)
                }
            }
        }
        let usesOrder = strategy == .sourceSystem || fallback == .sourceSystem
        if let order {
            if !usesOrder {
                m.report(
                    "sourcesUriOrder",
                    "only used by SRC_SYS (as strategy or fallback); remove it or change the strategy")
            }
            if order.isEmpty && usesOrder { m.report("sourcesUriOrder", "must list at least one source") }
            let declared = Set(sources.map(\.uri) + [TenantSchema.builtInSource])
            var seen = Set<String>()
            for (i, s) in order.enumerated() {
                if !declared.contains(s) {
                    m.issues.report(
                        m.path + "sourcesUriOrder" + i,
                        "'\(s)' is not a declared source" + suggestion(s, sources.map(\.uri)))
                } else if !seen.insert(s).inserted {
                    m.issues.report(m.path + "sourcesUriOrder" + i, "'\(s)' is listed twice")
                }
            }
        } else if usesOrder {
            m.report("sourcesUriOrder", "required for SRC_SYS: the source URIs, highest priority first")
        }
        guard let name, let strategy else { return nil }
        return SurvivorshipMapping(
            attribute: name, strategy: strategy, sourcesUriOrder: order ?? [], fallback: fallback)
    }
}
