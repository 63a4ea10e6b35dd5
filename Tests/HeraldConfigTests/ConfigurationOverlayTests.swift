import Foundation
import HeraldConfig
import HeraldJSON
import HeraldModel
import Testing

/// The management API's changes layered over the file (decision 0014): what applies, what the file supersedes,
/// what no longer fits and is retired, and the JSON paths problems are reported at.
struct ConfigurationOverlayTests {
    static let file = """
        {"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/I",
          "attributes": [{"name": "FirstName"}]}],
          "streamingConfig": {"messaging": {
            "providers": {"f": {"plugin": "file", "config": {"path": "/tmp/x"}}, "g": {"plugin": "file"}},
            "destinations": [{"provider": "f", "name": "a"}, {"provider": "f", "name": "a"}, {"id": "mine", "provider": "g", "name": "b"}]}}}]}
        """

    static func json(_ text: String) -> JSONValue { try! JSONParser.parse(Array(text.utf8)) }

    static func item(_ kind: StreamingSettingKey.Kind, _ id: String, _ body: String?, base: String?)
        -> ConfigurationOverlay.Item
    {
        ConfigurationOverlay.Item(tenant: "t", kind: kind, id: id, body: body.map(json), base: base)
    }

    static func layer(_ items: [ConfigurationOverlay.Item], paused: Set<DestinationKey> = [], file: String = file) throws
        -> LayeredConfiguration
    {
        try HeraldConfiguration.parse(
            bytes: Array(file.utf8), baseDirectory: "/", overlay: ConfigurationOverlay(items: items, paused: paused))
    }

    static var versions: [StreamingSettingKey: String] { HeraldConfiguration.fileSettings(json(file)) }

    @Test func theFileVersionsAreKeyedByTheIdsTheReaderAssigns() {
        let keys = Set(Self.versions.keys.filter { $0.kind == .destination }.map(\.id))
        #expect(keys == ["f/a", "f/a#2", "mine"])
        #expect(Self.versions[StreamingSettingKey(tenant: "t", kind: .provider, id: "g")] == #"{"plugin":"file"}"#)
    }

    @Test func replacedAddedAndRemovedSettingsApplyWhileTheFileIsUnchanged() throws {
        let v = Self.versions
        let layered = try Self.layer(
            [
                Self.item(.destination, "f/a#2", #"{"id": "f/a#2", "provider": "f", "name": "a", "ovOnly": true}"#, base: v[StreamingSettingKey(tenant: "t", kind: .destination, id: "f/a#2")]),
                Self.item(.destination, "mine", nil, base: v[StreamingSettingKey(tenant: "t", kind: .destination, id: "mine")]),
                Self.item(.destination, "new", #"{"id": "new", "provider": "g", "name": "n"}"#, base: nil),
            ], paused: [DestinationKey(tenant: "t", destination: "new")])
        #expect(layered.outcome.isEmpty)
        let destinations = layered.configuration.tenants[0].streaming.destinations
        #expect(destinations.map(\.id) == ["f/a", "f/a#2", "new"], "replaced in place, removed, added at the end")
        #expect(destinations[1].ovOnly)
        #expect(destinations.map(\.paused) == [false, false, true])
        #expect(layered.destination(tenant: "t", id: "f/a")?["id"] == .string("f/a"), "shown with the id the reader assigned")
    }

    @Test func aSettingTheFileChangedAfterTheAPIIsSuperseded() throws {
        let edited = Self.file.replacingOccurrences(of: #"{"id": "mine", "provider": "g", "name": "b"}"#, with: #"{"id": "mine", "provider": "g", "name": "b2"}"#)
        let api = Self.item(.destination, "mine", #"{"id": "mine", "provider": "g", "name": "api"}"#, base: Self.versions[StreamingSettingKey(tenant: "t", kind: .destination, id: "mine")])
        let layered = try Self.layer([api], file: edited)
        #expect(layered.outcome.superseded == [api])
        #expect(layered.configuration.tenants[0].streaming.destinations.last?.name == "b2")
        // Created through the API, then the file adds one of the same id: the file's wins as well.
        let created = Self.item(.destination, "f/a#2", #"{"id": "f/a#2", "provider": "g", "name": "x"}"#, base: nil)
        #expect(try Self.layer([created]).outcome.superseded == [created])
    }

    @Test func aSettingThatNoLongerFitsIsRetiredWithItsProblems() throws {
        // The file no longer has provider g: the API's destination on g does not fit any more.
        let withoutG = Self.file.replacingOccurrences(of: #", "g": {"plugin": "file"}"#, with: "")
            .replacingOccurrences(of: #", {"id": "mine", "provider": "g", "name": "b"}"#, with: "")
        let api = Self.item(.destination, "new", #"{"id": "new", "provider": "g", "name": "n"}"#, base: nil)
        let layered = try Self.layer([api], file: withoutG)
        #expect(layered.outcome.retired.map(\.item) == [api])
        #expect(layered.outcome.retired.first?.issues.map(\.path.description) == ["tenants[0].streamingConfig.messaging.destinations[2].provider"])
        #expect(layered.configuration.tenants[0].streaming.destinations.map(\.id) == ["f/a", "f/a#2"])
        // A removal has no place: a problem elsewhere retires it (the file's destinations need provider f).
        let removal = Self.item(.provider, "f", nil, base: Self.versions[StreamingSettingKey(tenant: "t", kind: .provider, id: "f")])
        let kept = try Self.layer([removal])
        #expect(kept.outcome.retired.map(\.item) == [removal])
        #expect(kept.configuration.tenants[0].streaming.providers["f"] != nil)
    }

    @Test func theFilesOwnProblemsAreStillRefused() {
        let broken = Self.file.replacingOccurrences(of: #""name": "b""#, with: #""name": "b", "format": "XML""#)
        #expect((try? Self.layer([])) != nil, "the unbroken file reads")
        do {
            _ = try Self.layer([], file: broken)
            Issue.record("a broken file was accepted")
        } catch let error as ConfigurationError {
            #expect(error.issues.map(\.path.description) == ["tenants[0].streamingConfig.messaging.destinations[2].format"])
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func mergePatchAndSecrets() {
        let patched = JSONMergePatch.apply(Self.json(#"{"a": null, "b": {"c": 2}, "d": [1]}"#), to: Self.json(#"{"a": 1, "b": {"c": 1, "e": 3}, "f": 4}"#))
        #expect(patched.serializedString() == #"{"b":{"c":2,"e":3},"f":4,"d":[1]}"#)
        let config = Self.json(#"{"plugin": "sqs", "config": {"region": "r", "secretAccessKey": "s", "sessionToken": "t", "credentialsFile": "/f", "tokenTtlSeconds": 60, "passwordEnv": "P"}}"#)
        let shown = ProviderSecrets.redact(config)
        #expect(shown["config"]?["secretAccessKey"] == .string(ProviderSecrets.placeholder))
        #expect(shown["config"]?["sessionToken"] == .string(ProviderSecrets.placeholder))
        #expect(shown["config"]?["region"] == .string("r"))
        #expect(shown["config"]?["credentialsFile"] == .string("/f"))
        #expect(shown["config"]?["tokenTtlSeconds"] == .number("60"))
        #expect(shown["config"]?["passwordEnv"] == .string("P"))
        #expect(
            ProviderSecrets.restore(shown, from: config).serializedString() == config.serializedString(),
            "sent back as shown, the secrets keep their values")
    }
}
