/// Diacritic and case folding shared by the normaliser, the phonetic encoder and the fuzzy comparator.
///
/// ASCII is lower-cased byte by byte. Any other Latin letter is reduced to its base letter through its
/// Unicode name (`LATIN SMALL LETTER E WITH ACUTE` → `e`), which covers Latin-1, Latin Extended-A/B and
/// Latin Extended Additional (Vietnamese) without a hand-written table; the few letters whose name is not
/// "letter X with …" are listed (`ß` → `ss`, `æ` → `ae`, `œ` → `oe`, `ð` → `d`, `þ` → `th`, `ı` → `i`).
/// Combining marks are dropped (decomposed input folds like composed input). Letters of other scripts
/// are only lower-cased.
package enum TextFolding {
    /// Appends the folded form of `scalar` to `out`.
    @inline(__always)
    package static func fold(_ scalar: Unicode.Scalar, into out: inout String) {
        let v = scalar.value
        if v < 0x80 {
            out.unicodeScalars.append(v &- 65 < 26 ? Unicode.Scalar(UInt8(v) | 0x20) : scalar)
            return
        }
        foldNonASCII(scalar, into: &out)
    }

    /// The folded form of `text`: diacritics removed, lower-cased; punctuation and spaces kept.
    package static func fold(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars { fold(s, into: &out) }
        return out
    }

    private static let specialNames: [String: String] = [
        "SHARP S": "ss", "AE": "ae", "OE": "oe", "ETH": "d", "THORN": "th", "DOTLESS I": "i", "DOTLESS J": "j",
        "IJ": "ij", "KRA": "k", "LONG S": "s", "OPEN O": "o", "SCHWA": "e", "ENG": "n", "EZH": "z",
    ]

    private static func foldNonASCII(_ scalar: Unicode.Scalar, into out: inout String) {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .spacingMark:
            return
        default:
            break
        }
        if let name = properties.name, let base = latinBase(name) {
            out += base
            return
        }
        out += properties.lowercaseMapping
    }

    /// `LATIN SMALL LETTER E WITH ACUTE` → `e`; `LATIN CAPITAL LIGATURE OE` → `oe`; nil for other names.
    private static func latinBase(_ name: String) -> String? {
        let rest: Substring
        if let r = name.dropPrefix("LATIN SMALL LETTER ") ?? name.dropPrefix("LATIN CAPITAL LETTER ")
            ?? name.dropPrefix("LATIN SMALL LIGATURE ") ?? name.dropPrefix("LATIN CAPITAL LIGATURE ")
            ?? name.dropPrefix("LATIN LETTER SMALL CAPITAL ")
        {
            rest = r
        } else {
            return nil
        }
        let letter = rest.firstRange(of: " WITH ").map { rest[..<$0.lowerBound] } ?? rest
        if letter.utf8.count == 1, let c = letter.utf8.first, c >= 0x41, c <= 0x5A {
            return String(UnicodeScalar(c | 0x20))
        }
        if let special = specialNames[String(letter)] { return special }
        if letter.utf8.count == 2, letter.utf8.allSatisfy({ $0 >= 0x41 && $0 <= 0x5A }) {
            return letter.lowercased()  // digraphs such as DZ, LJ, NJ
        }
        return nil
    }
}

extension String {
    fileprivate func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? self.dropFirst(prefix.count) : nil
    }
}
