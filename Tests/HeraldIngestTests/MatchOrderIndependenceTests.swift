import Foundation
import HeraldConfig
import HeraldIngest
import HeraldJSON
import HeraldMatch
import HeraldModel
import HeraldSQLite
import HeraldSampleData
import HeraldTestSupport
import Logging
import Testing

/// Matching must not depend on the order records arrive in (issue 21): the same records, posted through the
/// ingest stage into a fresh SQLite store in five seeded random orders, must end in the same merges — the same
/// set of sets of crosswalk values, one set per live entity.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct MatchOrderIndependenceTests {
    /// The repository root (this file is Tests/HeraldIngestTests/MatchOrderIndependenceTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The realistic sample: 600 people, duplicate rate 0.4, seed 1 (955 records).
    static let records = sample(people: 600, duplicateRate: 0.4, seed: 1)

    static func sample(
        people: Int, duplicateRate: Double, seed: UInt64, profile: SampleDataGenerator.ErrorProfile = .realistic
    ) -> [SampleDataGenerator.Record] {
        var options = SampleDataGenerator.Options()
        options.people = people
        options.duplicateRate = duplicateRate
        options.seed = seed
        options.errorProfile = profile
        var records: [SampleDataGenerator.Record] = []
        SampleDataGenerator(options: options).generate { records.append($0) }
        return records
    }

    @Test func demoRules() async throws {
        try await expectOrderIndependence(rules: nil)
    }

    @Test func personRules() async throws {
        let rules = try JSONParser.parse(
            [UInt8](try Data(contentsOf: Self.root.appendingPathComponent("examples/matching/person-rules.json"))))
        try await expectOrderIndependence(rules: rules)
    }

    /// Loads the sample in five orders with the demo tenant's rules, or with `rules` (an object whose members
    /// replace the Individual type's: `matchGroups`, `survivorshipGroups`), and expects the same merges each time.
    func expectOrderIndependence(
        rules: JSONValue?, records: [SampleDataGenerator.Record] = records, orders: Int = 5
    ) async throws {
        let (tenant, matching) = try Self.demoTenant(rules: rules)
        let dir = TemporaryDirectory(prefix: "herald-match-order")
        var results: [Set<Set<String>>] = []
        var orderings: [[Int]] = []
        for seed in 1...orders {
            var order = Array(records.indices)
            var rng = IDGenerator(seed: UInt64(seed))
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                order.swapAt(i, Int(rng.next() % UInt64(i + 1)))
            }
            orderings.append(order)
            results.append(
                try await Self.load(
                    order, records: records, tenant: tenant, matching: matching, directory: dir.file("run\(seed)")))
        }
        let name = rules == nil ? "demo rules" : "examples/matching/person-rules.json"
        let counts = results.map { sets in sets.reduce(0) { $0 + $1.count * ($1.count - 1) / 2 } }
        print("\(name): \(records.count) records; merged pairs per order: \(counts); entities: \(results.map(\.count))")
        for (i, result) in results.enumerated().dropFirst() where result != results[0] {
            print(
                Self.difference(
                    results[0], result, "order 1", "order \(i + 1)", records: records,
                    orders: (orderings[0], orderings[i])))
        }
        for (i, result) in results.enumerated().dropFirst() {
            let same = result == results[0]
            #expect(same, "\(name): order \(i + 1) merged differently from order 1 (printed above)")
        }
        // Every record is in exactly one entity.
        for result in results {
            #expect(result.reduce(0) { $0 + $1.count } == records.count)
        }
    }

    /// The demo tenant (examples/demo/herald.json) without streaming, with `rules` replacing the Individual type's
    /// members, and its compiled match rules.
    static func demoTenant(rules: JSONValue?) throws -> (TenantConfiguration, [String: [String: CompiledMatching]]) {
        let demo = try JSONParser.parse(
            [UInt8](try Data(contentsOf: root.appendingPathComponent("examples/demo/herald.json"))))
        guard case .object(var tenant) = demo["tenants"]!.arrayValue![0] else { throw TestError("demo tenant") }
        tenant.removeAll { $0.key == "streamingConfig" }
        if case .object(let replacements) = rules { IndividualRules.apply(replacements, to: &tenant) }
        let text =
            "{\"dataDirectory\": \"/nonexistent\", \"tenants\": [\(JSONValue.object(tenant).serializedString())]}"
        let configuration = try HeraldConfiguration.parse(bytes: Array(text.utf8), baseDirectory: "/")
        let loaded = configuration.tenants[0]
        var matching: [String: CompiledMatching] = [:]
        for (type, rules) in loaded.matching {
            matching[type] = CompiledMatching(rules, entityType: loaded.schema.entityType(type)!)
        }
        #expect(!matching.isEmpty, "the tenant has match rules")
        return (loaded, [loaded.id: matching])
    }

    /// Posts the records in `order` (batches of 50, one after another) into a new SQLite store and returns the
    /// crosswalk values of each live entity.
    static func load(
        _ order: [Int], records: [SampleDataGenerator.Record], tenant: TenantConfiguration,
        matching: [String: [String: CompiledMatching]], directory: String
    ) async throws -> Set<Set<String>> {
        var logger = Logger(label: "herald.test")
        logger.logLevel = .critical
        let store = try SQLiteStore(directory: directory, synchronous: "NORMAL", logger: logger)
        let ingest = IngestService(store: store, tenants: [tenant], matching: matching)
        for start in stride(from: 0, to: order.count, by: 50) {
            let items = try order[start..<min(start + 50, order.count)].map { try JSONParser.parse(records[$0].json) }
            let results = try await ingest.post(tenant: tenant, items: items, user: "test")
            for result in results {
                if case .failed(let error) = result { Issue.record("ingest failed: \(error)") }
            }
        }
        var sets: Set<Set<String>> = []
        for (id, winner) in try await store.entityMerges(tenant: tenant.id) where winner == nil {
            let entity = try await store.entity(tenant: tenant.id, id: id)!.entity
            sets.insert(Set(entity.crosswalks.map(\.value)))
        }
        await store.close()
        return sets
    }

    /// The entities one load has and the other has not, each record with its person, error kinds and values.
    static func difference(
        _ a: Set<Set<String>>, _ b: Set<Set<String>>, _ nameA: String, _ nameB: String,
        records: [SampleDataGenerator.Record], orders: ([Int], [Int])
    ) -> String {
        let byCrosswalk = Dictionary(records.map { ($0.crosswalkValue, $0) }, uniquingKeysWith: { x, _ in x })
        /// Record id → its position in each order (1-based).
        var positions: [String: (Int, Int)] = [:]
        for (i, r) in orders.0.enumerated() { positions[records[r].crosswalkValue, default: (0, 0)].0 = i + 1 }
        for (i, r) in orders.1.enumerated() { positions[records[r].crosswalkValue, default: (0, 0)].1 = i + 1 }
        func describe(_ set: Set<String>) -> String {
            "  an entity of \(set.count) records:\n"
                + set.sorted().map { id -> String in
                    guard let r = byCrosswalk[id] else { return "    \(id)" }
                    let json = (try? JSONParser.parse(r.json))?["attributes"]
                    func value(_ name: String) -> String {
                        json?[name]?.arrayValue?.first?["value"]?.stringValue ?? "-"
                    }
                    func sub(_ name: String, _ sub: String) -> String {
                        (json?[name]?.arrayValue ?? []).compactMap {
                            $0["value"]?[sub]?.arrayValue?.first?["value"]?.stringValue
                        }
                        .joined(separator: "/")
                    }
                    let twin = r.twinOf.map { " twin of \($0)" } ?? ""
                    let (p, q) = positions[id] ?? (0, 0)
                    return "    \(id) (#\(p) in \(nameA), #\(q) in \(nameB)) person \(r.personId)\(twin) "
                        + "\(r.errors.map(\.rawValue)): \(value("FirstName")) "
                        + "\(value("LastName")), born \(value("BirthDate")), \(value("Email")), postal code "
                        + "\(sub("Address", "PostalCode")), phones \(sub("Phone", "Number")), ids \(sub("Identifiers", "ID"))"
                }.joined(separator: "\n")
        }
        var lines = ["entities of \(nameA) that \(nameB) does not have:"]
        for set in a.subtracting(b).sorted(by: { $0.sorted().first! < $1.sorted().first! }) {
            lines.append(describe(set))
        }
        lines.append("entities of \(nameB) that \(nameA) does not have:")
        for set in b.subtracting(a).sorted(by: { $0.sorted().first! < $1.sorted().first! }) {
            lines.append(describe(set))
        }
        return lines.joined(separator: "\n")
    }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
