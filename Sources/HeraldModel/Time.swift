import HeraldJSON

/// Epoch milliseconds from a JSON number or an ISO-8601 date-time string.
public func parseTimestamp(_ value: JSONValue) -> Int64? {
    switch value {
    case .number(let n): return Int64(n)
    case .string(let s): return Int64(s) ?? parseISODateTime(s)
    default: return nil
    }
}

/// True for `yyyy-MM-dd` with a valid month and day.
public func isISODate(_ s: String) -> Bool {
    let b = Array(s.utf8)
    guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return false }
    guard let y = digits(b, 0, 4), let m = digits(b, 5, 2), let d = digits(b, 8, 2) else { return false }
    return y > 0 && (1...12).contains(m) && d >= 1 && d <= daysInMonth(y, m)
}

/// Parses `yyyy-MM-ddTHH:mm:ss[.SSS](Z|±HH:mm)` into epoch milliseconds (UTC).
public func parseISODateTime(_ s: String) -> Int64? {
    let b = Array(s.utf8)
    guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
        b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "), b[13] == UInt8(ascii: ":"),
        b[16] == UInt8(ascii: ":")
    else { return nil }
    guard let y = digits(b, 0, 4), let mo = digits(b, 5, 2), let d = digits(b, 8, 2),
        let h = digits(b, 11, 2), let mi = digits(b, 14, 2), let sec = digits(b, 17, 2),
        (1...12).contains(mo), d >= 1, d <= daysInMonth(y, mo), h < 24, mi < 60, sec < 61
    else { return nil }
    var i = 19
    var millis = 0
    if i < b.count && b[i] == UInt8(ascii: ".") {
        i += 1
        var scale = 100
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            millis += Int(b[i] - 0x30) * scale
            scale /= 10
            i += 1
        }
    }
    guard i < b.count else { return nil }
    var offsetMinutes = 0
    if b[i] == UInt8(ascii: "Z") {
        i += 1
    } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
        guard i + 6 == b.count, b[i + 3] == UInt8(ascii: ":"), let oh = digits(b, i + 1, 2), let om = digits(b, i + 4, 2)
        else { return nil }
        offsetMinutes = (oh * 60 + om) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
        i += 6
    } else {
        return nil
    }
    guard i == b.count else { return nil }
    let days = daysFromCivil(y, mo, d)
    let seconds = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + sec) - Int64(offsetMinutes * 60)
    return seconds * 1000 + Int64(millis)
}

private func digits(_ b: [UInt8], _ at: Int, _ count: Int) -> Int? {
    var v = 0
    for i in at..<(at + count) {
        guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
        v = v * 10 + Int(b[i] - 0x30)
    }
    return v
}

private func daysInMonth(_ y: Int, _ m: Int) -> Int {
    switch m {
    case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: return 30
    default: return 31
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
private func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
    let y = m <= 2 ? y0 - 1 : y0
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// The one rule for `Date` values, at ingest and in matching: the calendar date as `yyyy-MM-dd`, or nil.
///
/// Read: `yyyy-MM-dd` (also with `/` or `.` between the parts), `yyyyMMdd` (8 digits, ISO 8601 basic), an
/// ISO date-time (its date part as written), or epoch milliseconds of 9 digits or more (UTC). Every date is
/// checked against the calendar: `1956-02-30` and `19561332` are not dates. Epoch milliseconds of 8 digits or
/// fewer are not read (they would be ambiguous with `yyyyMMdd` and only name 1 or 2 January 1970).
public func canonicalDate(_ t: String) -> String? {
    let b = Array(t.utf8)
    if b.count == 10, b[4] == b[7], b[4] == UInt8(ascii: "-") || b[4] == UInt8(ascii: "/") || b[4] == UInt8(ascii: ".") {
        let candidate =
            String(decoding: b[0..<4], as: UTF8.self) + "-" + String(decoding: b[5..<7], as: UTF8.self) + "-"
            + String(decoding: b[8..<10], as: UTF8.self)
        return isISODate(candidate) ? candidate : nil
    }
    if b.count == 8, b.allSatisfy({ $0 &- 0x30 < 10 }) {
        let candidate =
            String(decoding: b[0..<4], as: UTF8.self) + "-" + String(decoding: b[4..<6], as: UTF8.self) + "-"
            + String(decoding: b[6..<8], as: UTF8.self)
        return isISODate(candidate) ? candidate : nil
    }
    if b.count > 10, parseISODateTime(t) != nil {
        return String(decoding: b[0..<10], as: UTF8.self)
    }
    if b.count > 8, let millis = Int64(t) {
        return civilDate(fromEpochMillis: millis)
    }
    return nil
}

/// `yyyy-MM-dd` (UTC) of an epoch-milliseconds instant (Howard Hinnant's civil-from-days).
public func civilDate(fromEpochMillis millis: Int64) -> String {
    var days = millis / 86_400_000
    if millis % 86_400_000 < 0 { days -= 1 }
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
    return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
}
