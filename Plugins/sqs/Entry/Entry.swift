// Placeholder: exports herald_sink_entry for the sqs sink.
