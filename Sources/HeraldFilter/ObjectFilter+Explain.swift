import HeraldModel

extension ObjectFilter {
    /// The tree of sub-expressions with each one's result, for `POST /objectFilter/validate` and
    /// `herald filter test`.
    ///
    /// Unlike `matches`, every sub-expression is evaluated (no short-circuit), so the tree shows all
    /// results; the root's `result` always equals `matches(subject)`. Under `inSameAttributeValue`
    /// there is one child per value of the nested attribute, each holding the inner expression as
    /// evaluated on that value.
    public func explain(_ subject: FilterSubject) -> FilterExplanation {
        let characters = Array(expression)
        return explain(root, subject, scope: nil, characters)
    }

    private func explain(
        _ node: FilterNode, _ subject: FilterSubject, scope: AttributeValue?, _ characters: [Character]
    )
        -> FilterExplanation
    {
        let text = String(characters[node.span])
        switch node.kind {
        case .and(let children):
            let explained = children.map { explain($0, subject, scope: scope, characters) }
            return FilterExplanation(text: text, result: explained.allSatisfy(\.result), children: explained)
        case .or(let children):
            let explained = children.map { explain($0, subject, scope: scope, characters) }
            return FilterExplanation(text: text, result: explained.contains { $0.result }, children: explained)
        case .not(let inner):
            let explained = explain(inner, subject, scope: scope, characters)
            return FilterExplanation(text: text, result: !explained.result, children: [explained])
        case .condition(let condition):
            return FilterExplanation(text: text, result: FilterEvaluator.holds(condition, subject, scope: scope))
        case .sameValue(let attribute, let inner):
            var children: [FilterExplanation] = []
            var number = 0
            _ = FilterEvaluator.anyScopeValue(attribute, subject) { value in
                number += 1
                let tried = explain(inner, subject, scope: value, characters)
                children.append(
                    FilterExplanation(
                        text: "value \(number) of attributes.\(attribute) (id \(value.id))", result: tried.result,
                        children: [tried]))
                return false
            }
            return FilterExplanation(text: text, result: children.contains { $0.result }, children: children)
        }
    }
}
