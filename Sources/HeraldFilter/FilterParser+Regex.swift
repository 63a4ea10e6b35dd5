/// Parse errors for `regexp(...)` patterns that cannot be used.
extension FilterParser {
    /// The error for a refused pattern. `position` is the pattern's opening quote; a POSIX-only construct
    /// is reported where it is (a `''` in the expression is one `'` in `value`).
    func regexError(_ error: RegexCompileError, value: String, at position: Int) -> FilterParseError {
        let syntax = "regexp takes RE2 syntax (docs/filters.md#regexp), e.g. \(FilterOperator.regexp.example)"
        switch error.kind {
        case .tooLong:
            return FilterParseError(
                position: position,
                expected: "a regular expression of at most \(CompiledRegex.maxPatternBytes) bytes",
                message:
                    "the regular expression at position \(position) is too long (\(error.reason); the limit is "
                    + "\(CompiledRegex.maxPatternBytes) bytes of UTF-8); shorten it, split it into several "
                    + "regexp(...) joined with 'or', or use in(...) for a list of values")
        case .repeatSize:
            return FilterParseError(
                position: position, expected: "an RE2 regular expression",
                message:
                    "invalid regular expression at position \(position): \(error.reason); a repeat count must be "
                    + "at most 1000, {n,m} needs n <= m, and nested repeats may multiply to at most 1000, e.g. "
                    + "(a{10}){100} but not (a{10}){101}; for 'any number of times' use * or +")
        case .tooLarge:
            return FilterParseError(
                position: position, expected: "a smaller regular expression",
                message:
                    "the regular expression at position \(position) is too large: compiled, it needs more than "
                    + "the \(CompiledRegex.memoryBudget >> 20) MiB allowed per pattern; use smaller repeat counts, "
                    + "above all on large classes such as \\pL or . (each repetition is a copy of the class), or "
                    + "split it into several regexp(...) joined with 'or'")
        case .posixOnly:
            let offset = error.characterOffset ?? 0
            let quotes = value.prefix(offset).filter { $0 == "'" }.count
            let at = position + 1 + offset + quotes
            return FilterParseError(
                position: at, expected: "an RE2 regular expression",
                message: "unsupported regular expression syntax at position \(at): \(error.reason); \(syntax)")
        case .invalid:
            return FilterParseError(
                position: position, expected: "an RE2 regular expression",
                message: "invalid regular expression at position \(position): \(error.reason); \(syntax)")
        case .internal:
            return FilterParseError(
                position: position, expected: "an RE2 regular expression",
                message:
                    "the regular expression at position \(position) could not be compiled: \(error.reason); "
                    + "this is not a syntax error: try again, and report it if it persists")
        }
    }
}
