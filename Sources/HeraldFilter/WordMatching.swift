/// Word splitting for `containsWordStartingWith` and `fullText`.
///
/// Words are separated by white space and by the characters ' , @ # $ ; : & % < > ( ) [ ] * | / \ ! ?
/// (the separators of the platform our users come from). Everything else, '.', '-' and '_' included,
/// belongs to a word.

@inline(__always)
func isWordSeparator(_ u: UInt32) -> Bool {
    switch u {
    case 0x09...0x0D, 0x20: return true  // \t \n \v \f \r and space
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2C, 0x2F: return true  // ! # $ % & ' ( ) * , /
    case 0x3A, 0x3B, 0x3C, 0x3E, 0x3F, 0x40: return true  // : ; < > ? @
    case 0x5B, 0x5C, 0x5D, 0x7C: return true  // [ \ ] |
    case 0..<0x80: return false
    default: return Unicode.Scalar(u)?.properties.isWhitespace ?? false
    }
}

/// Calls `body` with each word of `text` (already lowercased) until it returns true.
@inline(__always)
func anyWord(in text: UnsafeBufferPointer<UInt32>, _ body: (UnsafeBufferPointer<UInt32>) -> Bool) -> Bool {
    var i = 0
    let n = text.count
    while i < n {
        while i < n && isWordSeparator(text[i]) { i += 1 }
        let start = i
        while i < n && !isWordSeparator(text[i]) { i += 1 }
        if i > start && body(UnsafeBufferPointer(rebasing: text[start..<i])) { return true }
    }
    return false
}

/// The words of a literal, lowercased, for `containsWordStartingWith` and `fullText`.
func literalWords(_ text: String) -> PackedLiterals<UInt32> {
    let scalars = text.lowercased().unicodeScalars.map(\.value)
    var words = PackedLiterals<UInt32>()
    scalars.withUnsafeBufferPointer { buffer in
        _ = anyWord(in: buffer) { word in
            words.append(word, hasSlash: false)
            return false
        }
    }
    return words
}

@inline(__always)
func startsWith(_ word: UnsafeBufferPointer<UInt32>, _ prefix: UnsafeBufferPointer<UInt32>) -> Bool {
    guard word.count >= prefix.count else { return false }
    for i in 0..<prefix.count where word[i] != prefix[i] { return false }
    return true
}

/// `containsWordStartingWith`: every literal word starts some word of the value.
@inline(__always)
func wordsStartSomeWord(_ value: UnsafeBufferPointer<UInt32>, _ prefixes: PackedLiterals<UInt32>.View) -> Bool {
    for i in 0..<prefixes.count {
        let prefix = prefixes[i]
        if !anyWord(in: value, { startsWith($0, prefix) }) { return false }
    }
    return true
}

/// Whether `word` is one of the words of the value (for `fullText`).
@inline(__always)
func containsWholeWord(_ value: UnsafeBufferPointer<UInt32>, _ word: UnsafeBufferPointer<UInt32>) -> Bool {
    anyWord(in: value) { $0.count == word.count && startsWith($0, word) }
}
