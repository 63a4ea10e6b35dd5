// Placeholder: exports herald_sink_entry for the pubsub sink.
