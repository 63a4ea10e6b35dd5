/// A node of a parsed filter, with the character range it came from (for `explain`).
struct FilterNode: Sendable {
    indirect enum Kind: Sendable {
        case and([FilterNode])
        case or([FilterNode])
        case not(FilterNode)
        case condition(FilterCondition)
        /// `inSameAttributeValue(inner)`: `inner` must hold on one value of the attribute `attribute`.
        case sameValue(attribute: String, inner: FilterNode)
    }

    var kind: Kind
    /// Character offsets into the expression.
    var span: Range<Int>
}

/// One leaf condition: a test applied to the values of a property.
struct FilterCondition: Sendable {
    var property: FilterProperty
    /// Character offset of the property in the expression.
    var propertyPosition: Int
    var test: ValueTest
    /// True inside `inSameAttributeValue`: the path is evaluated below the value being tried.
    var scoped: Bool = false
}
