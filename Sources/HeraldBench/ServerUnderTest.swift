import Foundation
import HeraldJSON

/// A `herald serve` child process with a temporary data directory.
final class ServerUnderTest {
    let process = Process()
    let directory: String
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts herald with the demo tenant (and `extraConfig` merged into the top level).
    init(herald: String, packageRoot: String, synchronous: String = "FULL", extraConfig: String = "") throws {
        directory = NSTemporaryDirectory() + "herald-bench-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let demo = try JSONParser.parse(Array(FileManager.default.contents(atPath: packageRoot + "/examples/demo/herald.json")!))
        let tenants = demo["tenants"]!.serializedString()
        let config = """
            {"server": {"host": "127.0.0.1", "port": 0, "maxRequestBytes": 67108864},
             "dataDirectory": "\(directory)/data", "store": {"synchronous": "\(synchronous)"},
             \(extraConfig)
             "tenants": \(tenants)}
            """
        try config.write(toFile: directory + "/herald.json", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: herald)
        process.arguments = ["serve", "--config", directory + "/herald.json", "--log-level", "warning"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchError("herald serve exited before listening") }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let r = text.range(of: "127.0.0.1:"), let p = Int(text[r.upperBound...].prefix { $0.isNumber }) else {
            throw BenchError("unexpected output from herald serve: \(text)")
        }
        port = p
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
