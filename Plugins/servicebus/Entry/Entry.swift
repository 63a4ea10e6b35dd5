import HeraldServiceBusSinkCore
import HeraldSinkSDK

/// The one symbol of libherald-sink-servicebus.so.
@_cdecl("herald_sink_entry")
public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: ServiceBusSink.self) }
