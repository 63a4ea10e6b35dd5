import HeraldMatchRules

/// Lawrence Philips' original Metaphone (1990), for the `fuzzy` comparator and fuzzy match tokens.
///
/// The rules are the ones in Philips' article as most implementations carry them (Perl's
/// Text::Metaphone, PHP's `metaphone()`): the first letter has its exceptions (`AE-` → E, `GN-` `KN-`
/// `PN-` → N, `WR-` → R, `WH-` → W, `X-` → S, an initial vowel is kept), later vowels are dropped, doubled
/// letters count once (except C), and 16 consonant sounds remain, `0` standing for "th" and `X` for "sh".
/// `GH` is F unless a B, D or H comes three letters before it (or an H four before): `Knight` → `NFT`.
///
/// Input is folded first (diacritics removed, case ignored); every run of letters is encoded as a word
/// and the codes of the words are concatenated. Digits and punctuation produce nothing.
public enum Metaphone {
    public static func encode(_ word: String) -> String {
        var out: [UInt8] = []
        var current: [UInt8] = []
        for s in TextFolding.fold(word).unicodeScalars {
            if s.value >= 0x61 && s.value <= 0x7A {
                current.append(UInt8(s.value) - 0x20)
            } else if !current.isEmpty {
                encodeWord(current, into: &out)
                current.removeAll(keepingCapacity: true)
            }
        }
        if !current.isEmpty { encodeWord(current, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isVowel(_ c: UInt8) -> Bool {
        c == 0x41 || c == 0x45 || c == 0x49 || c == 0x4F || c == 0x55
    }

    /// E, I, Y soften a preceding C or G.
    private static func isSoftener(_ c: UInt8) -> Bool { c == 0x45 || c == 0x49 || c == 0x59 }

    /// Encodes one word of upper-case ASCII letters.
    static func encodeWord(_ w: [UInt8], into out: inout [UInt8]) {
        func at(_ i: Int) -> UInt8 { i >= 0 && i < w.count ? w[i] : 0 }
        let A = UInt8(ascii: "A"), E = UInt8(ascii: "E"), G = UInt8(ascii: "G"), H = UInt8(ascii: "H")
        let K = UInt8(ascii: "K"), N = UInt8(ascii: "N"), P = UInt8(ascii: "P"), R = UInt8(ascii: "R")
        let W = UInt8(ascii: "W"), X = UInt8(ascii: "X"), S = UInt8(ascii: "S"), C = UInt8(ascii: "C")
        let T = UInt8(ascii: "T"), I = UInt8(ascii: "I"), O = UInt8(ascii: "O"), D = UInt8(ascii: "D")
        let B = UInt8(ascii: "B"), M = UInt8(ascii: "M"), SH = X, TH = UInt8(ascii: "0")

        var i = 0
        // The first letter's exceptions.
        switch w[0] {
        case A where at(1) == E:
            out.append(E)
            i = 2
        case G where at(1) == N, K where at(1) == N, P where at(1) == N:
            out.append(N)
            i = 2
        case W where at(1) == R:
            out.append(R)
            i = 2
        case W where at(1) == H || isVowel(at(1)):
            out.append(W)
            i = 2
        case X:
            out.append(S)
            i = 1
        case let v where isVowel(v):
            out.append(v)
            i = 1
        default:
            break
        }

        while i < w.count {
            let c = w[i]
            let next = at(i + 1)
            let afterNext = at(i + 2)
            let previous = at(i - 1)
            var skip = 0
            defer { i += 1 + skip }
            if c == previous && c != C { continue }
            switch c {
            case A, E, I, O, UInt8(ascii: "U"):
                break
            case B:
                if previous != M { out.append(B) }
            case C:
                if isSoftener(next) {
                    if next == I && afterNext == A {
                        out.append(SH)  // -CIA-
                    } else if previous != S {
                        out.append(S)  // -CI-, -CE-, -CY-; silent in -SCI- -SCE- -SCY-
                    }
                } else if next == H {
                    out.append(SH)
                    skip = 1
                } else {
                    out.append(K)
                }
            case D:
                if next == G && isSoftener(afterNext) {
                    out.append(UInt8(ascii: "J"))  // -DGE- -DGI- -DGY-
                    skip = 1
                } else {
                    out.append(T)
                }
            case G:
                if next == H {
                    let three = at(i - 3)
                    if !(three == B || three == D || three == H || at(i - 4) == H) {
                        out.append(UInt8(ascii: "F"))
                        skip = 1
                    }
                } else if next == N {
                    // Silent in -GN and -GNED; otherwise K.
                    if !(afterNext == 0 || (afterNext == E && at(i + 3) == D)) { out.append(K) }
                } else if isSoftener(next) && previous != G {
                    out.append(UInt8(ascii: "J"))
                } else {
                    out.append(K)
                }
            case H:
                let afterDiphthong = previous == C || previous == G || previous == P || previous == S || previous == T
                if isVowel(next) && !afterDiphthong { out.append(H) }
            case K:
                if previous != C { out.append(K) }
            case P:
                out.append(next == H ? UInt8(ascii: "F") : P)
            case UInt8(ascii: "Q"):
                out.append(K)
            case S:
                if next == I && (afterNext == O || afterNext == A) {
                    out.append(SH)
                } else if next == H {
                    out.append(SH)
                    skip = 1
                } else {
                    out.append(S)
                }
            case T:
                if next == I && (afterNext == O || afterNext == A) {
                    out.append(SH)
                } else if next == H {
                    out.append(TH)
                    skip = 1
                } else if !(next == C && afterNext == H) {
                    out.append(T)  // silent in -TCH-
                }
            case UInt8(ascii: "V"):
                out.append(UInt8(ascii: "F"))
            case W:
                if isVowel(next) { out.append(W) }
            case X:
                out.append(K)
                out.append(S)
            case UInt8(ascii: "Y"):
                if isVowel(next) { out.append(UInt8(ascii: "Y")) }
            case UInt8(ascii: "Z"):
                out.append(S)
            default:
                out.append(c)  // F J L M N R
            }
        }
    }
}
