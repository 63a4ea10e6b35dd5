// The match stage: see docs/matching.md.
