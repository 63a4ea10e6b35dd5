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
