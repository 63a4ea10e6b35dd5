import CHeraldJSON

/// A byte-level JSON parser (RFC 8259) that reports errors with byte offsets.
///
/// It works on the raw UTF-8 bytes of a request body without copying them and
/// is several times faster than Foundation's `JSONSerialization` on the entity
/// documents Herald ingests. A key that appears twice in one object is an error
/// (`JSONParseError.Code.duplicateKey`, at the second key's offset): JSON parsers
/// disagree on which of the two values wins, so Herald picks neither.
public struct JSONParser {
    /// Maximum nesting of arrays and objects; deeper input is rejected rather than risking the stack.
    public static let maxDepth = 256

    /// Parses one JSON document; only white space may follow it.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in
            try parse(buffer)
        }
    }

    /// Parses one JSON document from a UTF-8 string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses one JSON document from borrowed bytes; only white space may follow it.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var cursor = JSONCursor(buffer)
        let value = try cursor.parseValue(depth: 0)
        cursor.skipWhitespace()
        if cursor.index < cursor.end {
            throw cursor.error("unexpected data after the JSON document")
        }
        return value
    }

    /// Parses one document starting at `offset` and returns it with the offset just after it.
    ///
    /// Used to read newline-delimited JSON without splitting lines first.
    public static func parsePrefix(
        _ buffer: UnsafeBufferPointer<UInt8>, from offset: Int
    ) throws(JSONParseError) -> (JSONValue, Int) {
        var cursor = JSONCursor(buffer)
        cursor.index = offset
        let value = try cursor.parseValue(depth: 0)
        return (value, cursor.index)
    }
}

/// The parser's state over a borrowed buffer. Internal so that specialised
/// decoders in this module can share the lexer.
@usableFromInline
struct JSONCursor {
    @usableFromInline let base: UnsafeBufferPointer<UInt8>
    @usableFromInline var index: Int
    @usableFromInline let end: Int

    @inlinable
    init(_ base: UnsafeBufferPointer<UInt8>) {
        self.base = base
        self.index = 0
        self.end = base.count
    }

