import CHeraldJSON

/// A pull reader over JSON bytes: reads values in order without building a tree.
///
/// For hot paths that know the document's shape (the stored entity form): it allocates only the
/// strings it returns. Use inside `withUnsafeBufferPointer`; the buffer must outlive the reader.
///
///     var r = JSONReader(buffer)
///     try r.beginObject()
///     while let key = try r.nextKey() { … read the value … }
public struct JSONReader {
    @usableFromInline var cursor: JSONCursor
    private var first = true

    public init(_ buffer: UnsafeBufferPointer<UInt8>) {
        cursor = JSONCursor(buffer)
    }

    /// The kind of the next value, without consuming it.
    public enum Kind { case object, array, string, number, bool, null }

    public mutating func peek() throws(JSONParseError) -> Kind {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end else { throw cursor.error("unexpected end of input, expected a value") }
        switch cursor.base[cursor.index] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        default: return .number
        }
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8, _ what: String) throws(JSONParseError) {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end, cursor.base[cursor.index] == byte else {
            throw cursor.error("unexpected \(cursor.describeByte(at: cursor.index)), expected \(what)")
        }
        cursor.index += 1
    }

    public mutating func beginObject() throws(JSONParseError) {
        try expect(UInt8(ascii: "{"), "'{'")
        first = true
    }

    public mutating func beginArray() throws(JSONParseError) {
        try expect(UInt8(ascii: "["), "'['")
        first = true
    }

    /// Moves to the opening quote of the current object's next key (past a comma after the first), or past the
    /// `}` at its end (false).
    private mutating func toNextKey() throws(JSONParseError) -> Bool {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end else { throw cursor.error("unexpected end of input in an object") }
        if cursor.base[cursor.index] == UInt8(ascii: "}") {
            cursor.index += 1
            first = false
            return false
        }
        if !first { try expect(UInt8(ascii: ","), "',' or '}'") }
        first = false
        cursor.skipWhitespace()
        guard cursor.index < cursor.end, cursor.base[cursor.index] == UInt8(ascii: "\"") else {
            throw cursor.error("unexpected \(cursor.describeByte(at: cursor.index)), expected a string key")
        }
        return true
    }

    /// The next key of the current object, or nil at its end (the `}` is consumed).
    public mutating func nextKey() throws(JSONParseError) -> String? {
        guard try toNextKey() else { return nil }
        let key = try cursor.parseString()
        try expect(UInt8(ascii: ":"), "':'")
        first = true
        return key
    }

    /// The next key of the current object as its bytes in the buffer, or nil at the object's end: no `String` is
    /// made. Only for keys of plain ASCII (no escape, control character or non-ASCII byte): any other key throws,
    /// although it may be valid JSON, so that a caller with a slower path can take it there.
    public mutating func nextRawKey() throws(JSONParseError) -> UnsafeBufferPointer<UInt8>? {
        guard try toNextKey() else { return nil }
        let start = cursor.index + 1
        let plain = herald_json_plain_prefix(cursor.base.baseAddress! + start, cursor.end - start)
        guard start + plain < cursor.end, cursor.base[start + plain] == UInt8(ascii: "\"") else {
            throw cursor.error("not a plain key", at: start)
        }
        cursor.index = start + plain + 1
        try expect(UInt8(ascii: ":"), "':'")
        first = true
        return UnsafeBufferPointer(rebasing: cursor.base[start..<(start + plain)])
    }

    /// Calls `body` with the bytes of the next value, a string of plain ASCII (no escape, control character or
    /// non-ASCII byte), and consumes it; returns nil, consuming nothing, for any other value.
    public mutating func readPlainString<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end, cursor.base[cursor.index] == UInt8(ascii: "\"") else { return nil }
        let start = cursor.index + 1
        let plain = herald_json_plain_prefix(cursor.base.baseAddress! + start, cursor.end - start)
        guard start + plain < cursor.end, cursor.base[start + plain] == UInt8(ascii: "\"") else { return nil }
        cursor.index = start + plain + 1
        valueDone()
        return body(UnsafeBufferPointer(rebasing: cursor.base[start..<(start + plain)]))
    }

    /// Whether the current array has another element (false at its end; the `]` is consumed).
    public mutating func nextElement() throws(JSONParseError) -> Bool {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end else { throw cursor.error("unexpected end of input in an array") }
        if cursor.base[cursor.index] == UInt8(ascii: "]") {
            cursor.index += 1
            first = false
            return false
        }
        if !first { try expect(UInt8(ascii: ","), "',' or ']'") }
        first = true
        return true
    }

    /// The current array's next element, which must be there: an error at its end (`what`, e.g. "a crosswalk's
    /// type", says what was missing).
    public mutating func expectElement(_ what: @autoclosure () -> String) throws(JSONParseError) {
        if try !nextElement() { throw cursor.error("the array ends before \(what())", at: cursor.index - 1) }
    }

    /// After reading a value inside an object or array: the next `nextKey`/`nextElement` needs a comma.
    @inline(__always)
    mutating func valueDone() { first = false }

    public mutating func readString() throws(JSONParseError) -> String {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end, cursor.base[cursor.index] == UInt8(ascii: "\"") else {
            throw cursor.error("unexpected \(cursor.describeByte(at: cursor.index)), expected a string")
        }
        let s = try cursor.parseString()
        valueDone()
        return s
    }

    /// A string or null.
    public mutating func readOptionalString() throws(JSONParseError) -> String? {
        if try peek() == .null {
            try cursor.expectLiteral("null")
            valueDone()
            return nil
        }
        return try readString()
    }

    public mutating func readInt64() throws(JSONParseError) -> Int64 {
        cursor.skipWhitespace()
        let start = cursor.index
        // Fast path (the stored form's flags and times): up to 18 plain digits, accumulated without
        // making a String. Anything else (a sign, a fraction, an exponent, a leading zero, more
        // digits) takes the general path below, with its errors.
        var i = start
        var n: Int64 = 0
        while i < cursor.end && i - start < 18 {
            let d = cursor.base[i] &- UInt8(ascii: "0")
            if d > 9 { break }
            n = n &* 10 &+ Int64(d)
            i += 1
        }
        if i > start && (i - start == 1 || cursor.base[start] != UInt8(ascii: "0")) {
            let next = i < cursor.end ? cursor.base[i] : 0
            if !(next >= UInt8(ascii: "0") && next <= UInt8(ascii: "9")) && next != UInt8(ascii: ".")
                && next != UInt8(ascii: "e") && next != UInt8(ascii: "E")
            {
                cursor.index = i
                valueDone()
                return n
            }
        }
        let text = try cursor.parseNumber()
        guard let n = Int64(text) else { throw cursor.error("expected an integer", at: start) }
        valueDone()
        return n
    }

    /// Skips one value of any kind, checked as the parser checks it (a key repeated inside it is not reported),
    /// without allocating.
    public mutating func skipValue() throws(JSONParseError) {
        try cursor.skipValue(depth: 0)
        valueDone()
    }

    /// Skips one value as `JSONParser`'s pruned parse skips a member of an object at `depth` (the depth
    /// counts for the nesting limit).
    public mutating func skipValue(depth: Int) throws(JSONParseError) {
        try cursor.skipValue(depth: depth)
        valueDone()
    }

    /// Builds one value as the parser builds a member of an object at `depth` (repeated keys inside it
    /// are errors).
    public mutating func readValue(depth: Int) throws(JSONParseError) -> JSONValue {
        let value = try cursor.parseValue(depth: depth)
        valueDone()
        return value
    }

    /// `true` or `false`.
    public mutating func readBool() throws(JSONParseError) -> Bool {
        cursor.skipWhitespace()
        guard cursor.index < cursor.end else { throw cursor.error("unexpected end of input, expected true or false") }
        let value: Bool
        switch cursor.base[cursor.index] {
        case UInt8(ascii: "t"):
            try cursor.expectLiteral("true")
            value = true
        case UInt8(ascii: "f"):
            try cursor.expectLiteral("false")
            value = false
        default:
            throw cursor.error("unexpected \(cursor.describeByte(at: cursor.index)), expected true or false")
        }
        valueDone()
        return value
    }

    /// A number's text, checked as the parser checks it (what `JSONValue.number` holds).
    public mutating func readNumberText() throws(JSONParseError) -> String {
        cursor.skipWhitespace()
        let text = try cursor.parseNumber()
        valueDone()
        return text
    }

    /// Checks that nothing but whitespace follows the document.
    public mutating func expectEnd() throws(JSONParseError) {
        cursor.skipWhitespace()
        if cursor.index < cursor.end { throw cursor.error("unexpected data after the JSON document") }
    }

    /// Marks the end of a nested object or array read with `beginObject`/`beginArray` (so that the
    /// enclosing container expects a comma next).
    public mutating func endValue() { valueDone() }
}
