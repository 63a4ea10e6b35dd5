import HeraldModel

/// Why a plugin could not be loaded or an instance could not be created.
public struct PluginLoadError: CodedError {
    public var code: ErrorCode<PluginLoadError>
    public var message: String

    public init(_ code: ErrorCode<PluginLoadError>, _ message: String) {
        self.code = code
        self.message = message
    }

}

extension ErrorCode where Domain == PluginLoadError {
    public static let manifestInvalid = Self("MANIFEST_INVALID")
    public static let libraryMissing = Self("LIBRARY_MISSING")
    public static let hashMismatch = Self("HASH_MISMATCH")
    public static let dlopenFailed = Self("DLOPEN_FAILED")
    public static let entryMissing = Self("ENTRY_SYMBOL_MISSING")
    public static let badMagic = Self("BAD_MAGIC")
    public static let abiMismatch = Self("ABI_MISMATCH")
    public static let descriptorInvalid = Self("DESCRIPTOR_INVALID")
    public static let configInvalid = Self("CONFIG_INVALID")
    public static let createFailed = Self("CREATE_FAILED")
    public static let startFailed = Self("START_FAILED")
    public static let unknownPlugin = Self("UNKNOWN_PLUGIN")
    /// The sink's child process (`isolation: "process"`) could not be started, or died before its instance started.
    public static let sinkProcessFailed = Self("SINK_PROCESS_FAILED")
}
