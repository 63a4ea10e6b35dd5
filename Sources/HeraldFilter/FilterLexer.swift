/// A token of the filter language, with its character range in the expression.
struct FilterToken: Equatable {
    enum Kind: Equatable {
        /// An operator, keyword or property: letters, digits, '_' and '.'.
        case word(String)
        /// A quoted value, with `''` already turned into `'`.
        case string(String)
        /// A number as written (`-12.5`).
        case number(String)
        case open
        case close
        case comma
        case end
    }

    var kind: Kind
    var start: Int
    var end: Int

    /// How the token reads in an error message.
    var quoted: String {
        switch kind {
        case .word(let w): return "'\(w)'"
        case .string(let s): return "the value '\(s.count > 30 ? String(s.prefix(30)) + "…" : s)'"
        case .number(let n): return "the number \(n)"
        case .open: return "'('"
        case .close: return "')'"
        case .comma: return "','"
        case .end: return "the end of the expression"
        }
    }
}

/// Splits an expression into tokens; positions count `Character`s.
struct FilterLexer {
    let chars: [Character]

    init(_ expression: String) {
        chars = Array(expression)
    }

    func tokenize() throws(FilterParseError) -> [FilterToken] {
        var tokens: [FilterToken] = []
        var i = 0
        let n = chars.count
        while true {
            while i < n && chars[i].isWhitespace { i += 1 }
            guard i < n else {
                tokens.append(FilterToken(kind: .end, start: n, end: n))
                return tokens
            }
            let c = chars[i]
            let start = i
            switch c {
            case "(":
                i += 1
                tokens.append(FilterToken(kind: .open, start: start, end: i))
            case ")":
                i += 1
                tokens.append(FilterToken(kind: .close, start: start, end: i))
            case ",":
                i += 1
                tokens.append(FilterToken(kind: .comma, start: start, end: i))
            case "'":
                var value = ""
                i += 1
                while true {
                    guard i < n else {
                        throw FilterParseError(
                            position: start, expected: "a closing quote (')",
                            message:
                                "unterminated value: the quote at position \(start) is never closed; end the value "
                                + "with ' (write '' for a quote inside a value)")
                    }
                    if chars[i] == "'" {
                        if i + 1 < n && chars[i + 1] == "'" {
                            value.append("'")
                            i += 2
                            continue
                        }
                        i += 1
                        break
                    }
                    value.append(chars[i])
                    i += 1
                }
                if i < n && (chars[i].isLetter || chars[i].isNumber) {
                    // Almost always a quote inside the value that should have been doubled: 'O'Brien'.
                    throw FilterParseError(
                        position: i - 1, expected: "a doubled quote ('') inside a value, or ',' or ')' after it",
                        message:
                            "the value '\(value)' is closed by the quote at position \(i - 1) and directly followed "
                            + "by '\(chars[i])'; to put a quote inside a value write it twice, e.g. 'O''Brien'")
                }
                tokens.append(FilterToken(kind: .string(value), start: start, end: i))
            default:
                if isNumberStart(at: i) {
                    i = scanNumber(from: i)
                    tokens.append(FilterToken(kind: .number(String(chars[start..<i])), start: start, end: i))
                } else if c.isLetter || c == "_" {
                    while i < n && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == ".") {
                        i += 1
                    }
                    tokens.append(FilterToken(kind: .word(String(chars[start..<i])), start: start, end: i))
                } else {
                    throw unexpectedCharacter(c, at: start)
                }
            }
        }
    }

    private func isDigit(_ i: Int) -> Bool {
        i < chars.count && chars[i].isASCII && chars[i].isNumber
    }

    private func isNumberStart(at i: Int) -> Bool {
        var j = i
        if chars[j] == "-" || chars[j] == "+" { j += 1 }
        if isDigit(j) { return true }
        return j < chars.count && chars[j] == "." && isDigit(j + 1)
    }

    private func scanNumber(from start: Int) -> Int {
        var i = start
        if chars[i] == "-" || chars[i] == "+" { i += 1 }
        while isDigit(i) { i += 1 }
        if i < chars.count && chars[i] == "." && isDigit(i + 1) {
            i += 1
            while isDigit(i) { i += 1 }
        }
        if i < chars.count && (chars[i] == "e" || chars[i] == "E") {
            var j = i + 1
            if j < chars.count && (chars[j] == "-" || chars[j] == "+") { j += 1 }
            if isDigit(j) {
                i = j
                while isDigit(i) { i += 1 }
            }
        }
        return i
    }

    private func unexpectedCharacter(_ c: Character, at position: Int) -> FilterParseError {
        let hint: String
        switch c {
        case "\"": hint = "values are written in single quotes: 'John'"
        case "&": hint = "join conditions with 'and'"
        case "|": hint = "join alternatives with 'or'"
        case "!": hint = "negate a condition with not(...)"
        case "=": hint = "compare with equals(property, 'value')"
        case "<", ">": hint = "compare with gt, gte, lt or lte, e.g. gt(attributes.Age, 18)"
        default: hint = "check for a stray character or a value missing its quotes"
        }
        return FilterParseError(
            position: position, expected: "a condition, a value, '(', ')' or ','",
            message: "unexpected character '\(c)' at position \(position); \(hint)")
    }
}
