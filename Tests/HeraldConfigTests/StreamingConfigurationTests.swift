import Foundation
import HeraldConfig
import HeraldJSON
import HeraldModel
import Testing

struct StreamingConfigurationTests {
    func config(_ streaming: String) -> String {
        """
        {"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/I",
          "attributes": [{"name": "FirstName"}, {"name": "Address", "type": "Nested", "attributes": [{"name": "City"}]}]}],
          "streamingConfig": \(streaming)}]}
        """
    }

    func issues(_ streaming: String) -> [String] {
        do {
            _ = try HeraldConfiguration.parse(bytes: Array(config(streaming).utf8), baseDirectory: "/")
            return []
        } catch let error as ConfigurationError {
            return error.issues.map { "\($0.path): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    let provider = #""providers": {"sqs1": {"plugin": "sqs", "config": {"queueUrl": "x"}}}"#

    @Test func readsProvidersAndDestinations() throws {
        let c = try HeraldConfiguration.parse(
            bytes: Array(
                config(
                    #"""
                    {"largeObjectsSupport": true, "analyzeOvChanges": true, "messaging": {\#(provider), "destinations": [
                      {"provider": "sqs1", "name": "q", "typeFilter": ["ENTITY_CREATED"], "payloadType": "DELTAS", "format": "JSON_ZIP_BASE64", "ordering": "perEntity"},
                      {"provider": "sqs1", "name": "q", "payloadFields": ["uri", "attributes.Address.City"], "ovOnly": true,
                       "batch": {"maxMessages": 10, "lingerMs": 5}, "retry": {"maxAttempts": 3, "multiplier": 1.5}},
                      {"id": "mine", "provider": "sqs1", "name": "other", "enabled": false, "startFrom": "now"}]}}
                    """#).utf8), baseDirectory: "/")
        let s = c.tenants[0].streaming
        #expect(s.largeObjectsSupport && s.analyzeOvChanges && s.streamingEnabled)
        #expect(s.providers["sqs1"]?.plugin == "sqs")
        #expect(s.providers["sqs1"]?.config == #"{"queueUrl":"x"}"#)
        #expect(s.destinations.map(\.id) == ["sqs1/q", "sqs1/q#2", "mine"], "several destinations may share a queue")
        #expect(s.destinations[0].typeFilter == [.entityCreated])
        #expect(s.destinations[0].payloadType == .deltas)
        #expect(s.destinations[0].format == .jsonZipBase64)
        #expect(s.destinations[0].ordering == .perEntity)
        #expect(s.destinations[1].payloadFields == ["uri", "attributes.Address.City"])
        #expect(s.destinations[1].batch.maxMessages == 10)
        #expect(s.destinations[1].retry.maxAttempts == 3)
        #expect(s.destinations[1].retry.multiplier == 1.5)
        #expect(!s.destinations[2].enabled)
        #expect(s.destinations[2].startFrom == .now)
    }

    /// Shipped sinks run in process, any other plugin in a child process, unless the provider says otherwise.
    @Test func isolationDefaultsByOriginAndReadsItsSettings() throws {
        let c = try HeraldConfiguration.parse(
            bytes: Array(
                config(
                    #"""
                    {"messaging": {"providers": {
                       "files": {"plugin": "file"}, "acme": {"plugin": "acme"},
                       "trusted": {"plugin": "acme", "isolation": "inProcess"},
                       "kafka": {"plugin": "kafka", "isolation": "process",
                                 "process": {"memoryLimitMb": 512, "restartBackoffMs": {"initial": 100, "max": 5000},
                                             "heartbeatIntervalMs": 500, "heartbeatTimeoutMs": 2000, "maxCrashesPerMessage": 5}}}}}
                    """#).utf8), baseDirectory: "/")
        let p = c.tenants[0].streaming.providers
        #expect(p["files"]?.effectiveIsolation == .inProcess)
        #expect(p["acme"]?.effectiveIsolation == .process)
        #expect(p["trusted"]?.effectiveIsolation == .inProcess)
        #expect(p["kafka"]?.effectiveIsolation == .process)
        let k = try #require(p["kafka"]?.process)
        #expect(k.memoryLimitMb == 512 && k.restartBackoffInitialMs == 100 && k.restartBackoffMaxMs == 5000)
        #expect(k.heartbeatIntervalMs == 500 && k.heartbeatTimeoutMs == 2000 && k.maxCrashesPerMessage == 5)
        #expect(p["acme"]?.process == ProcessIsolationSettings(), "defaults")
    }

    /// The platform reads an empty list as "no restriction"; so does Herald (it never means "send nothing").
    @Test func emptyTypeFilterAndPayloadFieldsAreNoRestriction() throws {
        let c = try HeraldConfiguration.parse(
            bytes: Array(
                config(#"{"messaging": {\#(provider), "destinations": [{"provider": "sqs1", "name": "q", "typeFilter": [], "payloadFields": []}]}}"#)
                    .utf8), baseDirectory: "/")
        let d = c.tenants[0].streaming.destinations[0]
        #expect(d.typeFilter == nil)
        #expect(d.payloadFields == nil)
    }

    @Test(arguments: [
        (#"{"messaging": {"destinations": [{"provider": "nope", "name": "q"}]}}"#, "messaging.destinations[0].provider: unknown provider 'nope'"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "typeFilter": ["ENTITY_CREATD"]}]}}"#, "messaging.destinations[0].typeFilter[0]: unknown event type 'ENTITY_CREATD'"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "payloadFields": ["attributes.Nick"]}]}}"#, "messaging.destinations[0].payloadFields[0]: unknown field 'attributes.Nick'"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "payloadFields": ["attributes.Address.Zip"]}]}}"#, "messaging.destinations[0].payloadFields[0]: unknown field 'attributes.Address.Zip': 'Address' has no sub-attribute 'Zip'"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "payloadFields": ["colour"]}]}}"#, "messaging.destinations[0].payloadFields[0]: unknown field 'colour'"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "payloadType": "FULL"}]}}"#, "messaging.destinations[0].payloadType: 'FULL' is not one of"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "format": "XML"}]}}"#, "messaging.destinations[0].format: 'XML' is not one of"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "typefilter": []}]}}"#, "messaging.destinations[0].typefilter: unknown key 'typefilter' (did you mean 'typeFilter'?)"),
        (#"{"messaging": {PROVIDER, "destinations": [{"id": "x", "provider": "sqs1", "name": "a"}, {"id": "x", "provider": "sqs1", "name": "b"}]}}"#, "messaging.destinations[1].id: destination id 'x' is also used by destinations[0]"),
        (#"{"messaging": {"providers": {"p": {"config": {}}}}}"#, "messaging.providers.p.plugin: required key 'plugin' is missing"),
        (#"{"messaging": {"providers": {"p": {"plugin": "file", "config": 3}}}}"#, "messaging.providers.p.config: expected an object"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "retry": {"maxAttempts": 0}}]}}"#, "messaging.destinations[0].retry.maxAttempts: 0 is out of range"),
        (#"{"messaging": {PROVIDER, "destinations": [{"provider": "sqs1", "name": "q", "payloadType": "DELTAS", "payloadFields": ["uri"]}]}}"#, "messaging.destinations[0].payloadFields: payloadFields selects fields of the object"),
        (#"{"streamingEnabled": "yes"}"#, "streamingEnabled: expected true or false"),
        (#"{"messaging": {"providers": {"p": {"plugin": "acme", "isolation": "thread"}}}}"#, "messaging.providers.p.isolation: 'thread' is not one of 'inProcess', 'process'"),
        (#"{"messaging": {"providers": {"p": {"plugin": "file", "process": {"memoryLimitMb": 64}}}}}"#, "messaging.providers.p.process: applies to isolation \"process\" only"),
        (#"{"messaging": {"providers": {"p": {"plugin": "acme", "process": {"memoryLimitMb": -1}}}}}"#, "messaging.providers.p.process.memoryLimitMb: -1 is out of range"),
        (#"{"messaging": {"providers": {"p": {"plugin": "acme", "process": {"restartBackoffMs": {"initial": 500, "max": 100}}}}}}"#, "messaging.providers.p.process.restartBackoffMs.max: 100 is below initial (500)"),
        (#"{"messaging": {"providers": {"p": {"plugin": "acme", "process": {"heartbeatIntervalMs": 1000, "heartbeatTimeoutMs": 1500}}}}}"#, "messaging.providers.p.process.heartbeatTimeoutMs: 1500 must be at least twice heartbeatIntervalMs (1000)"),
        (#"{"messaging": {"providers": {"p": {"plugin": "acme", "process": {"maxCrashes": 3}}}}}"#, "messaging.providers.p.process.maxCrashes: unknown key 'maxCrashes'"),
    ])
    func rejectsMistakesWithTheirPath(streaming: String, expected: String) {
        let found = issues(streaming.replacingOccurrences(of: "PROVIDER", with: provider))
        let full = "tenants[0].streamingConfig." + expected
        #expect(found.contains { $0.hasPrefix(full) }, "expected '\(full)' in \(found)")
    }
}
