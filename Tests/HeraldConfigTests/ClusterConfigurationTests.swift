import HeraldConfig
import HeraldJSON
import Testing

/// `cluster`: the lease length of delivery leases, its default and range, and errors with their paths.
struct ClusterConfigurationTests {
    func parse(_ cluster: String?) throws -> HeraldConfiguration {
        let member = cluster.map { #", "cluster": \#($0)"# } ?? ""
        let text = #"{"dataDirectory": "d", "tenants": []\#(member)}"#
        return try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/etc/herald")
    }

    func issues(_ cluster: String) -> [String] {
        do {
            _ = try parse(cluster)
            return []
        } catch let error as ConfigurationError {
            return error.issues.map { "\($0.path): \($0.message)" }
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func leaseMsDefaultsToTenSecondsAndTakesItsMinimum() throws {
        #expect(try parse(nil).cluster.leaseMs == 10_000)
        #expect(try parse("{}").cluster.leaseMs == 10_000)
        #expect(try parse(#"{"leaseMs": 1000}"#).cluster.leaseMs == 1_000)
        #expect(try parse(#"{"leaseMs": 30000}"#).cluster.leaseMs == 30_000)
    }

    @Test(arguments: [
        (#"{"leaseMs": 999}"#, "cluster.leaseMs: 999 is out of range 1000...3600000"),
        (#"{"leaseMs": 0}"#, "cluster.leaseMs: 0 is out of range 1000...3600000"),
        (#"{"leaseMs": "10s"}"#, "cluster.leaseMs: expected an integer, found a string"),
        (#"{"leasems": 5000}"#, "cluster.leasems: unknown key 'leasems' (did you mean 'leaseMs'?)"),
        (#"{"nodeId": "a"}"#, "cluster.nodeId: unknown key 'nodeId'"),
        (#"[]"#, "cluster: expected an object"),
    ])
    func namesThePathOfEveryError(cluster: String, expected: String) {
        let found = issues(cluster)
        #expect(found.count == 1, "\(found)")
        #expect(found.contains { $0.hasPrefix(expected) }, "expected '\(expected)' in \(found)")
    }
}
