import Foundation
import HeraldConfig
import HeraldFilter
import HeraldJSON
import HeraldModel
import HeraldPayload

/// Scenario 2: filter evaluation and payload rendering, in process, on sample people.
struct FilterRenderScenario {
    var entities: Int
    var seconds: Double
    var runs: Int

    /// Sample people as entities and CRUD-queue records (through the real ingest rules).
    static func sampleRecords(_ count: Int, packageRoot: String) throws -> [EventRecord] {
        let schema = try demoSchema(packageRoot: packageRoot)
        let ingestor = EntityIngestor(schema: schema)
        var ids = IDGenerator(seed: 1)
        var out: [EventRecord] = []
        for (i, line) in IngestScenario.people(count, seed: 7).enumerated() {
            let input = try EntityInput(json: try JSONParser.parse(line), schema: schema, at: JSONPath.root + 0)
            let outcome = try ingestor.apply(
                input, to: nil, newEntityId: ids.entityId(), now: 1_795_000_000_000 + Int64(i), user: "bench", ids: &ids,
                at: JSONPath.root + 0)
            let e = outcome.entity
            out.append(
                EventRecord(
                    seq: Int64(i + 1), tenant: "demo",
                    event: NewEvent(
                        type: .entityCreated, objectURI: e.uri, objectVersion: 1, time: e.updatedTime, snapshot: e.storedBytes(),
                        delta: [])))
        }
        return out
    }

    static func demoSchema(packageRoot: String) throws -> TenantSchema {
        let config = try HeraldConfiguration.load(path: packageRoot + "/examples/demo/herald.json")
        guard let tenant = config.tenants.first else { throw BenchError("demo tenant missing") }
        return tenant.schema
    }

    static let filters: [(String, String)] = [
        ("simple equals", "equals(attributes.LastName, 'smith')"),
        ("and/or of five", "(equals(attributes.LastName, 'smith') or startsWith(attributes.FirstName, 'jo')) and exists(attributes.Email) and not equals(attributes.Gender, 'Unknown') and range(attributes.BirthDate, '1950-01-01', '2000-12-31')"),
        ("regexp", "regexp(attributes.Email, '[a-z]+\\.[a-z]+[0-9]*@gmail\\.com')"),
    ]

