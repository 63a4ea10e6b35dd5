import Foundation
import HeraldConfig
import HeraldJSON
import HeraldModel
@testable import HeraldPayload
import HeraldTestSupport
import Testing

/// JSON_ZIP_BASE64 bodies are standard gzip: zlib's inflate and Python's `gzip` and `zlib` read every
/// one, from empty to 1 MiB, through one reused compressor.
struct GzipCompatibilityTests {
    /// A body as its plain JSON and as the destination receives it (base64 of the gzip member).
    struct Sample {
        var name: String
        var plain: [UInt8]
        var zipped: [UInt8]
    }

    /// Rendered messages of every payload type (one of them over 1 MiB), and the compressor's edge inputs
    /// (empty, tiny, 1 MiB that does not compress, 1 MiB that compresses well), each encoded as the renderer does.
    static func samples() throws -> [Sample] {
        var out: [Sample] = []
        let large = PayloadRendererTests.record(entity: PayloadRendererTests.entity(padding: 1 << 20))
        let cases: [(String, PayloadType, EventRecord)] =
            PayloadType.allCases.map { ("rendered \($0.rawValue)", $0, PayloadRendererTests.record()) }
            + [("rendered SNAPSHOT, 1 MiB", .snapshot, large)]
        for (name, payloadType, record) in cases {
            let plain = try render(record, payloadType: payloadType, format: .json)
            let zipped = try render(record, payloadType: payloadType, format: .jsonZipBase64)
            out.append(Sample(name: name, plain: plain, zipped: zipped))
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<(1 << 20)).map { _ -> UInt8 in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        let text = Array(
            String(repeating: #"{"FirstName":[{"value":"Ann","ov":true}],"LastName":"Lee"},"#, count: 20_000).utf8
                .prefix(1 << 20))
        // Every byte value, and text unlike the trained tables' sample.
        let bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let unlike = Array(String(repeating: "Ἀθῆναι 東京都 القاهرة ~|^`<>\t\u{7F} ", count: 400).utf8)
        // One compressor per method for all of them, large before small, as a worker reuses its renderer. A trained
        // compressor learns its codes from the first 1 MiB it gets (noise, or JSON), then compresses the rest with them.
        let edges: [(String, [UInt8])] = [
            ("empty", []), ("one byte", [0x7B]), ("1 MiB of noise", noise), ("1 MiB of JSON", text),
            ("every byte value", bytes), ("text unlike the JSON", unlike), ("empty again", []),
        ]
        let jsonFirst = [edges[3], edges[2]] + edges.filter { $0.1.count < 1 << 20 }
        for (method, inputs) in [(GzipCompressor.Method.trainedTables, edges), (.trainedTables, jsonFirst), (.level(0), edges),
                                 (.level(1), edges), (.level(2), edges), (.level(3), edges)] {
            let gzip = GzipCompressor(method)
            for (name, plain) in inputs {
                let zipped = plain.withUnsafeBytes { raw in gzip.withCompressed(raw) { Base64.encoded($0) } }
                out.append(Sample(name: "\(name) (\(method))", plain: plain, zipped: zipped))
            }
        }
        return out
    }

    /// A `trainedTables` compressor learns its codes from its first 256 KB, then compresses with them: smaller than
    /// igzip's default codes at the same level, within 15% of per-message codes (9% on these small bodies), and the same
    /// bytes for the same inputs.
    @Test func learnedCodesCompressLaterBodiesAlmostAsWellAsPerMessageCodes() throws {
        let names = ["Anna", "John", "Maria", "Wei", "Fatima", "Lukas", "Sofia", "Raj", "Emily", "Carlos", "Olga"]
        var bodies: [[UInt8]] = []
        for i in 0..<900 {
            var e = PayloadRendererTests.entity(first: names[i % names.count] + String(i))
            e.id = "E" + String(i * 7919 % 100_000)
            bodies.append(
                try Self.render(
                    PayloadRendererTests.record(entity: e), payloadType: PayloadType.allCases[i % PayloadType.allCases.count],
                    format: .json))
        }
        let learning = bodies.reduce(0) { $0 + $1.count }
        try #require(learning > GzipCompressor.trainingBytes + 50_000, "\(learning) bytes of bodies")
        let trained = GzipCompressor()
        let again = GzipCompressor()
        var seen = 0
        var learnedAfter = 0
        var first: [[UInt8]] = []
        for body in bodies where !trained.isTrained {
            first.append(trained.compress(body))
            seen += body.count
            learnedAfter += 1
        }
        #expect(trained.isTrained && seen >= GzipCompressor.trainingBytes && seen < GzipCompressor.trainingBytes + 2_000)
        var sizes = ["trained": 0, "level 0": 0, "level 2": 0]
        let level0 = GzipCompressor(.level(0))
        let level2 = GzipCompressor(.level(2))
        for body in bodies[learnedAfter...] {
            let member = trained.compress(body)
            #expect(GzipCompressor.decompress(member) == body)
            sizes["trained", default: 0] += member.count
            sizes["level 0", default: 0] += level0.compress(body).count
            sizes["level 2", default: 0] += level2.compress(body).count
        }
        #expect(sizes["trained"]! < sizes["level 0"]!, "\(sizes)")
        #expect(Double(sizes["trained"]!) <= 1.15 * Double(sizes["level 2"]!), "\(sizes)")
        // The same inputs in the same order: the same bytes, before and after learning.
        for (i, body) in bodies.enumerated() {
            let member = again.compress(body)
            if i < first.count { #expect(member == first[i]) } else if i == first.count { #expect(member == trained.compress(body)) }
        }
    }

    static func render(_ record: EventRecord, payloadType: PayloadType, format: MessageFormat) throws -> [UInt8] {
        var d = DestinationConfiguration(id: "p/q", provider: "p", name: "q")
        d.payloadType = payloadType
        d.format = format
        let renderer = PayloadRenderer(
            tenant: "t1", destination: d, streaming: StreamingConfiguration(), maxMessageBytes: 0)
        let e = try record.event.entity()
        guard case .message(let m) = renderer.render(record, entity: e, delta: record.event.delta(for: e)) else {
            throw PayloadRendererTests.Failure("no message for \(payloadType)")
        }
        return m.body
    }

    @Test func zlibInflatesEveryBody() throws {
        let samples = try GzipCompatibilityTests.samples()
        #expect(samples.contains { $0.plain.count > 1 << 20 }, "a rendered body over 1 MiB")
        for s in samples {
            let member = try #require(Base64.decode(s.zipped), "\(s.name): base64")
            #expect(member.prefix(3) == [0x1F, 0x8B, 0x08], "\(s.name): gzip magic and deflate")
            #expect(GzipCompressor.decompress(member) == s.plain, "\(s.name)")
        }
    }

    @Test func pythonGzipAndZlibReadEveryBody() throws {
        let samples = try GzipCompatibilityTests.samples()
        let dir = TemporaryDirectory(prefix: "herald-gzip")
        for (i, s) in samples.enumerated() {
            try Data(s.zipped).write(to: URL(fileURLWithPath: dir.file("\(i).b64")))
        }
        // Each body through gzip.decompress and through zlib.decompress with a gzip header (wbits 31).
        let script = """
            import base64, gzip, sys, zlib
            d, n = sys.argv[1], int(sys.argv[2])
            for i in range(n):
                member = base64.b64decode(open(f"{d}/{i}.b64", "rb").read(), validate=True)
                open(f"{d}/{i}.gzip", "wb").write(gzip.decompress(member))
                open(f"{d}/{i}.zlib", "wb").write(zlib.decompress(member, 31))
            """
        let r = try runCommand("/usr/bin/env", ["python3", "-c", script, dir.path, String(samples.count)])
        try #require(r.status == 0, "python3: \(r.stderr)")
        for (i, s) in samples.enumerated() {
            #expect(
                try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("\(i).gzip")))) == s.plain,
                "\(s.name): python gzip")
            #expect(
                try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("\(i).zlib")))) == s.plain,
                "\(s.name): python zlib")
        }
    }
}
