/// A stable, machine-readable error code (`STORAGE_FULL`, `ABI_MISMATCH`, `INVALID_ENTITY`, …) of the
/// error type `Domain`: each error type declares its codes as constrained statics, so a code of one
/// domain cannot be passed for another's.
///
///     extension ErrorCode where Domain == StoreError {
///         public static let storageFull = Self("STORAGE_FULL")
///     }
public struct ErrorCode<Domain>: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// The shape of Herald's errors that a caller can act on: a code for programs and a message for
/// people (what, where, how to fix). `description` is `CODE: message`.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    var code: ErrorCode<Self> { get }
    var message: String { get }
}

extension CodedError {
    /// `StoreError.Code.storageFull`, `PluginLoadError.Code.abiMismatch`, …
    public typealias Code = ErrorCode<Self>

    public var description: String { "\(code.rawValue): \(message)" }
}
