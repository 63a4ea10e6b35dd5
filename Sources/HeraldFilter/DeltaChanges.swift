import HeraldModel

/// `changes(...)`: whether the subject's delta touches an attribute or sub-attribute.
enum DeltaChanges {
    static func holds(_ property: FilterProperty, _ subject: FilterSubject) -> Bool {
        guard let delta = subject.delta else { return false }
        for item in delta.items {
            switch item.kind {
            case .attributeAdded, .attributeChanged, .attributeRemoved: break
            case .crosswalkAdded, .crosswalkRemoved: continue
            }
            if subject.ovOnly && !(item.oldValue?.ov ?? false) && !(item.newValue?.ov ?? false) { continue }
            guard case .attribute(let path) = property else { return true }  // `attributes`: any attribute item
            guard item.attributeName == path[0] else { continue }
            let sub = path.dropFirst()
            if sub.isEmpty { return true }
            switch item.kind {
            case .attributeChanged:
                if differs(item.oldValue?.content, item.newValue?.content, at: sub) { return true }
            case .attributeAdded:
                if has(item.newValue?.content, sub) { return true }
            default:
                if has(item.oldValue?.content, sub) { return true }
            }
        }
        return false
    }

    /// The values of sub-attribute `name` of a nested content (empty when absent).
    private static func subValues(_ content: AttributeContent?, _ name: String) -> [AttributeValue] {
        guard case .nested(let subs)? = content else { return [] }
        for sub in subs where sub.name == name { return sub.values }
        return []
    }

    /// Whether `content` has at least one value at `path`.
    static func has(_ content: AttributeContent?, _ path: ArraySlice<String>) -> Bool {
        let values = subValues(content, path.first!)
        let rest = path.dropFirst()
        if rest.isEmpty { return !values.isEmpty }
        return values.contains { has($0.content, rest) }
    }

    /// Whether the values at `path` differ between `old` and `new` (compared in order, by content).
    static func differs(_ old: AttributeContent?, _ new: AttributeContent?, at path: ArraySlice<String>) -> Bool {
        let oldValues = subValues(old, path.first!)
        let newValues = subValues(new, path.first!)
        let rest = path.dropFirst()
        if rest.isEmpty {
            guard oldValues.count == newValues.count else { return true }
            for (a, b) in zip(oldValues, newValues) where !a.content.sameContent(as: b.content) { return true }
            return false
        }
        for (a, b) in zip(oldValues, newValues) where differs(a.content, b.content, at: rest) { return true }
        let extra = oldValues.count > newValues.count ? oldValues[newValues.count...] : newValues[oldValues.count...]
        return extra.contains { has($0.content, rest) }
    }
}
