// Placeholder: exports herald_sink_entry for the kafka sink.
