/// Case folding and the 256-character rule, shared by the text tests.
///
/// Values are compared as UTF-8. ASCII values are folded byte by byte while comparing (no copy);
/// values with any non-ASCII byte are lowercased with `String.lowercased()` into a temporary copy.

/// Only the first 256 characters (Unicode scalars) of a value count.
let maxValueCharacters = 256

/// The prefix of `value` holding its first 256 Unicode scalars.
@inline(__always)
func truncatedToLimit(_ value: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
    if value.count <= maxValueCharacters { return value }
    var scalars = 0
    for i in 0..<value.count where value[i] & 0xC0 != 0x80 {
        if scalars == maxValueCharacters { return UnsafeBufferPointer(rebasing: value[0..<i]) }
        scalars += 1
    }
    return value
}

@inline(__always)
func isASCII(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
    for c in value where c >= 0x80 { return false }
    return true
}

@inline(__always)
func asciiLower(_ c: UInt8) -> UInt8 {
    c &- 65 < 26 ? c | 0x20 : c
}

/// Calls `body` with the lowercased value as Unicode scalar values.
@inline(__always)
func withLowercasedScalars<R>(
    _ value: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt32>) -> R
) -> R {
    if isASCII(value) {
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: max(value.count, 1)) { buffer in
            for i in 0..<value.count { buffer[i] = UInt32(asciiLower(value[i])) }
            return body(UnsafeBufferPointer(rebasing: buffer[0..<value.count]))
        }
    }
    let scalars = String(decoding: value, as: UTF8.self).lowercased().unicodeScalars.map(\.value)
    return scalars.withUnsafeBufferPointer(body)
}

/// Whether the value, lowercased, equals (or with `prefixOnly`, starts with) the lowercased literal.
///
/// One pass over the value's leading ASCII bytes, folding as it goes; only when the comparison reaches
/// a non-ASCII byte is the value lowercased into a copy. `String.lowercased()` maps each scalar on its
/// own and an ASCII scalar to its ASCII lowercase, so a mismatch within the leading ASCII bytes is final.
@inline(__always)
func foldedEquals(_ value: UnsafeBufferPointer<UInt8>, _ literal: UnsafeBufferPointer<UInt8>, prefixOnly: Bool) -> Bool
{
    var i = 0
    let n = min(value.count, literal.count)
    while i < n {
        let c = value[i]
        if c >= 0x80 { return foldedEqualsSlow(value, literal, prefixOnly: prefixOnly) }
        if asciiLower(c) != literal[i] { return false }
        i += 1
    }
    if i == literal.count {
        // The literal is used up: a prefix matches; for equality the value must be used up too (no scalar
        // lowercases to nothing, so remaining characters cannot vanish).
        return prefixOnly || i == value.count
    }
    return false  // the value ended first
}

private func foldedEqualsSlow(
    _ value: UnsafeBufferPointer<UInt8>, _ literal: UnsafeBufferPointer<UInt8>, prefixOnly: Bool
)
    -> Bool
{
    var lowered = String(decoding: value, as: UTF8.self).lowercased()
    return lowered.withUTF8 { v in
        guard prefixOnly ? v.count >= literal.count : v.count == literal.count else { return false }
        for i in 0..<literal.count where v[i] != literal[i] { return false }
        return true
    }
}

/// Byte-for-byte equality (for `equalsCaseSensitive`).
@inline(__always)
func exactlyEquals(_ value: UnsafeBufferPointer<UInt8>, _ literal: UnsafeBufferPointer<UInt8>) -> Bool {
    guard value.count == literal.count else { return false }
    for i in 0..<literal.count where value[i] != literal[i] { return false }
    return true
}

/// Runs `body` on the UTF-8 of `string` without copying it when it is stored contiguously (always,
/// for strings Herald builds).
@inline(__always)
func withUTF8Bytes<R>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let r = string.utf8.withContiguousStorageIfAvailable(body) { return r }
    var copy = string
    return copy.withUTF8(body)
}

/// The part of a URI after its last '/', or the whole URI.
@inline(__always)
func lastComponent(_ uri: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8>? {
    var i = uri.count
    while i > 0 {
        i -= 1
        if uri[i] == UInt8(ascii: "/") { return UnsafeBufferPointer(rebasing: uri[(i + 1)...]) }
    }
    return nil
}
