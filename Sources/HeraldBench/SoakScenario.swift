import Foundation
import HeraldSampleData

/// Memory under sustained load: many clients post sample people (the demo tenant's match rules on,
/// ~10% duplicates) until `entities` are in, while a monitor thread reads the server's RSS every
/// `sampleSeconds`. Prints the RSS at every tenth of the entities, the peak (VmHWM), the RSS at the end and
/// after the server sat idle for a few seconds, and the throughput. RSS must level off (bounded by
/// the configured caches) rather than grow with the number of entities stored.
struct SoakScenario {
    var herald: String
    var packageRoot: String
    var entities: Int
    var connections: Int
    var synchronous: String
    /// Extra `store` keys for the server under test (JSON members, e.g. `"readerCount": 2`).
    var storeOptions: String = ""
    /// Seconds the server sits idle after the load before the last RSS reading.
    var idleSeconds: Double = 15
    /// Seconds between RSS readings.
    var sampleSeconds: Double = 1

    func run(writer: ResultWriter) throws {
        say("  generating \(entities) entities (10% duplicates)…")
        let batch = 100
        var options = SampleDataGenerator.Options()
        // The generator emits ~1.15 records per person at this rate; the first `entities` are posted.
        options.people = entities
        options.duplicateRate = 0.1
        options.seed = 17
        var bodies: [[UInt8]] = []
        bodies.reserveCapacity(entities / batch + 1)
        var body: [UInt8] = []
        var inBody = 0
        var generated = 0
        func flush() {
            guard inBody > 0 else { return }
            body.append(UInt8(ascii: "]"))
            bodies.append(body)
            body = []
            inBody = 0
        }
        SampleDataGenerator(options: options).generate { record in
            guard generated < entities else { return }
            body.append(UInt8(ascii: inBody == 0 ? "[" : ","))
            body.append(contentsOf: record.json)
            inBody += 1
            generated += 1
            if inBody == batch { flush() }
        }
        flush()
        guard generated == entities else { throw BenchError("generated \(generated) entities, not \(entities)") }

        let server = try ServerUnderTest(
            herald: herald, packageRoot: packageRoot, synchronous: synchronous, matching: true,
            storeOptions: storeOptions)
        defer { server.stop() }
        let rssAtStart = ProcessMemory.read(pid: server.pid).current
        say("  server RSS at start: \(Int(rssAtStart)) MiB; posting with \(connections) connections…")

        // The monitor reads VmRSS every second; the posting threads count finished bodies.
        final class Monitor: @unchecked Sendable {
            let lock = NSLock()
            var stop = false
            var posted = 0
            var samples: [(seconds: Double, posted: Int, rss: Double)] = []
        }
        let monitor = Monitor()
        let pid = server.pid
        let start = monotonicSeconds()
        let finished = DispatchSemaphore(value: 0)
        let total = entities
        let interval = sampleSeconds
        Thread {
            var nextReport = total / 10
            while true {
                let (stop, posted) = monitor.lock.withLock { (monitor.stop, monitor.posted) }
                let rss = ProcessMemory.read(pid: pid).current
                let t = monotonicSeconds() - start
                monitor.lock.withLock { monitor.samples.append((t, posted, rss)) }
                if posted >= nextReport || stop {
                    say(
                        "  \(String(posted).leftPadded(9)) entities  \(String(format: "%6.0f", t)) s  "
                            + "RSS \(Int(rss)) MiB")
                    while nextReport <= posted { nextReport += total / 10 }
                }
                if stop { break }
                usleep(UInt32(interval * 1_000_000))
            }
            finished.signal()
        }.start()
        let ingest = IngestScenario(
            herald: herald, packageRoot: packageRoot, entities: entities, batch: batch, connections: connections,
            runs: 1, synchronous: synchronous)
        let latencies = try ingest.post(bodies, to: server.baseURL, connections: connections) { entitiesDone in
            monitor.lock.withLock { monitor.posted += entitiesDone }
        }
        let elapsed = monotonicSeconds() - start
        monitor.lock.withLock { monitor.stop = true }
        finished.wait()
        let atEnd = ProcessMemory.read(pid: pid)
        usleep(UInt32(idleSeconds * 1_000_000))
        let idle = ProcessMemory.read(pid: pid).current
        let samples = monitor.samples
        let maxSampled = samples.map(\.rss).max() ?? 0
        // Growth over the second half: a bounded server levels off, an unbounded one keeps climbing.
        let half = samples.filter { $0.posted >= entities / 2 }
        let secondHalfGrowth = (half.last?.rss ?? 0) - (half.first?.rss ?? 0)

        var figures: [(String, Double, String)] = [
            ("entities/s", Double(entities) / elapsed, "entities/s"),
            ("request p50", latencies.percentile(50), "ms"),
            ("request p99", latencies.percentile(99), "ms"),
            ("RSS at start", rssAtStart, "MiB"),
        ]
        for tenth in 1...10 {
            let mark = entities * tenth / 10
            if let s = samples.first(where: { $0.posted >= mark }) {
                figures.append(("RSS at \(mark) entities", s.rss, "MiB"))
            }
        }
        figures += [
            ("RSS at end of load", atEnd.current, "MiB"),
            ("RSS after \(Int(idleSeconds)) s idle", idle, "MiB"),
            ("max RSS sampled", maxSampled, "MiB"),
            ("RSS growth, second half", secondHalfGrowth, "MiB"),
            ("server peak RSS (VmHWM)", atEnd.peak, "MiB"),
        ]
        writer.emit(
            scenario: "soak (memory under sustained ingest, with the demo match rules)",
            parameters: [
                "entities": String(entities), "batch": String(batch), "connections": String(connections),
                "duplicateRate": "0.1", "synchronous": synchronous,
                "store": storeOptions.isEmpty ? "defaults" : "{\(storeOptions)}",
            ],
            figures: figures)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
