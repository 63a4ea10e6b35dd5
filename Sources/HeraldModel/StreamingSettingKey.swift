/// One streaming setting of one tenant that the management API can change: a destination (by id) or a provider
/// (by alias). The key of the store's settings rows and of the configuration overlay, so a bare id cannot reach
/// another tenant's settings.
public struct StreamingSettingKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        case destination
        case provider
    }

    public let tenant: String
    public let kind: Kind
    /// The destination id or the provider alias, within the tenant.
    public let id: String

    public init(tenant: String, kind: Kind, id: String) {
        self.tenant = tenant
        self.kind = kind
        self.id = id
    }

    public static func destination(_ key: DestinationKey) -> StreamingSettingKey {
        StreamingSettingKey(tenant: key.tenant, kind: .destination, id: key.destination)
    }

    public var description: String { "\(tenant) \(kind.rawValue) \(id)" }

    public static func < (a: StreamingSettingKey, b: StreamingSettingKey) -> Bool {
        (a.tenant, a.kind.rawValue, a.id) < (b.tenant, b.kind.rawValue, b.id)
    }
}
