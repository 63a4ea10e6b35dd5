/// A location inside a JSON document, rendered like `tenants[0].entityTypes[2].uri`.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public var components: [Component]

    public init(_ components: [Component] = []) {
        self.components = components
    }

    public static let root = JSONPath()

    public func appending(_ key: String) -> JSONPath {
        var p = self
        p.components.append(.key(key))
        return p
    }

    public func appending(_ index: Int) -> JSONPath {
        var p = self
        p.components.append(.index(index))
        return p
    }

    public static func + (lhs: JSONPath, rhs: String) -> JSONPath { lhs.appending(rhs) }
    public static func + (lhs: JSONPath, rhs: Int) -> JSONPath { lhs.appending(rhs) }

    /// The path as text; a key longer than `Echo.limit` bytes is cut (the path echoes input).
    public var description: String {
        if components.isEmpty { return "$" }
        var out = ""
        for c in components {
            switch c {
            case .key(let key):
                let k = Echo.cut(key)
                if isPlainIdentifier(k) {
                    if !out.isEmpty { out += "." }
                    out += k
                } else {
                    out += "[\"\(k)\"]"
                }
            case .index(let i):
                out += "[\(i)]"
            }
        }
        return out
    }

    private func isPlainIdentifier(_ key: String) -> Bool {
        guard let first = key.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return key.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        }
    }
}
