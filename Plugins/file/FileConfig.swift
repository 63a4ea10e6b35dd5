import HeraldSinkSDK

/// Configuration of the file sink:
///
///     {"path": "/var/lib/herald/events-{destination}.ndjson", "fsync": false, "maxMessageBytes": 1048576}
///
/// `{destination}` in the path is replaced by the destination's name, so one provider can
/// serve several destinations with one file each.
public struct FileConfig: SinkConfiguration, Equatable {
    public static let pluginName = "file"

    public var path = ""
    public var fsync = false
    public var maxMessageBytes: UInt64 = 1_048_576

    public init() {}

    public static var keys: [SinkConfigKey<FileConfig>] {
        [
            .string(
                "path", \.path, required: true,
                "file to append to; {destination} is replaced by the destination name"),
            .bool("fsync", \.fsync, "fsync after every batch (a batch completes once its lines are on disk)"),
            .int("maxMessageBytes", \.maxMessageBytes, in: 1...(1 << 30), "larger messages complete TOO_LARGE"),
        ]
    }
}
