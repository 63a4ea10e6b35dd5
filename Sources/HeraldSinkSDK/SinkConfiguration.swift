import HeraldJSON

/// A sink's configuration (the provider's `config` object), declared once: the struct's properties hold the
/// values and their defaults, and `keys` names every key of the JSON object, its type, bounds, meaning and older
/// names. The reader (`read`), the JSON Schema the plugin publishes (`schema`) and the `Decodable` conformance all
/// come from that one declaration, so the schema cannot drift from what the sink accepts.
///
///     struct MyConfig: SinkConfiguration {
///         static let pluginName = "my"
///         var url = ""
///         var maxInFlight = 4
///         static var keys: [SinkConfigKey<MyConfig>] {
///             [.string("url", \.url, required: true, "where messages go"),
///              .int("maxInFlight", \.maxInFlight, in: 1...64, "batches in flight", deprecatedNames: ["concurrency"])]
///         }
///     }
///
/// Reading follows the rules of Herald's own configuration file: unknown keys and wrong types are errors that
/// name the key (with a "did you mean" hint), and every problem is reported at once. A key given under one of
/// its `deprecatedNames` is read as the key, with a warning; giving both names is an error.
public protocol SinkConfiguration: Decodable, Sendable {
    /// The configuration with every default: keys not given keep these values.
    init()
    /// The plugin's name, for messages ("sqs sink configuration: …").
    static var pluginName: String { get }
    /// Every key the configuration takes, in the order the schema lists them.
    static var keys: [SinkConfigKey<Self>] { get }
    /// Rules across keys, run once every key has the right type: report problems by key, normalize values, or
    /// throw a `SinkError` whose message is shown as is.
    mutating func check(_ problems: SinkConfigProblems) throws
}

extension SinkConfiguration {
    public mutating func check(_ problems: SinkConfigProblems) throws {}

    /// Reads a configuration from JSON text. `warn` receives one line per deprecated key name used.
    /// - Throws: `SinkError(.permanent, …)` listing every problem.
    public static func read(_ text: String, warn: (String) -> Void = { _ in }) throws(SinkError) -> Self {
        let json: JSONValue
        do {
            json = try JSONParser.parse(text)
        } catch {
            throw SinkError(.permanent, "the \(pluginName) sink configuration is not valid JSON: \(error)")
        }
        return try read(json, warn: warn)
    }

    /// Reads a configuration from a parsed JSON value.
    public static func read(_ json: JSONValue, warn: (String) -> Void = { _ in }) throws(SinkError) -> Self {
        let issues = JSONShapeIssues()
        guard var reader = JSONObjectReader(json, at: .root, issues: issues) else {
            throw SinkError(.permanent, "the \(pluginName) sink configuration must be a JSON object")
        }
        var config = Self()
        for key in keys { key.read(&reader, &config, warn) }
        reader.finish()
        if issues.isEmpty {
            do {
                try config.check(SinkConfigProblems(issues))
            } catch let error as SinkError {
                throw error
            } catch {
                throw SinkError(.permanent, "\(pluginName) sink configuration: \(error)")
            }
        }
        if !issues.isEmpty {
            throw SinkError(
                .permanent, "\(pluginName) sink configuration: \(issues.issues.map(\.description).joined(separator: "; "))")
        }
        return config
    }

