import HeraldKafkaSinkCore
import HeraldSinkSDK

@_cdecl("herald_sink_entry")
public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: KafkaSink.self) }
