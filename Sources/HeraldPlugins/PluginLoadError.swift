/// Why a plugin could not be loaded or an instance could not be created.
public struct PluginLoadError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let manifestInvalid = Code(rawValue: "MANIFEST_INVALID")
        public static let libraryMissing = Code(rawValue: "LIBRARY_MISSING")
        public static let hashMismatch = Code(rawValue: "HASH_MISMATCH")
        public static let dlopenFailed = Code(rawValue: "DLOPEN_FAILED")
        public static let entryMissing = Code(rawValue: "ENTRY_SYMBOL_MISSING")
        public static let badMagic = Code(rawValue: "BAD_MAGIC")
        public static let abiMismatch = Code(rawValue: "ABI_MISMATCH")
        public static let descriptorInvalid = Code(rawValue: "DESCRIPTOR_INVALID")
        public static let configInvalid = Code(rawValue: "CONFIG_INVALID")
        public static let createFailed = Code(rawValue: "CREATE_FAILED")
        public static let startFailed = Code(rawValue: "START_FAILED")
        public static let unknownPlugin = Code(rawValue: "UNKNOWN_PLUGIN")
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
