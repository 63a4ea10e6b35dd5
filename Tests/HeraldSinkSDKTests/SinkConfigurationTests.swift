import Foundation
import HeraldJSON
import HeraldSinkSDK
import Testing

/// A configuration declared the way the built-in sinks declare theirs.
struct DemoConfig: SinkConfiguration, Equatable {
    static let pluginName = "demo"
    var url = ""
    var token: String?
    var verbose = false
    var maxInFlight = 4
    var mode = "fast"

    init() {}

    static var keys: [SinkConfigKey<DemoConfig>] {
        [
            .string("url", \.url, required: true, "where messages go"),
            .string("token", \.token),
            .bool("verbose", \.verbose, "log every batch"),
            .int("maxInFlight", \.maxInFlight, in: 1...64, "batches in flight", deprecatedNames: ["concurrency"]),
            .choice("mode", \.mode, ["fast", "safe"]),
        ]
    }

    mutating func check(_ problems: SinkConfigProblems) {
        if !url.hasPrefix("https://") { problems.report("url", "'\(url)' must start with https://") }
        while url.hasSuffix("/") { url.removeLast() }
    }
}

@Suite struct SinkConfigurationTests {
    func problem(_ text: String) -> String {
        do {
            _ = try DemoConfig.read(text)
            return "accepted"
        } catch {
            #expect(error.status == .permanent)
            return error.message
        }
    }

    @Test func keysNotGivenKeepTheDefaultsAndGivenOnesAreTyped() throws {
        let c = try DemoConfig.read(#"{"url": "https://x/", "verbose": true, "maxInFlight": 9}"#)
        var expected = DemoConfig()
        expected.url = "https://x"  // normalized by check
        expected.verbose = true
        expected.maxInFlight = 9
        #expect(c == expected)
    }

    @Test func everyProblemIsNamedByItsKeyAndReportedAtOnce() {
        let text = problem(#"{"url": 5, "verbos": true, "maxInFlight": 0, "mode": "slow"}"#)
        #expect(text.hasPrefix("demo sink configuration: "), "\(text)")
        #expect(text.contains("url: expected a string, found a number"), "\(text)")
        #expect(text.contains("verbos: unknown key 'verbos' (did you mean 'verbose'?)"), "\(text)")
        #expect(text.contains("maxInFlight: 0 is out of range 1...64"), "\(text)")
        #expect(text.contains("mode: 'slow' is not one of 'fast', 'safe'"), "\(text)")
        #expect(problem("{}").contains("url: required key 'url' is missing"))
        #expect(problem("[1]").contains("must be a JSON object"))
        #expect(problem("{not json").contains("not valid JSON"))
        // Rules across keys run once the types are right.
        #expect(problem(#"{"url": "http://x"}"#) == "demo sink configuration: url: 'http://x' must start with https://")
    }

    @Test func anOlderKeyNameIsReadAsTheKeyWithAWarning() throws {
        var warnings: [String] = []
        let c = try DemoConfig.read(#"{"url": "https://x", "concurrency": 7}"#) { warnings.append($0) }
        #expect(c.maxInFlight == 7)
        #expect(warnings.count == 1 && warnings[0].contains("'concurrency'") && warnings[0].contains("maxInFlight"))
        let both = problem(#"{"url": "https://x", "concurrency": 7, "maxInFlight": 2}"#)
        #expect(both.contains("concurrency: 'concurrency' is the older name of 'maxInFlight'; give only 'maxInFlight'"), "\(both)")
        // The older name is not offered as a "did you mean".
        #expect(problem(#"{"url": "https://x", "concurency": 7}"#).contains("unknown key 'concurency'"))
        #expect(!problem(#"{"url": "https://x", "concurency": 7}"#).contains("did you mean 'concurrency'"))
    }

    @Test func theSchemaComesFromTheDeclaration() throws {
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(DemoConfig.schema.utf8)) as? [String: Any])
        #expect(schema["type"] as? String == "object")
        #expect(schema["additionalProperties"] as? Bool == false)
        #expect(schema["required"] as? [String] == ["url"])
        let properties = try #require(schema["properties"] as? [String: [String: Any]])
        #expect(Set(properties.keys) == ["url", "token", "verbose", "maxInFlight", "concurrency", "mode"])
        let inFlight = try #require(properties["maxInFlight"])
        #expect(inFlight["type"] as? String == "integer")
        #expect(inFlight["minimum"] as? Int == 1 && inFlight["maximum"] as? Int == 64)
        #expect(inFlight["default"] as? Int == 4, "the default is the value of init()")
        #expect(inFlight["description"] as? String == "batches in flight")
        let old = try #require(properties["concurrency"])
        #expect(old["deprecated"] as? Bool == true && old["type"] as? String == "integer")
        #expect(properties["mode"]?["enum"] as? [String] == ["fast", "safe"])
        #expect(properties["verbose"]?["default"] as? Bool == false)
        #expect(properties["url"]?["default"] == nil, "a required key has no default")
        #expect(properties["token"]?["default"] == nil, "an optional key without a value has no default")
    }

    @Test func itIsDecodableWithTheSameRules() throws {
        let c = try JSONDecoder().decode(DemoConfig.self, from: Data(#"{"url": "https://x", "concurrency": 3}"#.utf8))
        #expect(c.maxInFlight == 3 && c.url == "https://x")
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(DemoConfig.self, from: Data(#"{"url": "https://x", "colour": 1}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(DemoConfig.self, from: Data(#"{"url": "https://x", "maxInFlight": 65}"#.utf8))
        }
        struct Outer: Decodable { var sink: DemoConfig }
        let nested = try JSONDecoder().decode(Outer.self, from: Data(#"{"sink": {"url": "https://y"}}"#.utf8))
        #expect(nested.sink.url == "https://y" && nested.sink.maxInFlight == 4)
    }
}