    /// The JSON Schema of the configuration (the descriptor's `config_schema`): an object without other keys, each
    /// key with its type, bounds, default (from `init()`) and description; older names are listed as `deprecated`.
    public static var schema: String {
        var w = JSONWriter(capacity: 4096)
        let defaults = Self()
        let all = keys
        w.beginObject()
        w.key("type")
        w.string("object")
        w.key("additionalProperties")
        w.bool(false)
        let required = all.filter(\.required)
        if !required.isEmpty {
            w.key("required")
            w.beginArray()
            for k in required { w.string(k.name) }
            w.endArray()
        }
        w.key("properties")
        w.beginObject()
        for k in all {
            w.key(k.name)
            k.writeSchema(&w, defaults, nil)
            for old in k.deprecatedNames {
                w.key(old)
                k.writeSchema(&w, defaults, old)
            }
        }
        w.endObject()
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// `Decodable`: any decoder's object (Foundation's `JSONDecoder`, a property list…) is read with the same
    /// rules as the text (unknown keys, bounds, older names, `check`).
    public init(from decoder: any Decoder) throws {
        let json = try AnyJSON(from: decoder).value
        do {
            self = try Self.read(json)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }
}

/// Where `SinkConfiguration.check` reports problems (each names a key, like `region: 'x' is not…`).
public struct SinkConfigProblems {
    let issues: JSONShapeIssues

    init(_ issues: JSONShapeIssues) { self.issues = issues }

    public func report(_ key: String, _ message: String) {
        issues.report(.root + key, message)
    }
}

/// One key of a sink configuration: its name, older names, whether it is required, its description, how its
/// JSON value is read into the configuration and how the schema describes it.
public struct SinkConfigKey<Config> {
    public let name: String
    /// Older names still accepted (with a warning); the schema lists them as deprecated.
    public let deprecatedNames: [String]
    public let required: Bool
    public let summary: String
    /// The schema of the value without `description` and `default` (`{"type": "integer", "minimum": 1, …}`).
    let fragment: String
    let defaultValue: ((Config) -> JSONValue?)?
    let readValue: (inout JSONObjectReader, String, inout Config) -> Void

    /// A key read by `read(reader, spelling, &config)`, for values the typed constructors do not cover; `schema` is
    /// the JSON Schema of its value.
    public init(
        _ name: String, schema: String, required: Bool = false, _ summary: String, deprecatedNames: [String] = [],
        read: @escaping (inout JSONObjectReader, String, inout Config) -> Void
    ) {
        self.init(
            name: name, deprecatedNames: deprecatedNames, required: required, summary: summary, fragment: schema,
            defaultValue: nil, readValue: read)
    }

    init(
        name: String, deprecatedNames: [String], required: Bool, summary: String, fragment: String,
        defaultValue: ((Config) -> JSONValue?)?, readValue: @escaping (inout JSONObjectReader, String, inout Config) -> Void
    ) {
        self.name = name
        self.deprecatedNames = deprecatedNames
        self.required = required
        self.summary = summary
        self.fragment = fragment
        self.defaultValue = defaultValue
        self.readValue = readValue
    }

    func read(_ r: inout JSONObjectReader, _ config: inout Config, _ warn: (String) -> Void) {
        let given = deprecatedNames.filter { old in r.members.contains { $0.key == old } }
        guard let old = given.first else {
            readValue(&r, name, &config)
            return
        }
        if given.count > 1 || r.members.contains(where: { $0.key == name }) {
            for spelling in given { _ = r.value(spelling) }
            _ = r.value(name)
            r.report(old, "'\(old)' is the older name of '\(name)'; give only '\(name)'")
            return
        }
        warn("the \(name) key was given under its older name '\(old)', which is deprecated: rename it to '\(name)'")
        readValue(&r, old, &config)
    }

    func writeSchema(_ w: inout JSONWriter, _ defaults: Config, _ deprecatedSpelling: String?) {
        // The fragment is an object: write it without its closing brace, then the annotations.
        var body = Array(fragment.utf8)
        while let last = body.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\n") { body.removeLast() }
        precondition(body.last == UInt8(ascii: "}"), "a key's schema must be a JSON object")
        body.removeLast()
        var annotations: [(String, JSONValue)] = []
        if !required, let v = defaultValue?(defaults) { annotations.append(("default", v)) }
        if let old = deprecatedSpelling {
            annotations.append(("deprecated", .bool(true)))
            annotations.append(("description", .string("deprecated: the older name of '\(name)'")))
        } else if !summary.isEmpty {
            annotations.append(("description", .string(summary)))
        }
        var tail = JSONWriter(capacity: 256)
        tail.beginObject()
        for (k, v) in annotations {
            tail.key(k)
            tail.value(v)
        }
        tail.endObject()
        // `tail` is {"k": v, …}: drop its opening brace, joining with a comma when the fragment has members.
        var rest = Array(tail.bytes.dropFirst())
        if !annotations.isEmpty, body.contains(where: { $0 == UInt8(ascii: ":") }) { rest.insert(UInt8(ascii: ","), at: 0) }
        w.raw(body + rest)
    }
}

extension SinkConfigKey {
    /// A string; with `required`, it must be given and not be empty.
    public static func string(
        _ name: String, _ path: WritableKeyPath<Config, String>, required: Bool = false, _ summary: String = "",
        deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: required, summary: summary,
            fragment: #"{"type":"string"}"#, defaultValue: { .string($0[keyPath: path]) },
            readValue: { r, key, c in if let v = r.string(key, required: required) { c[keyPath: path] = v } })
    }

    /// An optional string (nil when not given).
    public static func string(
        _ name: String, _ path: WritableKeyPath<Config, String?>, _ summary: String = "", deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: #"{"type":"string"}"#, defaultValue: { $0[keyPath: path].map { .string($0) } },
            readValue: { r, key, c in if let v = r.string(key) { c[keyPath: path] = v } })
    }

