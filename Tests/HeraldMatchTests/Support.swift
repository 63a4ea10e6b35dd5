import Foundation
import HeraldJSON
import HeraldMatch
import HeraldMatchRules
import HeraldModel
import HeraldSampleData

/// The repository root (this file is Tests/HeraldMatchTests/Support.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

let individualURI = "configuration/entityTypes/Individual"

/// The demo tenant (examples/demo/herald.json) and the demo match rules (docs/matching.md).
enum Demo {
    static let configuration: JSONValue = {
        let url = repositoryRoot.appendingPathComponent("examples/demo/herald.json")
        let data = try! Data(contentsOf: url)
        return try! JSONParser.parse([UInt8](data))
    }()

    static let tenant: JSONValue = configuration["tenants"]!.arrayValue![0]

    static let schema: TenantSchema = {
        let types = tenant["entityTypes"]!.arrayValue!.map { t in
            EntityTypeDefinition(
                uri: t["uri"]!.stringValue!, label: t["label"]?.stringValue,
                attributes: attributes(t["attributes"], parent: t["uri"]!.stringValue!))
        }
        let sources = (tenant["sources"]?.arrayValue ?? []).map { SourceDefinition(uri: $0["uri"]!.stringValue!) }
        return TenantSchema(tenant: "demo", entityTypes: types, sources: sources)
    }()

    static var individual: EntityTypeDefinition { schema.entityType(individualURI)! }

    private static func attributes(_ json: JSONValue?, parent: String) -> [AttributeDefinition] {
        (json?.arrayValue ?? []).map { a in
            let name = a["name"]!.stringValue!
            let uri = parent + "/attributes/" + name
            let type = AttributeDataType(rawValue: a["type"]?.stringValue ?? "String")!
            return AttributeDefinition(
                name: name, uri: uri, dataType: type, attributes: attributes(a["attributes"], parent: uri))
        }
    }

    /// The JSON block under "The demo tenant's rules" in docs/matching.md.
    static let rulesJSON: JSONValue = {
        let url = repositoryRoot.appendingPathComponent("docs/matching.md")
        let text = try! String(contentsOf: url, encoding: .utf8)
        let heading = text.range(of: "## The demo tenant's rules")!
        let start = text.range(of: "```json\n", range: heading.upperBound..<text.endIndex)!
        let end = text.range(of: "\n```", range: start.upperBound..<text.endIndex)!
        return try! JSONParser.parse(Array(text[start.upperBound..<end.lowerBound].utf8))
    }()

    /// The demo rules read as the configuration loader reads them.
    static func matching(_ rules: JSONValue = rulesJSON) -> (CompiledMatching, [JSONShapeIssue]) {
        let issues = JSONShapeIssues()
        var r = JSONObjectReader(rules, at: .root, issues: issues)!
        let matching = MatchConfigurationReader.read(&r, entityType: individual, sources: schema.sources)
        r.finish()
        return (CompiledMatching(matching, entityType: individual), issues.issues)
    }
}

/// Generated sample records as entities, with the ground truth.
struct SampleSet: Sendable {
    var entities: [Entity]
    /// Entity id (the record's crosswalk value) → generated person.
    var truth: [String: Int]
    /// Entity id → the error kinds the record carries (realistic profile; empty lists in the classic one).
    var kinds: [String: [SampleErrorKind]] = [:]
    /// A twin's entity id → the person it looks like (realistic profile).
    var twinOf: [String: Int] = [:]

    static let `default` = SampleSet(options: SampleDataGenerator.Options())

    init(options: SampleDataGenerator.Options) {
        let ingestor = EntityIngestor(schema: Demo.schema)
        var ids = IDGenerator(seed: 1)
        var entities: [Entity] = []
        var truth: [String: Int] = [:]
        var kinds: [String: [SampleErrorKind]] = [:]
        var twinOf: [String: Int] = [:]
        var now: Int64 = 1_700_000_000_000
        SampleDataGenerator(options: options).generate { record in
            now += 1000
            let json = try! JSONParser.parse(record.json)
            let input = try! EntityInput(json: json, schema: Demo.schema, at: .root)
            let outcome = try! ingestor.apply(
                input, to: nil, newEntityId: record.crosswalkValue, now: now, user: "sample", ids: &ids, at: .root)
            entities.append(outcome.entity)
            truth[record.crosswalkValue] = record.personId
            kinds[record.crosswalkValue] = record.errors
            if let original = record.twinOf { twinOf[record.crosswalkValue] = original }
        }
        self.entities = entities
        self.truth = truth
        self.kinds = kinds
        self.twinOf = twinOf
    }
}

/// The store's match loop on a batch: token lookup → candidates → evaluate → automatic merges joined
/// transitively (union-find); suspect pairs recorded.
struct ClusterRun {
    var automaticClusters: [[String]] = []
    /// Pairs for which a suspect group holds and no negative one does.
    var suspectPairs: [(String, String)] = []
    /// Suspect pairs left for review: not in the same automatic cluster.
    var reviewPairs: [(String, String)] = []
    var comparisons = 0
    var tokenCounts: [Int] = []
    var skippedTokens = 0

