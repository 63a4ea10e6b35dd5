import HeraldPubSubSinkCore
import HeraldSinkSDK

/// The one symbol of libherald-sink-pubsub.so.
@_cdecl("herald_sink_entry")
public func heraldSinkEntry() -> UnsafeRawPointer { SinkExport.descriptor(for: PubSubSink.self) }