    func run(packageRoot: String, writer: ResultWriter) throws {
        let records = try FilterRenderScenario.sampleRecords(entities, packageRoot: packageRoot)
        let decoded = try records.map { try $0.event.entity() }
        // HERALD_BENCH_RENDER=SNAPSHOT/JSON (payload/format) renders only that pair: for profiling one path.
        let only = ProcessInfo.processInfo.environment["HERALD_BENCH_RENDER"]
        // Filters: evaluations per second over decoded entities.
        for (label, expression) in FilterRenderScenario.filters where only == nil {
            let filter = try ObjectFilter.parse(expression)
            var rates: [Double] = []
            var matched = 0
            for _ in 0..<runs {
                var n = 0
                matched = decoded.filter { filter.matches(FilterSubject(entity: $0)) }.count
                let start = monotonicSeconds()
                var sink = 0
                while monotonicSeconds() - start < seconds {
                    for e in decoded where filter.matches(FilterSubject(entity: e)) { sink &+= 1 }
                    n += decoded.count
                }
                if sink < 0 { print(sink) }
                rates.append(Double(n) / (monotonicSeconds() - start))
            }
            let s = Summary(values: rates)
            writer.emit(
                scenario: "filter evaluation: \(label)",
                parameters: ["expression": expression, "entities": String(entities), "values per entity": "~35", "runs": String(runs)],
                figures: [
                    ("evaluations/s (median)", s.median, "/s"), ("evaluations/s (min)", s.min, "/s"),
                    ("evaluations/s (max)", s.max, "/s"), ("matched share", Double(matched) / Double(max(1, entities)), ""),
                ])
        }
        // A destination with an object filter, SNAPSHOT as JSON: before, every event was decoded whole, tested and
        // rendered from the entity; now the filter's decode scope is decoded, and what passes is rendered from the
        // stored bytes.
        var destination = DestinationConfiguration(id: "bench", provider: "p", name: "q")
        destination.payloadType = .snapshot
        let renderer = PayloadRenderer(tenant: "demo", destination: destination, streaming: StreamingConfiguration(), maxMessageBytes: 0)
        for (label, expression) in FilterRenderScenario.filters.prefix(2) where only == nil {
            let filter = try ObjectFilter.parse(expression)
            let scope = filter.decodeScope
            let whole = try measureRenders(records) { r in
                let e = try r.event.entity()
                let delta = r.event.delta(for: e)
                guard filter.matches(entity: e, delta: delta, ovOnly: false) else { return 0 }
                guard case .message(let m) = renderer.render(r, entity: e, delta: delta) else { return 0 }
                return m.body.count
            }
            emitRenders(whole, "filter \(label), then SNAPSHOT as JSON (whole decode + filter + render, per event)", writer)
            let scoped = try measureRenders(records) { r in
                let e = try Entity(storedBytes: r.event.snapshot, scope: scope)
                guard filter.matches(entity: e, delta: r.event.delta(for: e), ovOnly: false) else { return 0 }
                guard case .message(let m) = renderer.renderFromStored(r) else {
                    throw BenchError("render from the stored bytes declined a sample snapshot")
                }
                return m.body.count
            }
            emitRenders(
                scoped, "filter \(label), then SNAPSHOT as JSON (decode of the filter's scope + filter + render from the stored bytes)",
                writer)
        }
        // Rendering: decode + render (+ compress) per payload type and format, one renderer (one core).
        for payload in PayloadType.allCases {
            for format in MessageFormat.allCases where only == nil || only == "\(payload.rawValue)/\(format.rawValue)" {
                var destination = DestinationConfiguration(id: "bench", provider: "p", name: "q")
                destination.payloadType = payload
                destination.format = format
                let renderer = PayloadRenderer(
                    tenant: "demo", destination: destination, streaming: StreamingConfiguration(), maxMessageBytes: 0)
                let decoded = try measureRenders(records) { r in
                    let e = try r.event.entity()
                    guard case .message(let m) = renderer.render(r, entity: e, delta: r.event.delta(for: e)) else { return 0 }
                    return m.body.count
                }
                emitRenders(decoded, "render \(payload.rawValue) as \(format.rawValue) (decode + render per event, one core)", writer)
                // What delivery does when no object filter needs the decoded entity (the samples are creations: DELTAS
                // and SNAPSHOT_WITH_DELTA derive their delta from the stored bytes). The same bodies first.
                for r in records.prefix(500) {
                    let e = try r.event.entity()
                    guard case .message(let a) = renderer.render(r, entity: e, delta: r.event.delta(for: e)),
                        case .message(let b) = renderer.renderFromStored(r), a.body == b.body
                    else {
                        throw BenchError("\(payload.rawValue): the body rendered from the stored bytes differs (seq \(r.seq))")
                    }
                }
                let stored = try measureRenders(records) { r in
                    guard case .message(let m) = renderer.renderFromStored(r) else {
                        throw BenchError("render from the stored bytes declined a sample snapshot")
                    }
                    return m.body.count
                }
                emitRenders(stored, "render \(payload.rawValue) as \(format.rawValue) (from the stored bytes per event, one core)", writer)
            }
        }
    }

    /// Messages/s of `render` (which returns a message's body size) over `records`, `runs` times for `seconds`
    /// each; and the average body size.
    private func measureRenders(_ records: [EventRecord], _ render: (EventRecord) throws -> Int) throws -> (Summary, Int) {
        var rates: [Double] = []
        var bytes = 0
        for _ in 0..<runs {
            var n = 0
            bytes = 0
            let start = monotonicSeconds()
            while monotonicSeconds() - start < seconds {
                for r in records { bytes += try render(r) }
                n += records.count
            }
            rates.append(Double(n) / (monotonicSeconds() - start))
            bytes /= max(1, n)
        }
        return (Summary(values: rates), bytes)
    }

    private func emitRenders(_ measured: (Summary, Int), _ scenario: String, _ writer: ResultWriter) {
        let (s, bytes) = measured
        writer.emit(
            scenario: scenario,
            parameters: ["entities": String(entities), "bodyBytes": String(bytes), "runs": String(runs)],
            figures: [("messages/s (median)", s.median, "/s"), ("messages/s (min)", s.min, "/s"), ("messages/s (max)", s.max, "/s")])
    }
}
