import HeraldConfig
import HeraldJSON
import HeraldModel
import Testing

struct ConfigurationTests {
    func parse(_ text: String, environment: [String: String] = [:]) throws -> HeraldConfiguration {
        try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/etc/herald", environment: environment)
    }

    func issues(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch let error as ConfigurationError {
            return error.issues.map { "\($0.path): \($0.message)" }
        } catch {
            return ["unexpected \(error)"]
        }
    }

    let minimalTenant = #"{"id": "t1", "entityTypes": [{"uri": "configuration/entityTypes/Individual", "attributes": [{"name": "FirstName"}]}]}"#

    @Test func readsAMinimalFileWithDefaults() throws {
        let c = try parse(#"{"dataDirectory": "data", "tenants": [\#(minimalTenant)]}"#)
        #expect(c.server.host == "127.0.0.1")
        #expect(c.server.port == 8080)
        #expect(c.dataDirectory == "/etc/herald/data", "relative to the configuration file")
        #expect(c.tenants.count == 1)
        let type = c.tenants[0].schema.entityType("Individual")
        #expect(type?.attribute(named: "FirstName")?.uri == "configuration/entityTypes/Individual/attributes/FirstName")
        #expect(c.tenants[0].schema.limits == ObjectLimits())
    }

    @Test func readsTheShippedDemoConfiguration() throws {
        let c = try HeraldConfiguration.load(path: BuildPaths.root + "/examples/demo/herald.json")
        #expect(c.tenants.first?.id == "demo")
        #expect(c.tenants.first?.schema.entityType("Individual")?.attribute(named: "Address")?.dataType == .nested)
    }

    @Test(arguments: [
        (#"{"tenants": []}"#, "dataDirectory: required key 'dataDirectory' is missing"),
        (#"{"dataDirectory": 3, "tenants": []}"#, "dataDirectory: expected a string, found a number"),
        (#"{"dataDirectory": "d", "tenants": [], "tenant": []}"#, "tenant: unknown key 'tenant' (did you mean 'tenants'?)"),
        (#"{"dataDirectory": "d", "tenants": [], "server": {"port": 70000}}"#, "server.port: 70000 is out of range 0...65535"),
        (#"{"dataDirectory": "d", "tenants": [], "server": {"prot": 1}}"#, "server.prot: unknown key 'prot' (did you mean 'port'?)"),
        (#"{"dataDirectory": "d", "tenants": [{"entityTypes": []}]}"#, "tenants[0].id: required key 'id' is missing"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "a b", "entityTypes": []}]}"#, "tenants[0].id: 'a b' may only contain letters, digits, '-' and '_' (it appears in URLs)"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "Individual"}]}]}"#, "tenants[0].entityTypes[0].uri: 'Individual' must look like 'configuration/entityTypes/{Name}'"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "A", "type": "Strng"}]}]}]}"#, "tenants[0].entityTypes[0].attributes[0].type: 'Strng' is not one of"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "A", "uri": "configuration/entityTypes/I/attributes/B"}]}]}]}"#, "tenants[0].entityTypes[0].attributes[0].uri: 'configuration/entityTypes/I/attributes/B' does not match its place"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "A", "type": "Nested"}]}]}]}"#, "tenants[0].entityTypes[0].attributes[0].attributes: a Nested attribute needs at least one sub-attribute"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "A"}, {"name": "A"}]}]}]}"#, "tenants[0].entityTypes[0].attributes[1].name: duplicate attribute 'A'"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [], "sources": [{"uri": "CRM"}]}]}"#, "tenants[0].sources[0].uri: 'CRM' must look like 'configuration/sources/{Name}'"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": [], "limits": {"maxValueBytes": 0}}]}"#, "tenants[0].limits.maxValueBytes: 0 is out of range"),
        (#"{"dataDirectory": "d", "tenants": [{"id": "t", "entityTypes": []}, {"id": "t", "entityTypes": []}]}"#, "tenants[1].id: duplicate tenant id 't'"),
        (#"{"dataDirectory": "d", "tenants": [], "server": {"tokens": [{"name": "a", "token": "short", "role": "write"}]}}"#, "server.tokens[0].token: a token needs at least 16 characters"),
        (#"{"dataDirectory": "d", "tenants": [], "server": {"tokens": [{"name": "a", "token": "0123456789abcdef", "role": "root"}]}}"#, "server.tokens[0].role: 'root' is not one of 'read', 'write', 'admin'"),
        (#"{"dataDirectory": "d", "tenants": [], "server": {"tokens": [{"name": "a", "tokenEnv": "NOPE", "role": "read"}]}}"#, "server.tokens[0].tokenEnv: environment variable 'NOPE' is not set"),
        (#"{"dataDirectory": "d", "tenants": [], "store": {"synchronous": "OFF"}}"#, "store.synchronous: 'OFF' is not one of 'FULL', 'NORMAL'"),
        (#"{"dataDirectory": "d", "tenants": [], "store": {"writerCacheMiB": 0}}"#, "store.writerCacheMiB: 0 is out of range 1...65536"),
        (#"{"dataDirectory": "d", "tenants": [], "store": {"readerCacheMiB": "8"}}"#, "store.readerCacheMiB: expected an integer, found a string"),
        (#"{"dataDirectory": "d", "tenants": [], "store": {"readerCount": 0}}"#, "store.readerCount: 0 is out of range 1...64"),
        (#"{"dataDirectory": "d", "tenants": [], "store": {"matchProfileCacheEntries": -1}}"#, "store.matchProfileCacheEntries: -1 is out of range 0...10000000"),
        (#"{"dataDirectory": "d", "tenants": [], "store": {"readerCacheMb": 8}}"#, "store.readerCacheMb: unknown key 'readerCacheMb' (did you mean 'readerCacheMiB'?)"),
        (#"{"dataDirectory": "d", "tenants": [], "server": {"host": true}}"#, "server.host: expected a string, found a boolean"),
        (#"{"dataDirectory": "d", "dataDirectory": "e", "tenants": []}"#, "$: invalid JSON: duplicate key 'dataDirectory' (first at byte 1); a key may appear once per object at byte 23"),
    ])
    func namesThePathOfEveryError(text: String, expected: String) {
        let found = issues(text)
        #expect(found.contains { $0.hasPrefix(expected) }, "expected '\(expected)' in \(found)")
    }

    @Test func readsTheStoreMemoryKeys() throws {
        let defaults = try parse(#"{"dataDirectory": "d", "tenants": []}"#).store
        #expect(defaults.writerCacheMiB == 64)
        #expect(defaults.readerCacheMiB == 8)
        #expect(defaults.readerCount == 8)
        #expect(defaults.matchProfileCacheEntries == 20_000)
        let set = try parse(
            #"{"dataDirectory": "d", "tenants": [], "store": {"writerCacheMiB": 16, "readerCacheMiB": 2, "readerCount": 3, "matchProfileCacheEntries": 0}}"#
        ).store
        #expect(set.writerCacheMiB == 16)
        #expect(set.readerCacheMiB == 2)
        #expect(set.readerCount == 3)
        #expect(set.matchProfileCacheEntries == 0)
    }

    @Test func reportsAllErrorsAtOnce() {
        let found = issues(
            #"{"dataDirectory": 1, "server": {"port": "x", "hots": "a"}, "tenants": [{"id": "t", "entityTypes": [{"uri": "bad"}], "sourcez": []}]}"#
        )
        #expect(found.count == 5, "\(found)")
    }

    @Test func reportsSyntaxErrorsWithTheirOffset() {
        let found = issues("{\"dataDirectory\": \"d\",\n \"tenants\": [}")
        #expect(found.count == 1)
        #expect(found.first?.contains("line 2") == true, "\(found)")
        #expect(found.first?.contains("byte 36") == true, "\(found)")
    }

    @Test func readsTokensFromTheEnvironment() throws {
        let c = try parse(
            #"{"dataDirectory": "d", "tenants": [], "server": {"host": "0.0.0.0", "tokens": [{"name": "ci", "tokenEnv": "TOK", "role": "admin"}]}}"#,
            environment: ["TOK": "abcdefghijklmnopq"])
        #expect(c.server.tokens.first?.token == "abcdefghijklmnopq")
        #expect(c.server.tokens.first?.role == .admin)
        #expect(!c.server.isLoopback)
    }
}

enum BuildPaths {
    static var root: String {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }
}