    public static func bool(
        _ name: String, _ path: WritableKeyPath<Config, Bool>, _ summary: String = "", deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: #"{"type":"boolean"}"#, defaultValue: { .bool($0[keyPath: path]) },
            readValue: { r, key, c in if let v = r.bool(key) { c[keyPath: path] = v } })
    }

    /// An integer within `range`.
    public static func int<I: FixedWidthInteger>(
        _ name: String, _ path: WritableKeyPath<Config, I>, in range: ClosedRange<Int64>, _ summary: String = "",
        deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: integerSchema(range), defaultValue: { .number(String($0[keyPath: path])) },
            readValue: { r, key, c in if let v = r.int(key, in: range) { c[keyPath: path] = I(v) } })
    }

    /// An optional integer within `range` (nil when not given: the sink or its library decides).
    public static func int<I: FixedWidthInteger>(
        _ name: String, _ path: WritableKeyPath<Config, I?>, in range: ClosedRange<Int64>, _ summary: String = "",
        deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: integerSchema(range), defaultValue: { $0[keyPath: path].map { .number(String($0)) } },
            readValue: { r, key, c in if let v = r.int(key, in: range) { c[keyPath: path] = I(v) } })
    }

    /// One of `allowed`.
    public static func choice(
        _ name: String, _ path: WritableKeyPath<Config, String>, _ allowed: [String], _ summary: String = "",
        deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: enumSchema(allowed), defaultValue: { .string($0[keyPath: path]) },
            readValue: { r, key, c in if let v = r.choice(key, allowed) { c[keyPath: path] = v } })
    }

    /// One of `allowed`, nil when not given.
    public static func choice(
        _ name: String, _ path: WritableKeyPath<Config, String?>, _ allowed: [String], _ summary: String = "",
        deprecatedNames: [String] = []
    ) -> Self {
        Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: enumSchema(allowed), defaultValue: { $0[keyPath: path].map { .string($0) } },
            readValue: { r, key, c in if let v = r.choice(key, allowed) { c[keyPath: path] = v } })
    }

    /// One case of a string enumeration, nil when not given.
    public static func choice<E: RawRepresentable & CaseIterable>(
        _ name: String, _ path: WritableKeyPath<Config, E?>, _ summary: String = "", deprecatedNames: [String] = []
    ) -> Self where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        return Self(
            name: name, deprecatedNames: deprecatedNames, required: false, summary: summary,
            fragment: enumSchema(allowed), defaultValue: { $0[keyPath: path].map { .string($0.rawValue) } },
            readValue: { r, key, c in if let v = r.choice(key, allowed) { c[keyPath: path] = E(rawValue: v) } })
    }
}

private func integerSchema(_ range: ClosedRange<Int64>) -> String {
    #"{"type":"integer","minimum":\#(range.lowerBound),"maximum":\#(range.upperBound)}"#
}

private func enumSchema(_ allowed: [String]) -> String {
    var w = JSONWriter(capacity: 256)
    w.beginArray()
    for a in allowed { w.string(a) }
    w.endArray()
    return #"{"type":"string","enum":\#(String(decoding: w.bytes, as: UTF8.self))}"#
}

/// Any decoder's value as a JSON value, for `SinkConfiguration.init(from:)`.
struct AnyJSON: Decodable {
    var value: JSONValue

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: Key.self) {
            value = .object(
                try object.allKeys.map { JSONMember(key: $0.stringValue, value: try object.decode(AnyJSON.self, forKey: $0).value) })
            return
        }
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !array.isAtEnd { items.append(try array.decode(AnyJSON.self).value) }
            value = .array(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            value = .null
        } else if let b = try? single.decode(Bool.self) {
            value = .bool(b)
        } else if let i = try? single.decode(Int64.self) {
            value = .number(String(i))
        } else if let d = try? single.decode(Double.self) {
            value = .number(String(d))
        } else {
            value = .string(try single.decode(String.self))
        }
    }
}
