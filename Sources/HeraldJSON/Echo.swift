/// Input quoted back in an error message is cut, so an answer never grows with what a client sent.
public enum Echo {
    /// Bytes of input an error message repeats, at most.
    public static let limit = 200

    /// `text` if it is at most `limit` UTF-8 bytes; otherwise its first bytes (at a character boundary)
    /// followed by `…(N bytes)`, N being the whole length.
    public static func cut<S: StringProtocol>(_ text: S, limit: Int = Echo.limit) -> String {
        let count = text.utf8.count
        if count <= limit { return String(text) }
        var end = text.startIndex
        var bytes = 0
        for index in text.indices {
            let size = text[index].utf8.count
            if bytes + size > limit { break }
            bytes += size
            end = text.index(after: index)
        }
        return String(text[..<end]) + "…(\(count) bytes)"
    }
}
