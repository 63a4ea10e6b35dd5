import HeraldConfig
import HeraldJSON
import HeraldModel
import HeraldSetup
import Testing

/// Object filters are kept as text by the reader and compiled once, with the JSON path of each problem.
struct CompiledConfigurationTests {
    static func configuration(_ destinations: String) throws -> HeraldConfiguration {
        let text = """
            {"dataDirectory": "d", "tenants": [
              {"id": "a", "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "FirstName"}]}]},
              {"id": "b", "entityTypes": [{"uri": "configuration/entityTypes/I", "attributes": [{"name": "FirstName"}]}],
               "streamingConfig": {"messaging": {"providers": {"q": {"plugin": "test"}}, "destinations": \(destinations)}}}]}
            """
        return try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/")
    }

    @Test func theReaderKeepsFiltersAsTextAndTheCompilerHandsOutOneParsedFilterPerDestination() throws {
        let c = try Self.configuration(
            #"[{"provider": "q", "name": "x", "objectFilter": "equals(attributes.FirstName, 'Ann')"}, {"provider": "q", "name": "y"}]"#)
        #expect(c.tenants[1].streaming.destinations[0].objectFilter == "equals(attributes.FirstName, 'Ann')")
        let compiled = try CompiledConfiguration(c, file: "f.json")
        #expect(compiled.filters.count == 1)
        #expect(compiled.filters[DestinationKey(tenant: "b", destination: "q/x")] != nil)
        #expect(compiled.filters[DestinationKey(tenant: "b", destination: "q/y")] == nil)
    }

    @Test func everyFilterProblemIsRefusedWithItsPathAndPosition() throws {
        let c = try Self.configuration(
            #"[{"provider": "q", "name": "x", "objectFilter": "equals(attributes.LastName, 'Ann')"}, {"provider": "q", "name": "y", "objectFilter": "equals(attributes.FirstName"}]"#)
        do {
            _ = try CompiledConfiguration(c, file: "f.json")
            Issue.record("compiled a configuration with two bad filters")
        } catch {
            #expect(error.file == "f.json")
            let lines = error.issues.map { "\($0.path): \($0.message)" }
            #expect(lines.count == 2, "\(lines)")
            #expect(lines.first?.hasPrefix("tenants[1].streamingConfig.messaging.destinations[0].objectFilter: at position 7:") == true, "\(lines)")
            #expect(lines.first?.contains("LastName") == true, "\(lines)")
            #expect(lines.last?.hasPrefix("tenants[1].streamingConfig.messaging.destinations[1].objectFilter: does not parse") == true, "\(lines)")
        }
    }
}
