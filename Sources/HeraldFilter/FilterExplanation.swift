import HeraldJSON

/// One node of an evaluated filter: its source text, its result, and its sub-expressions.
///
/// Returned by `ObjectFilter.explain(_:)` for `POST /objectFilter/validate` and `herald filter test`.
public struct FilterExplanation: Sendable, Equatable {
    /// The sub-expression as written (or, under `inSameAttributeValue`, which value was tried).
    public var text: String
    public var result: Bool
    public var children: [FilterExplanation]

    public init(text: String, result: Bool, children: [FilterExplanation] = []) {
        self.text = text
        self.result = result
        self.children = children
    }

    /// Writes `{"expression": …, "result": …, "children": [...]}`.
    public func render(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("expression")
        writer.string(text)
        writer.key("result")
        writer.bool(result)
        writer.key("children")
        writer.beginArray()
        for child in children { child.render(into: &writer) }
        writer.endArray()
        writer.endObject()
    }

    /// An indented, one-node-per-line rendering for terminals (`herald filter test`).
    public var outline: String {
        var out = ""
        appendOutline(to: &out, indent: 0)
        return out
    }

    private func appendOutline(to out: inout String, indent: Int) {
        out += String(repeating: "  ", count: indent) + (result ? "true  " : "false ") + text + "\n"
        for child in children { child.appendOutline(to: &out, indent: indent + 1) }
    }
}
