// The object filter language: see docs/filters.md.