    /// - Parameter maxCoarseTokenFrequency: the store's `limits.maxEntitiesPerCoarseToken` (nil: coarse
    ///   tokens have the same cap as the others). A batch sees every bucket at its final size, so this
    ///   skips more than the store does, which uses a token until it passes the cap.
    init(_ entities: [Entity], engine: MatchEngine, maxTokenFrequency: Int = 100, maxCoarseTokenFrequency: Int? = nil) {
        let profiles = entities.map { engine.profile($0) }
        var index: [String: [Int]] = [:]
        for (i, p) in profiles.enumerated() {
            let tokens = engine.tokens(for: p)
            tokenCounts.append(tokens.count)
            for t in tokens { index[t, default: []].append(i) }
        }
        var parent = Array(entities.indices)
        func find(_ x: Int) -> Int {
            var x = x
            while parent[x] != x {
                parent[x] = parent[parent[x]]
                x = parent[x]
            }
            return x
        }
        var compared = Set<Int>()
        let coarse = maxCoarseTokenFrequency == nil ? [] : MatchEngine.coarseTokens(in: Set(index.keys))
        for (token, members) in index.sorted(by: { $0.key < $1.key }) {
            let cap = coarse.contains(token) ? maxCoarseTokenFrequency ?? maxTokenFrequency : maxTokenFrequency
            if members.count > cap {
                skippedTokens += 1
                _ = token
                continue
            }
            for (k, i) in members.enumerated() {
                for j in members[(k + 1)...] where compared.insert(i * entities.count + j).inserted {
                    comparisons += 1
                    let verdict = engine.evaluate(profiles[i], profiles[j])
                    if verdict.merges {
                        let (ri, rj) = (find(i), find(j))
                        if ri != rj { parent[ri] = rj }
                    }
                    if !verdict.negative && !verdict.suspect.isEmpty {
                        suspectPairs.append((entities[i].id, entities[j].id))
                    }
                }
            }
        }
        var clusters: [Int: [String]] = [:]
        for i in entities.indices { clusters[find(i), default: []].append(entities[i].id) }
        automaticClusters = Array(clusters.values)
        var clusterOf: [String: Int] = [:]
        for i in entities.indices { clusterOf[entities[i].id] = find(i) }
        reviewPairs = suspectPairs.filter { clusterOf[$0.0] != clusterOf[$0.1] }
    }
}

// MARK: - Building entities by hand

/// A crosswalk spec for `makeEntity`.
struct Source {
    var id: String
    var type: String = "configuration/sources/CRM"
    var created: Int64 = 1
    var updated: Int64 = 1
}

/// An Individual with simple attributes (`name: [values]`) and nested ones (`Address: [[Sub: value]]`),
/// every value contributed by the first crosswalk unless `contributions` says otherwise.
func makeEntity(
    _ id: String, _ simple: KeyValuePairs<String, [String]> = [:],
    nested: KeyValuePairs<String, [[String: String]]> = [:], sources: [Source] = [Source(id: "c1")]
) -> Entity {
    var e = Entity(id: id, type: individualURI, createdBy: "t", createdTime: 0)
    e.crosswalks = sources.map {
        Crosswalk(id: $0.id, type: $0.type, value: id + "-" + $0.id, createDate: $0.created, updateDate: $0.updated)
    }
    var n = 0
    func nextId() -> String {
        n += 1
        return "v\(n)"
    }
    for (name, values) in simple {
        e.attributes.append(
            AttributeEntry(
                name: name,
                values: values.map { AttributeValue(id: nextId(), content: .simple($0), sources: [sources[0].id]) }))
    }
    for (name, values) in nested {
        e.attributes.append(
            AttributeEntry(
                name: name,
                values: values.map { subs in
                    AttributeValue(
                        id: nextId(),
                        content: .nested(
                            subs.sorted { $0.key < $1.key }.map { k, v in
                                AttributeEntry(name: k, values: [AttributeValue(id: nextId(), content: .simple(v))])
                            }), sources: [sources[0].id])
                }))
    }
    return e
}

func ref(_ name: String) -> AttributeReference {
    let parts = name.split(separator: ".").map(String.init)
    return AttributeReference(attribute: parts[0], subAttribute: parts.count > 1 ? parts[1] : nil)
}

/// An engine over the demo Individual type with one automatic group holding `rule`.
func engine(_ rule: MatchRule, threshold: Double = 0.9, type: MatchGroupType = .automatic) -> MatchEngine {
    MatchEngine(
        entityType: Demo.individual,
        groups: [MatchGroup(uri: individualURI + "/matchGroups/G", type: type, rule: rule, fuzzyThreshold: threshold)])
}

func holds(_ rule: MatchRule, _ a: Entity, _ b: Entity, threshold: Double = 0.9) -> Bool {
    let e = engine(rule, threshold: threshold)
    let forward = !e.evaluate(a, b).automatic.isEmpty
    let backward = !e.evaluate(b, a).automatic.isEmpty
    precondition(forward == backward, "evaluate is not symmetric for \(rule)")
    return forward
}

/// Runs a long, CPU-bound test body on a thread of its own instead of a thread of Swift's shared pool: a full run
/// shares that pool (two threads on the CI machine) with suites that time their work on it, and several
/// clustering runs of tens of seconds held both threads (AsyncSinkPluginTests then missed its 3 s waits).
func offSharedPool(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}
