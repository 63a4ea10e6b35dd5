/// Numbers and ISO dates as the comparison operators see them, parsed from UTF-8 without allocating.
///
/// A value that parses as a decimal number is that number; a `yyyy-MM-dd` date is midnight UTC of that
/// day in epoch milliseconds; a date-time in the form HeraldModel's `parseISODateTime` accepts
/// (`yyyy-MM-ddTHH:mm:ss[.SSS](Z|±HH:mm)`) is its epoch milliseconds. Anything else is not a number.
enum NumericValue {
    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        if let n = decimal(b) { return n }
        if let ms = isoMillis(b) { return Double(ms) }
        return nil
    }

    static func parse(_ s: String) -> Double? {
        withUTF8Bytes(s) { parse($0) }
    }

    /// `[+-]digits[.digits][(e|E)[+-]digits]` (digits may be omitted on one side of the point).
    static func decimal(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        let n = b.count
        var i = 0
        var negative = false
        if i < n && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
            negative = b[i] == UInt8(ascii: "-")
            i += 1
        }
        var mantissa: UInt64 = 0
        var significant = 0
        var digits = 0
        var exponent = 0
        while i < n, b[i] &- 0x30 < 10 {
            if significant < 19 {
                mantissa = mantissa * 10 + UInt64(b[i] &- 0x30)
                if mantissa > 0 { significant += 1 }
            } else {
                exponent += 1
            }
            digits += 1
            i += 1
        }
        if i < n && b[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, b[i] &- 0x30 < 10 {
                if significant < 19 {
                    mantissa = mantissa * 10 + UInt64(b[i] &- 0x30)
                    if mantissa > 0 { significant += 1 }
                    exponent -= 1
                }
                digits += 1
                i += 1
            }
        }
        guard digits > 0 else { return nil }
        if i < n && (b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E")) {
            i += 1
            var expNegative = false
            if i < n && (b[i] == UInt8(ascii: "-") || b[i] == UInt8(ascii: "+")) {
                expNegative = b[i] == UInt8(ascii: "-")
                i += 1
            }
            var e = 0
            var expDigits = 0
            while i < n, b[i] &- 0x30 < 10 {
                if e < 100_000 { e = e * 10 + Int(b[i] &- 0x30) }
                expDigits += 1
                i += 1
            }
            guard expDigits > 0 else { return nil }
            exponent += expNegative ? -e : e
        }
        guard i == n else { return nil }
        var value: Double
        if mantissa < (1 << 53) && exponent >= -22 && exponent <= 22 {
            // Both operands are exact, so one multiplication or division rounds correctly.
            var scale = 1.0
            for _ in 0..<abs(exponent) { scale *= 10 }
            value = exponent < 0 ? Double(mantissa) / scale : Double(mantissa) * scale
        } else {
            guard let v = Double(String(decoding: b, as: UTF8.self)) else { return nil }
            return v
        }
        if negative { value = -value }
        return value
    }

    /// Epoch milliseconds of `yyyy-MM-dd` (midnight UTC) or of an ISO date-time.
    static func isoMillis(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
            let y = digits(b, 0, 4), let mo = digits(b, 5, 2), let d = digits(b, 8, 2),
            (1...12).contains(mo), d >= 1, d <= daysInMonth(y, mo)
        else { return nil }
        let days = Int64(daysFromCivil(y, mo, d))
        if b.count == 10 { return y > 0 ? days * 86_400_000 : nil }
        guard b.count >= 20, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), b[13] == UInt8(ascii: ":"),
            b[16] == UInt8(ascii: ":"), let h = digits(b, 11, 2), let mi = digits(b, 14, 2),
            let sec = digits(b, 17, 2), h < 24, mi < 60, sec < 61
        else { return nil }
        var i = 19
        var millis = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 100
            while i < b.count, b[i] &- 0x30 < 10 {
                millis += Int(b[i] &- 0x30) * scale
                scale /= 10
                i += 1
            }
        }
        guard i < b.count else { return nil }
        var offsetMinutes = 0
        if b[i] == UInt8(ascii: "Z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard i + 6 == b.count, b[i + 3] == UInt8(ascii: ":"), let oh = digits(b, i + 1, 2),
                let om = digits(b, i + 4, 2)
            else { return nil }
            offsetMinutes = (oh * 60 + om) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = days * 86_400 + Int64(h * 3600 + mi * 60 + sec) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }

    @inline(__always)
    private static func digits(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ count: Int) -> Int? {
        var v = 0
        for i in at..<(at + count) {
            let d = b[i] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }

    private static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's algorithm, as in HeraldModel's `Time.swift`).
    private static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
