import HeraldFileSinkCore
import HeraldSinkSDK

/// The one symbol of libherald-sink-file.so.
@_cdecl("herald_sink_entry")
public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: FileSink.self) }
