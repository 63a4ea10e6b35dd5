import HeraldMatch
import HeraldMatchRules
import HeraldModel
import Testing

struct MetaphoneTests {
    /// Codes of the original Metaphone as Philips' rules give them (the same as PHP's `metaphone()`).
    @Test(arguments: [
        ("Smith", "SM0"), ("Smyth", "SM0"), ("Smythe", "SM0"), ("Knight", "NFT"), ("Thompson", "0MPSN"),
        ("Tomson", "TMSN"), ("phone", "FN"), ("Xavier", "SFR"), ("Wikipedia", "WKPT"), ("World", "WRLT"),
        ("Wright", "RFT"), ("Catherine", "K0RN"), ("Kathryn", "K0RN"), ("Stephen", "STFN"), ("Steven", "STFN"),
        ("Philip", "FLP"), ("Phillip", "FLP"), ("John", "JN"), ("Jon", "JN"), ("William", "WLM"), ("Bill", "BL"),
        ("Aebersold", "EBRSLT"), ("Gnagy", "NJ"), ("Dumb", "TM"), ("Nguyen", "NKYN"), ("Céline", "SLN"),
        ("Müller", "MLR"), ("Mueller", "MLR"), ("", ""), ("1234", ""),
    ])
    func knownCodes(word: String, code: String) {
        #expect(Metaphone.encode(word) == code, "\(word)")
    }

    @Test func caseAndDiacriticsDoNotMatter() {
        #expect(Metaphone.encode("SMITH") == Metaphone.encode("smith"))
        #expect(Metaphone.encode("José") == Metaphone.encode("Jose"))
        #expect(Metaphone.encode("e\u{301}clair") == Metaphone.encode("éclair"))
    }

    @Test func wordsAreEncodedSeparately() {
        #expect(Metaphone.encode("Knight Smith") == "NFT" + "SM0")
    }
}

struct JaroWinklerTests {
    /// The examples of Winkler's papers and most textbooks.
    @Test(arguments: [("MARTHA", "MARHTA", 0.961), ("DWAYNE", "DUANE", 0.84), ("DIXON", "DICKSONX", 0.813)])
    func publishedExamples(a: String, b: String, expected: Double) {
        #expect(abs(JaroWinkler.similarity(a, b) - expected) < 0.0005, "\(a)/\(b): \(JaroWinkler.similarity(a, b))")
        #expect(JaroWinkler.similarity(a, b) == JaroWinkler.similarity(b, a))
    }

    @Test func boundaries() {
        #expect(JaroWinkler.similarity("same", "same") == 1)
        #expect(JaroWinkler.similarity("", "") == 1)
        #expect(JaroWinkler.similarity("abc", "") == 0)
        #expect(JaroWinkler.similarity("abc", "xyz") == 0)
        #expect(JaroWinkler.similarity("martha", "MARTHA") < 1, "case-sensitive: the comparator normalises first")
    }

    @Test func symmetricOnGeneratedStrings() {
        var rng = SplitMix(seed: 3)
        let alphabet = Array("abcdeab")
        for _ in 0..<2000 {
            let a = String((0..<Int(rng.next() % 8)).map { _ in alphabet[Int(rng.next() % 7)] })
            let b = String((0..<Int(rng.next() % 8)).map { _ in alphabet[Int(rng.next() % 7)] })
            #expect(JaroWinkler.similarity(a, b) == JaroWinkler.similarity(b, a), "\(a) / \(b)")
        }
    }
}

struct DamerauLevenshteinTests {
    @Test(arguments: [
        ("CA", "ABC", 2), ("kitten", "sitting", 3), ("ab", "ba", 1), ("", "abc", 3), ("abc", "", 3),
        ("Smith", "Simth", 1), ("abcdef", "badcfe", 3), ("same", "same", 0), ("Thompson", "Tomson", 2),
    ])
    func distances(a: String, b: String, d: Int) {
        #expect(DamerauLevenshtein.distance(a, b) == d, "\(a)/\(b)")
        #expect(DamerauLevenshtein.distance(b, a) == d)
    }
}

struct NormalizerTests {
    @Test(arguments: [
        ("  José  Müller ", AttributeDataType.string, "josemuller"),
        ("O'Brien-Smith", .string, "obriensmith"),
        ("Straße", .string, "strasse"),
        ("Ærøskøbing", .string, "aeroskobing"),
        ("Łódź", .string, "lodz"),
        ("e\u{301}te\u{301}", .string, "ete"),
        ("Nguyễn", .string, "nguyen"),
        ("JOHN.SMITH@Gmail.COM", .email, "johnsmithgmailcom"),
        ("(555) 123-4567", .string, "5551234567"),
        ("555-123-4567", .string, "5551234567"),
        ("555.123.4567", .string, "5551234567"),
        ("5551234567", .string, "5551234567"),
        ("+1 555 123 4567", .string, "15551234567"),
        ("---", .string, ""),
        ("1980-01-02", .date, "1980-01-02"),
        ("1980/01/02", .date, "1980-01-02"),
        ("19800102", .date, "1980-01-02"),
        ("1980-01-02T23:30:00-05:00", .date, "1980-01-02"),
        ("315532800000", .date, "1980-01-01"),
        ("1980-02-30", .date, "19800230"),
        ("+0012.50", .number, "12.5"),
        ("1,000", .int, "1000"),
        ("1,234,567.80", .double, "1234567.8"),
        ("1e3", .number, "1000"),
        ("-0.0", .number, "0"),
        (".5", .float, "0.5"),
        ("1,5", .number, "15"),
        ("abc", .long, "abc"),
        ("Yes", .boolean, "true"),
        ("0", .boolean, "false"),
        ("1970-01-01T00:00:01Z", .timestamp, "1000"),
        ("1970-01-02", .timestamp, "86400000"),
    ])
    func normalizes(value: String, type: AttributeDataType, expected: String) {
        #expect(Normalizer.normalize(value, dataType: type) == expected, "\(value) as \(type)")
    }

    @Test func words() {
        #expect(Normalizer.words("  Mary-Ann  O'Neil ") == ["mary", "ann", "oneil"])
        #expect(Normalizer.words("José") == ["jose"])
    }
}

/// A small deterministic generator for property tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
