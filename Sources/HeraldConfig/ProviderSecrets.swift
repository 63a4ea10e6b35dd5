import HeraldJSON

/// Which members of a provider's plugin configuration are secrets, so the management API never returns them
/// (write-only) and the audit list never records them.
///
/// A member is a secret when its name says so (case-insensitively it contains `secret`, `password`, `passwd`,
/// `connectionstring`, `sharedaccess`, `privatekey`, `accesskey` or `apikey`, or it ends in `token`) and its value
/// is a string. Members ending in `Env` or `File` name where a secret is, not the secret, and stay visible.
public enum ProviderSecrets {
    /// What the API shows in place of a secret; sent back unchanged, it keeps the stored value.
    public static let placeholder = "********"

    public static func isSecret(_ name: String) -> Bool {
        let n = name.lowercased()
        if n.hasSuffix("env") || n.hasSuffix("file") { return false }
        let words = ["secret", "password", "passwd", "connectionstring", "sharedaccess", "privatekey", "accesskey", "apikey"]
        return words.contains { n.contains($0) } || n.hasSuffix("token")
    }

    /// `value` with every secret string replaced by the placeholder (nested objects and arrays included).
    public static func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members):
            return .object(
                members.map { m in
                    if case .string = m.value, isSecret(m.key) {
                        return JSONMember(key: m.key, value: .string(placeholder))
                    }
                    return JSONMember(key: m.key, value: redact(m.value))
                })
        case .array(let items):
            return .array(items.map(redact))
        default:
            return value
        }
    }

    /// `new` with each placeholder that stands where `old` has a secret replaced by the old value, so a client can
    /// send back what it read. A placeholder where `old` has no secret is left as written (the plugin then sees it).
    public static func restore(_ new: JSONValue, from old: JSONValue?) -> JSONValue {
        switch new {
        case .object(let members):
            return .object(
                members.map { m in
                    let before = old?[m.key]
                    if m.value == .string(placeholder), isSecret(m.key), let before, case .string = before {
                        return JSONMember(key: m.key, value: before)
                    }
                    return JSONMember(key: m.key, value: restore(m.value, from: before))
                })
        case .array(let items):
            let previous = old?.arrayValue ?? []
            return .array(items.enumerated().map { i, v in restore(v, from: i < previous.count ? previous[i] : nil) })
        default:
            return new
        }
    }
}
