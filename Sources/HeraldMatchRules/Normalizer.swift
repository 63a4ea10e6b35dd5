import HeraldModel

/// The `cleanse` step applied to every value before it is compared or turned into a match token.
///
/// - Text (`String`, `Email`, `URL`, and anything that does not parse as its declared type): diacritics
///   folded, lower-cased, everything but letters and digits dropped (`"  O'Brien-Smith "` → `obriensmith`,
///   `"(555) 123-4567"` → `5551234567`).
/// - Numbers (`Int`, `Long`, `Float`, `Double`, `Number`): canonical decimal text without a plus sign,
///   leading zeros, trailing fraction zeros or US thousands separators (`"+0012.50"` → `12.5`,
///   `"1,000"` → `1000`; `"1,5"` is not a number and is compared as the text `15`).
/// - `Date`: `yyyy-MM-dd`, also read from `yyyy/MM/dd`, `yyyy.MM.dd`, `yyyyMMdd`, an ISO date-time (its
///   date part as written) or epoch milliseconds (UTC).
/// - `Timestamp`: epoch milliseconds, also read from an ISO date-time or a `yyyy-MM-dd` date (midnight UTC).
/// - `Boolean`: `true` / `false`, also read from `yes`/`no`, `y`/`n`, `1`/`0`, `t`/`f`.
///
/// An empty result means "no value": a value made only of punctuation does not take part in matching.
public enum Normalizer {
    public static func normalize(_ value: String, dataType: AttributeDataType) -> String {
        switch dataType {
        case .int, .long, .float, .double, .number:
            return canonicalNumber(value) ?? cleanse(value)
        case .date:
            return canonicalDate(value) ?? cleanse(value)
        case .timestamp:
            return canonicalTimestamp(value) ?? cleanse(value)
        case .boolean:
            return canonicalBoolean(value) ?? cleanse(value)
        case .string, .email, .url, .blob, .nested:
            return cleanse(value)
        }
    }

    /// Folds diacritics and case, keeps only letters and digits.
    public static func cleanse(_ value: String) -> String {
        var folded = ""
        folded.reserveCapacity(value.utf8.count)
        for s in value.unicodeScalars {
            if s.value < 0x80 {
                let c = UInt8(s.value)
                if c &- 0x30 < 10 || c &- 0x61 < 26 {
                    folded.unicodeScalars.append(s)
                } else if c &- 0x41 < 26 {
                    folded.unicodeScalars.append(Unicode.Scalar(c | 0x20))
                }
            } else {
                var piece = ""
                TextFolding.fold(s, into: &piece)
                for p in piece.unicodeScalars where isLetterOrDigit(p) { folded.unicodeScalars.append(p) }
            }
        }
        return folded
    }

    /// The words of a text value for phonetic comparison: folded, lower-cased, split at anything that is
    /// not a letter or digit; apostrophes are dropped inside words (`O'Brien` is one word, `obrien`).
    public static func words(_ value: String) -> [String] {
        var words: [String] = []
        var current = ""
        for s in value.unicodeScalars {
            if s == "'" || s == "\u{2019}" { continue }
            var piece = ""
            TextFolding.fold(s, into: &piece)
            for p in piece.unicodeScalars {
                if isLetterOrDigit(p) {
                    current.unicodeScalars.append(p)
                } else if !current.isEmpty {
                    words.append(current)
                    current = ""
                }
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    @inline(__always)
    static func isLetterOrDigit(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 {
            let c = UInt8(s.value)
            return c &- 0x30 < 10 || c &- 0x61 < 26 || c &- 0x41 < 26
        }
        return s.properties.isAlphabetic || s.properties.numericType != nil
    }

    // MARK: - Numbers

    /// Canonical decimal text, or nil when `value` is not a number.
    public static func canonicalNumber(_ value: String) -> String? {
        var bytes = Array(trimmed(value).utf8)
        guard !bytes.isEmpty else { return nil }
        if bytes.contains(UInt8(ascii: ",")) {
            // Only US-style thousands separators: 1,234,567.5 (a decimal comma is not guessed at).
            let unsigned =
                bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") ? bytes.dropFirst() : bytes[...]
            let integerPart = unsigned.split(
                separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)[0]
            let groups = integerPart.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            guard let head = groups.first, (1...3).contains(head.count),
                groups.dropFirst().allSatisfy({ $0.count == 3 })
            else { return nil }
            bytes.removeAll { $0 == UInt8(ascii: ",") }
        }
        var negative = false
        var i = 0
        if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: "+") {
            negative = bytes[0] == UInt8(ascii: "-")
            i = 1
        }
        var integer: [UInt8] = []
        var fraction: [UInt8] = []
        var seenPoint = false
        var exponent: Int?
        while i < bytes.count {
            let c = bytes[i]
            if c &- 0x30 < 10 {
                if seenPoint { fraction.append(c) } else { integer.append(c) }
            } else if c == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                guard let e = Int(String(decoding: bytes[(i + 1)...], as: UTF8.self)), abs(e) < 400 else { return nil }
                exponent = e
                break
            } else {
                return nil
            }
            i += 1
        }
        guard !integer.isEmpty || !fraction.isEmpty else { return nil }
        if let exponent {
            // Shift the decimal point.
            var digits = integer + fraction
            var point = integer.count + exponent
            if point < 0 {
                digits = [UInt8](repeating: 0x30, count: -point) + digits
                point = 0
            } else if point > digits.count {
                digits += [UInt8](repeating: 0x30, count: point - digits.count)
            }
            integer = Array(digits[..<point])
            fraction = Array(digits[point...])
        }
        while integer.first == 0x30 { integer.removeFirst() }
        while fraction.last == 0x30 { fraction.removeLast() }
        if integer.isEmpty { integer = [0x30] }
        var out = String(decoding: integer, as: UTF8.self)
        if !fraction.isEmpty { out += "." + String(decoding: fraction, as: UTF8.self) }
        if negative && out != "0" { out = "-" + out }
        return out
    }

    // MARK: - Dates and timestamps

    /// `yyyy-MM-dd`, or nil when `value` is not a date this normaliser reads.
    public static func canonicalDate(_ value: String) -> String? {
        HeraldModel.canonicalDate(trimmed(value))
    }

    /// Epoch milliseconds as decimal text, or nil.
    public static func canonicalTimestamp(_ value: String) -> String? {
        let t = trimmed(value)
        if let millis = Int64(t) { return String(millis) }
        if let millis = parseISODateTime(t) { return String(millis) }
        if isISODate(t), let millis = parseISODateTime(t + "T00:00:00Z") { return String(millis) }
        return nil
    }

    // MARK: - Booleans

    public static func canonicalBoolean(_ value: String) -> String? {
        switch cleanse(value) {
        case "true", "yes", "y", "1", "t": return "true"
        case "false", "no", "n", "0", "f": return "false"
        default: return nil
        }
    }

    private static func trimmed(_ value: String) -> String {
        let scalars = value.unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
