import Synchronization

/// One problem found while reading a JSON document against an expected shape.
public struct JSONShapeIssue: Sendable, Equatable, CustomStringConvertible {
    public var path: JSONPath
    public var message: String

    public init(path: JSONPath, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Collects every shape problem of a document instead of stopping at the first.
///
/// Used for the configuration file (`herald config check` prints them all) and
/// for request bodies (each item's errors name the path inside the item).
public final class JSONShapeIssues: Sendable {
    private let reported = Mutex<[JSONShapeIssue]>([])

    public init() {}

    public var issues: [JSONShapeIssue] { reported.withLock { $0 } }

    public func report(_ path: JSONPath, _ message: String) {
        reported.withLock { $0.append(JSONShapeIssue(path: path, message: message)) }
    }

    public var isEmpty: Bool { reported.withLock { $0.isEmpty } }
}

/// Reads the members of one JSON object, tracking which keys were used.
///
/// Call `finish()` when done: every member that was not read is reported as an
/// unknown key, with a suggestion when a known key is close (a typo in a
/// destination must not silently stream everything).
public struct JSONObjectReader {
    public let path: JSONPath
    public let members: [JSONMember]
    public let issues: JSONShapeIssues
    private var known: [String] = []

    /// Returns nil (and reports) when `value` is not an object.
    public init?(_ value: JSONValue, at path: JSONPath, issues: JSONShapeIssues) {
        guard case .object(let members) = value else {
            issues.report(path, "expected an object, found \(value.kindDescription)")
            return nil
        }
        self.path = path
        self.members = members
        self.issues = issues
    }

    /// The raw value of `key`, marking it as known.
    public mutating func value(_ key: String, required: Bool = false) -> JSONValue? {
        known.append(key)
        for m in members where m.key == key {
            if case .null = m.value, !required { return nil }
            return m.value
        }
        if required { issues.report(path + key, "required key '\(key)' is missing") }
        return nil
    }

    public mutating func string(_ key: String, required: Bool = false) -> String? {
        guard let v = value(key, required: required) else { return nil }
        guard case .string(let s) = v else {
            issues.report(path + key, "expected a string, found \(v.kindDescription)")
            return nil
        }
        if required && s.isEmpty {
            issues.report(path + key, "must not be empty")
            return nil
        }
        return s
    }

    public mutating func bool(_ key: String) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else {
            issues.report(path + key, "expected true or false, found \(v.kindDescription)")
            return nil
        }
        return b
    }

    /// An integer within `range`.
    public mutating func int(_ key: String, in range: ClosedRange<Int64>, required: Bool = false) -> Int64? {
        guard let v = value(key, required: required) else { return nil }
        guard case .number(let text) = v, let n = Int64(text) else {
            issues.report(path + key, "expected an integer, found \(v.kindDescription)")
            return nil
        }
        guard range.contains(n) else {
            issues.report(path + key, "\(n) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return n
    }

    public mutating func double(_ key: String, in range: ClosedRange<Double>) -> Double? {
        guard let v = value(key) else { return nil }
        guard case .number(let text) = v, let n = Double(text) else {
            issues.report(path + key, "expected a number, found \(v.kindDescription)")
            return nil
        }
        guard range.contains(n) else {
            issues.report(path + key, "\(text) is out of range \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return n
    }

    /// A string that must be one of `allowed` (case-sensitive).
    public mutating func choice(_ key: String, _ allowed: [String]) -> String? {
        guard let s = string(key) else { return nil }
        guard allowed.contains(s) else {
            issues.report(path + key, "'\(Echo.cut(s))' is not one of \(allowed.map { "'\($0)'" }.joined(separator: ", "))")
            return nil
        }
        return s
    }

    public mutating func stringArray(_ key: String) -> [String]? {
        guard let v = value(key) else { return nil }
        guard case .array(let elements) = v else {
            issues.report(path + key, "expected an array of strings, found \(v.kindDescription)")
            return nil
        }
        var out: [String] = []
        for (i, e) in elements.enumerated() {
            if case .string(let s) = e {
                out.append(s)
            } else {
                issues.report(path + key + i, "expected a string, found \(e.kindDescription)")
            }
        }
        return out
    }

    /// Reads an array of objects, calling `read` for each element with its path.
    public mutating func objects<T>(
        _ key: String, required: Bool = false, _ read: (inout JSONObjectReader) -> T?
    ) -> [T]? {
        guard let v = value(key, required: required) else { return nil }
        guard case .array(let elements) = v else {
            issues.report(path + key, "expected an array, found \(v.kindDescription)")
            return nil
        }
        var out: [T] = []
        for (i, e) in elements.enumerated() {
            guard var r = JSONObjectReader(e, at: path + key + i, issues: issues) else { continue }
            if let t = read(&r) { out.append(t) }
            r.finish()
        }
        return out
    }

    /// Reads a nested object with `read`.
    public mutating func object<T>(_ key: String, required: Bool = false, _ read: (inout JSONObjectReader) -> T?) -> T? {
        guard let v = value(key, required: required) else { return nil }
        guard var r = JSONObjectReader(v, at: path + key, issues: issues) else { return nil }
        let t = read(&r)
        r.finish()
        return t
    }

    /// Reports a problem at `key` inside this object.
    public func report(_ key: String, _ message: String) {
        issues.report(path + key, message)
    }

    /// Reports every member that no accessor asked for.
    public func finish() {
        for m in members where !known.contains(m.key) {
            var message = "unknown key '\(Echo.cut(m.key))'"
            if let close = closestKey(to: m.key) {
                message += " (did you mean '\(close)'?)"
            } else if !known.isEmpty {
                message += "; expected one of: \(known.joined(separator: ", "))"
            }
            issues.report(path + m.key, message)
        }
    }

    private func closestKey(to key: String) -> String? {
        var best: (String, Int)?
        let lower = key.lowercased()
        for k in known {
            let d = editDistance(Array(lower.utf8), Array(k.lowercased().utf8))
            if d <= max(1, k.utf8.count / 3), best == nil || d < best!.1 { best = (k, d) }
        }
        return best?.0
    }
}

/// Edit distance with adjacent transpositions (optimal string alignment), for "did you mean" hints.
public func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
            }
        }
    }
    return d[a.count][b.count]
}
