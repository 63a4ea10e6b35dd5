import HeraldConfig
import HeraldJSON
import HeraldModel

/// Checks, in the build being benchmarked, behaviour a compiler bug once broke in release builds
/// only (Swift 6.3.1 wrote `false` for `.bool(true)` in `JSONWriter.value`; see
/// docs/decisions/0006-release-miscompile.md). Tests run in debug builds, so this runs before every
/// benchmark, and CI's quick run fails if it does.
enum ReleaseSelfCheck {
    static func run() throws {
        let text = #"{"t":true,"f":false,"n":null,"a":[true,false],"o":{"t":true}}"#
        let parsed = try JSONParser.parse(text)
        guard parsed.serializedString() == text else {
            throw BenchError("release self-check: JSON booleans do not round-trip: \(parsed.serializedString())")
        }
        guard parsed["t"]?.boolValue == true, parsed["f"]?.boolValue == false else {
            throw BenchError("release self-check: JSONValue.boolValue is wrong")
        }
        // A provider's configuration reaches its plugin re-serialized: booleans must survive.
        let config = #"""
            {"dataDirectory": "/tmp/x", "tenants": [{"id": "t", "entityTypes": [],
             "streamingConfig": {"largeObjectsSupport": true, "analyzeOvChanges": false,
               "messaging": {"providers": {"p": {"plugin": "file", "config": {"fsync": true, "async": false}}},
                             "destinations": [{"provider": "p", "name": "q", "enabled": false, "ovOnly": true}]}}}]}
            """#
        let c = try HeraldConfiguration.parse(bytes: Array(config.utf8), baseDirectory: "/")
        let s = c.tenants[0].streaming
        guard s.largeObjectsSupport, !s.analyzeOvChanges, !s.destinations[0].enabled, s.destinations[0].ovOnly,
            s.providers["p"]?.config == #"{"fsync":true,"async":false}"#
        else {
            throw BenchError("release self-check: configuration booleans are wrong: \(s)")
        }
        // Derived deltas are written straight from the entity (Delta.renderDerived); with the old
        // array literals in JSONWriter.bool, the release build wrote `"ovChanged":false` there.
        let entity = Entity(
            id: "e1", type: "configuration/entityTypes/T",
            attributes: [AttributeEntry(name: "A", values: [AttributeValue(id: "v", content: .simple("x"), ov: true, sources: ["c"])])],
            crosswalks: [Crosswalk(id: "c", type: "configuration/sources/S", value: "1", createDate: 1, updateDate: 1)],
            createdBy: "u", createdTime: 1)
        for (derived, delta) in [(EventDelta.created(entity), Delta.between(nil, entity)), (.removed(entity), Delta.between(entity, nil))] {
            var w = JSONWriter()
            derived.render(into: &w, entityType: entity.type)
            let expected = delta.jsonBytes(entityType: entity.type)
            guard w.bytes == expected, String(decoding: expected, as: UTF8.self).hasPrefix(#"{"ovChanged":true,"#) else {
                throw BenchError("release self-check: derived delta is wrong: \(String(decoding: w.bytes, as: UTF8.self))")
            }
        }
    }
}
