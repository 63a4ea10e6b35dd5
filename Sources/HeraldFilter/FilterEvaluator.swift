import HeraldModel

/// Evaluates a parsed filter against a subject without allocating for ASCII values.
///
/// Values are visited in place (the entity is never copied or flattened); each leaf string is read
/// through its contiguous UTF-8 storage and cut to its first 256 characters before any test.
enum FilterEvaluator {
    /// `scope` is the value of the nested attribute being tried inside `inSameAttributeValue`.
    static func holds(_ node: FilterNode, _ subject: FilterSubject, scope: AttributeValue?) -> Bool {
        switch node.kind {
        case .and(let children):
            for child in children where !holds(child, subject, scope: scope) { return false }
            return true
        case .or(let children):
            for child in children where holds(child, subject, scope: scope) { return true }
            return false
        case .not(let inner):
            return !holds(inner, subject, scope: scope)
        case .condition(let condition):
            return holds(condition, subject, scope: scope)
        case .sameValue(let attribute, let inner):
            return anyScopeValue(attribute, subject) { holds(inner, subject, scope: $0) }
        }
    }

    /// Calls `body` with each value of the top-level attribute `name` (only `ov` ones with `ovOnly`).
    @inline(__always)
    static func anyScopeValue(_ name: String, _ subject: FilterSubject, _ body: (AttributeValue) -> Bool) -> Bool {
        for entry in subject.entity.attributes where entry.name == name {
            for value in entry.values where !subject.ovOnly || value.ov {
                if body(value) { return true }
            }
        }
        return false
    }

    /// Evaluates one condition. The test's payload is unpacked once here, so the per-value closures
    /// below capture only plain pointers and never copy (or reference-count) the prepared literals.
    static func holds(_ condition: FilterCondition, _ subject: FilterSubject, scope: AttributeValue?) -> Bool {
        let property = condition.property
        let scope = condition.scoped ? scope : nil
        switch condition.test {
        case .exists:
            return hasValue(property, subject, scope: scope)
        case .missing:
            return !hasValue(property, subject, scope: scope)
        case .changes:
            return DeltaChanges.holds(property, subject)
        case .equals(let literal):
            let slash = literal.hasSlash
            return literal.bytes.withUnsafeBufferPointer { l in
                anyText(property, subject, scope: scope) { v, isLast in
                    !(isLast && slash) && foldedEquals(v, l, prefixOnly: false)
                }
            }
        case .startsWith(let literal):
            let slash = literal.hasSlash
            return literal.bytes.withUnsafeBufferPointer { l in
                anyText(property, subject, scope: scope) { v, isLast in
                    !(isLast && slash) && foldedEquals(v, l, prefixOnly: true)
                }
            }
        case .equalsCaseSensitive(let literal):
            let slash = literal.hasSlash
            return literal.bytes.withUnsafeBufferPointer { l in
                anyText(property, subject, scope: scope) { v, isLast in !(isLast && slash) && exactlyEquals(v, l) }
            }
        case .oneOf(let literals):
            return literals.withView { list in
                anyText(property, subject, scope: scope) { v, isLast in
                    for i in 0..<list.count where !(isLast && list.hasSlash(i)) {
                        if foldedEquals(v, list[i], prefixOnly: false) { return true }
                    }
                    return false
                }
            }
        case .wordsStartingWith(let words):
            // A URI's last component holds no word the whole URI lacks: one pass is enough.
            return words.withView { list in
                anyText(property, subject, scope: scope) { v, isLast in
                    !isLast && withLowercasedScalars(v) { wordsStartSomeWord($0, list) }
                }
            }
        case .fullText(let words):
            // Each word may come from a different value of the property.
            return words.withView { list in
                for i in 0..<list.count {
                    let word = list[i]
                    let found = anyText(property, subject, scope: scope) { v, isLast in
                        !isLast && withLowercasedScalars(v) { containsWholeWord($0, word) }
                    }
                    if !found { return false }
                }
                return true
            }
        case .fuzzy(let pattern):
            let slash = pattern.hasSlash
            return anyText(property, subject, scope: scope) { v, isLast in
                !(isLast && slash) && pattern.lengthAllows(v) && withLowercasedScalars(v) { pattern.matches($0) }
            }
        case .wildcard(let pattern):
            let slash = pattern.hasSlash
            return anyText(property, subject, scope: scope) { v, isLast in
                !(isLast && slash) && withLowercasedScalars(v) { pattern.matches($0) }
            }
        case .regexp(let regex, let slash):
            return anyText(property, subject, scope: scope) { v, isLast in !(isLast && slash) && regex.matches(v) }
        case .compare(let bounds):
            switch property {
            case .createdTime: return bounds.contains(Double(subject.entity.createdTime))
            case .updatedTime: return bounds.contains(Double(subject.entity.updatedTime))
            default:
                return anyText(property, subject, scope: scope) { v, isLast in
                    guard !isLast, let number = NumericValue.parse(v) else { return false }
                    return bounds.contains(number)
                }
            }
        }
    }
}