    func error(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        let at = min(offset ?? index, end)
        var line = 1
        var lineStart = 0
        var i = 0
        while i < at {
            if base[i] == UInt8(ascii: "\n") {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        return JSONParseError(offset: at, line: line, column: at - lineStart + 1, reason: reason)
    }

    @inlinable
    mutating func skipWhitespace() {
        while index < end {
            let c = base[index]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                index += 1
            } else {
                return
            }
        }
    }

    func describeByte(at offset: Int) -> String {
        guard offset < end else { return "end of input" }
        let c = base[offset]
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16))"
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard index < end else { throw error("unexpected end of input, expected a value") }
        switch base[index] {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        default:
            throw error("unexpected \(describeByte(at: index)), expected a value")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = index
        let count = literal.utf8CodeUnitCount
        let bytes = literal.utf8Start
        var i = 0
        while i < count {
            if index + i >= end || base[index + i] != bytes[i] {
                throw error("invalid literal, expected '\(literal)'", at: start)
            }
            i += 1
        }
        index += count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth) levels") }
        index += 1  // {
        var members: [JSONMember] = []
        /// One bit per key length seen (mod 64): a key can repeat an earlier one only if its bit is set, so
        /// objects with keys of distinct lengths (the common case) cost a few instructions per key.
        var lengths: UInt64 = 0
        /// Keys seen, once an object has more members than a linear scan handles well.
        var seen: Set<String>?
        skipWhitespace()
        if index < end && base[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < end, base[index] == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeByte(at: index)), expected a string key")
            }
            let keyOffset = index
            let key = try parseString()
            if members.count < 32 {
                let bit = UInt64(1) << (key.utf8.count & 63)
                if lengths & bit != 0 { try checkDuplicate(key, in: members, at: keyOffset) }
                lengths |= bit
            } else {
                try checkDuplicate(key, in: members, at: keyOffset, seen: &seen)
            }
            skipWhitespace()
            guard index < end, base[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeByte(at: index)), expected ':' after an object key")
            }
            index += 1
            let value = try parseValue(depth: depth)
            // Most objects have a few members: one allocation for up to 4 instead of three as they come.
            if members.isEmpty { members.reserveCapacity(4) }
            members.append(JSONMember(key: key, value: value, offset: keyOffset))
            skipWhitespace()
            guard index < end else { throw error("unexpected end of input, expected ',' or '}'") }
            let c = base[index]
            index += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { return .object(members) }
            throw error("unexpected \(describeByte(at: index - 1)), expected ',' or '}' after an object member", at: index - 1)
        }
    }

    /// `key` against the keys of a small object (one of them has its length).
    @inline(never)
    func checkDuplicate(_ key: String, in members: [JSONMember], at offset: Int) throws(JSONParseError) {
        let count = key.utf8.count
        for m in members where m.key.utf8.count == count && m.key == key {
            throw duplicate(key, at: offset, first: m.offset)
        }
    }

    /// `key` against the keys of a large object, through a set (a linear scan would make an object of n keys
    /// cost n² comparisons).
    @inline(never)
    func checkDuplicate(_ key: String, in members: [JSONMember], at offset: Int, seen: inout Set<String>?)
        throws(JSONParseError)
    {
        if seen == nil { seen = Set(members.map(\.key)) }
        if !seen!.insert(key).inserted {
            throw duplicate(key, at: offset, first: members.first { $0.key == key }?.offset ?? 0)
        }
    }

    func duplicate(_ key: String, at offset: Int, first: Int) -> JSONParseError {
        var e = error("duplicate key '\(Echo.cut(key))' (first at byte \(first)); a key may appear once per object", at: offset)
        e.code = .duplicateKey
        return e
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth) levels") }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < end && base[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < end else { throw error("unexpected end of input, expected ',' or ']'") }
            let c = base[index]
            index += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { return .array(elements) }
            throw error("unexpected \(describeByte(at: index - 1)), expected ',' or ']' after an array element", at: index - 1)
        }
    }

    /// Skips one value, checking it as `parseValue` would (structure, depth, strings' escapes and UTF-8, numbers),
    /// but without building it: nothing is allocated. Unlike `parseValue`, a key repeated inside a skipped object
    /// is not reported.
    mutating func skipValue(depth: Int) throws(JSONParseError) {
        skipWhitespace()
        guard index < end else { throw error("unexpected end of input, expected a value") }
        switch base[index] {
        case UInt8(ascii: "{"):
            if depth + 1 > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth) levels") }
            index += 1
            skipWhitespace()
            if index < end && base[index] == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard index < end, base[index] == UInt8(ascii: "\"") else {
                    throw error("unexpected \(describeByte(at: index)), expected a string key")
                }
                try skipString()
                skipWhitespace()
                guard index < end, base[index] == UInt8(ascii: ":") else {
                    throw error("unexpected \(describeByte(at: index)), expected ':' after an object key")
                }
                index += 1
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < end else { throw error("unexpected end of input, expected ',' or '}'") }
                let c = base[index]
                index += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") { return }
                throw error("unexpected \(describeByte(at: index - 1)), expected ',' or '}' after an object member", at: index - 1)
            }
        case UInt8(ascii: "["):
            if depth + 1 > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth) levels") }
            index += 1
            skipWhitespace()
            if index < end && base[index] == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < end else { throw error("unexpected end of input, expected ',' or ']'") }
                let c = base[index]
                index += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "]") { return }
                throw error("unexpected \(describeByte(at: index - 1)), expected ',' or ']' after an array element", at: index - 1)
            }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"):
            try expectLiteral("true")
        case UInt8(ascii: "f"):
            try expectLiteral("false")
        case UInt8(ascii: "n"):
            try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
        default:
            throw error("unexpected \(describeByte(at: index)), expected a value")
        }
    }

    /// Skips a string starting at its opening quote, with `parseString`'s checks. Runs of plain ASCII are found
    /// sixteen bytes at a time (`herald_json_plain_prefix`).
    mutating func skipString() throws(JSONParseError) {
        let open = index
        index += 1
        var start = index
        // Whether a non-ASCII byte came since `start`: only then is UTF-8 checked.
        var nonASCII = false
        while true {
            // Runs of plain bytes (no quote, backslash, control character or non-ASCII) in one call.
            index += herald_json_plain_prefix(base.baseAddress! + index, end - index)
            guard index < end else { throw error("unterminated string", at: open) }
            let c = base[index]
            if c == UInt8(ascii: "\"") {
                if nonASCII { try checkUTF8(from: start, to: index) }
                index += 1
                return
            }
            if c < 0x20 { throw error("control character in string (escape it as \\u00\(hex2(c)))") }
            if c == UInt8(ascii: "\\") {
                if nonASCII { try checkUTF8(from: start, to: index) }
                nonASCII = false
                index += 1
                guard index < end else { throw error("unterminated string", at: open) }
                let e = base[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    let scalar = try parseHex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard index + 1 < end, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired UTF-16 surrogate in \\u escape", at: index - 6)
                        }
                        index += 2
                        let low = try parseHex4()
                        guard low >= 0xDC00 && low < 0xE000 else {
                            throw error("invalid low surrogate in \\u escape", at: index - 6)
                        }
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw error("unpaired UTF-16 surrogate in \\u escape", at: index - 6)
                    }
                default:
                    throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in string", at: index - 2)
                }
                start = index
                continue
            }
            nonASCII = true
            index += 1
        }
    }

    /// The bytes of a string between `start` and `stop` are valid UTF-8.
    func checkUTF8(from start: Int, to stop: Int) throws(JSONParseError) {
        if String(validating: UnsafeBufferPointer(rebasing: base[start..<stop]), as: UTF8.self) == nil {
            throw error("invalid UTF-8 in string", at: firstInvalidUTF8(from: start, to: stop))
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> String {
        let start = index
        try scanNumber()
        return String(decoding: UnsafeBufferPointer(rebasing: base[start..<index]), as: UTF8.self)
    }

    /// Moves past a number, checking its form.
    mutating func scanNumber() throws(JSONParseError) {
        // JSONReader.readInt64 comes here without looking first: input that ends where a number should be
        // (a truncated stored entity) read one byte past the buffer.
        guard index < end else { throw error("unexpected end of input, expected a number") }
        if base[index] == UInt8(ascii: "-") { index += 1 }
        guard index < end, isDigit(base[index]) else { throw error("invalid number: expected a digit", at: index) }
        if base[index] == UInt8(ascii: "0") {
            index += 1
            if index < end && isDigit(base[index]) {
                throw error("invalid number: leading zeros are not allowed", at: index)
            }
        } else {
            while index < end && isDigit(base[index]) { index += 1 }
        }
        if index < end && base[index] == UInt8(ascii: ".") {
            index += 1
            guard index < end, isDigit(base[index]) else {
                throw error("invalid number: expected a digit after '.'", at: index)
            }
            while index < end && isDigit(base[index]) { index += 1 }
        }
        if index < end && (base[index] == UInt8(ascii: "e") || base[index] == UInt8(ascii: "E")) {
            index += 1
            if index < end && (base[index] == UInt8(ascii: "+") || base[index] == UInt8(ascii: "-")) { index += 1 }
            guard index < end, isDigit(base[index]) else {
                throw error("invalid number: expected a digit in the exponent", at: index)
            }
            while index < end && isDigit(base[index]) { index += 1 }
        }
    }

    @inline(__always)
    func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// Parses a string starting at the opening quote.
    mutating func parseString() throws(JSONParseError) -> String {
        let open = index
        index += 1
        let start = index
        // Fast path: ASCII without escapes needs no validation or copying beyond the String itself.
        var allASCII = true
        while index < end {
            index = JSONPlainRun.end(base.baseAddress!, from: index, to: end)
            guard index < end else { break }
            let c = base[index]
            if c == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: base[start..<index])
                index += 1
                if allASCII { return String(decoding: slice, as: UTF8.self) }
                guard let s = String(validating: slice, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: firstInvalidUTF8(from: start, to: index - 1))
                }
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw error("control character in string (escape it as \\u00\(hex2(c)))") }
            if c >= 0x80 { allASCII = false }
            index += 1
        }
        if index >= end { throw error("unterminated string", at: open) }
        // Slow path: escapes.
        var bytes = [UInt8](UnsafeBufferPointer(rebasing: base[start..<index]))
        bytes.reserveCapacity(bytes.count + 16)
        while index < end {
            let c = base[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                guard let s = String(validating: bytes, as: UTF8.self) else {
                    throw error("invalid UTF-8 in string", at: open)
                }
                return s
            }
            if c < 0x20 { throw error("control character in string (escape it as \\u00\(hex2(c)))") }
            if c != UInt8(ascii: "\\") {
                bytes.append(c)
                index += 1
                continue
            }
            index += 1
            guard index < end else { break }
            let e = base[index]
            index += 1
            switch e {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard index + 1 < end, base[index] == UInt8(ascii: "\\"), base[index + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired UTF-16 surrogate in \\u escape", at: index - 6)
                    }
                    index += 2
                    let low = try parseHex4()
                    guard low >= 0xDC00 && low < 0xE000 else {
                        throw error("invalid low surrogate in \\u escape", at: index - 6)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("unpaired UTF-16 surrogate in \\u escape", at: index - 6)
                }
                appendUTF8(scalar, to: &bytes)
            default:
                throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in string", at: index - 2)
            }
        }
        throw error("unterminated string", at: open)
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= end else { throw error("incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = base[index]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            index += 1
        }
        return v
    }

    func hex2(_ c: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(c >> 4)], digits[Int(c & 0xF)]])
    }

    func firstInvalidUTF8(from start: Int, to stop: Int) -> Int {
        var i = start
        while i < stop {
            let c = base[i]
            let length: Int
            if c < 0x80 { length = 1 } else if c & 0xE0 == 0xC0 { length = 2 } else if c & 0xF0 == 0xE0 {
                length = 3
            } else if c & 0xF8 == 0xF0 { length = 4 } else { return i }
            if i + length > stop { return i }
            if String(validating: UnsafeBufferPointer(rebasing: base[i..<(i + length)]), as: UTF8.self) == nil {
                return i
            }
            i += length
        }
        return start
    }
}

@inline(__always)
func appendUTF8(_ scalar: UInt32, to bytes: inout [UInt8]) {
    if scalar < 0x80 {
        bytes.append(UInt8(scalar))
    } else if scalar < 0x800 {
        bytes.append(UInt8(0xC0 | (scalar >> 6)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    } else if scalar < 0x10000 {
        bytes.append(UInt8(0xE0 | (scalar >> 12)))
        bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    } else {
        bytes.append(UInt8(0xF0 | (scalar >> 18)))
        bytes.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
        bytes.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (scalar & 0x3F)))
    }
}
