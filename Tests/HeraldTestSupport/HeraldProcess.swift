import Foundation
import HeraldHTTPClient
import HeraldJSON

/// Locates binaries built by SwiftPM (`herald`, plugins) for integration tests.
public enum BuildProducts {
    /// The build directory: `HERALD_BIN`'s folder, or the folder of the running test bundle.
    public static var directory: String {
        if let bin = ProcessInfo.processInfo.environment["HERALD_BIN"] {
            return (bin as NSString).deletingLastPathComponent
        }
        var dir = (CommandLine.arguments[0] as NSString).deletingLastPathComponent
        // xctest bundles on Linux are files; on macOS the binary sits inside Contents/MacOS.
        while !dir.isEmpty && dir != "/" && !FileManager.default.fileExists(atPath: dir + "/herald") {
            dir = (dir as NSString).deletingLastPathComponent
        }
        return dir
    }

    public static var herald: String {
        ProcessInfo.processInfo.environment["HERALD_BIN"] ?? directory + "/herald"
    }

    /// The package root (for examples/ and plugins.d/).
    public static var packageRoot: String {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }
}

/// A temporary directory removed on deinit.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(prefix: String = "herald-test") {
        let template = NSTemporaryDirectory() + "\(prefix)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? template
    }

    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Result of running a command to completion.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to completion and captures its output.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> CommandResult
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes before waiting so a chatty child cannot block on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    group.wait()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// A running `herald serve` process on a free port with its own data directory.
public final class HeraldProcess: @unchecked Sendable {
    public let configPath: String
    public let process: Process
    public let port: Int
    /// `http`, or `https` when the configuration has `server.tls`.
    public let scheme: String
    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }
    public let logPath: String

    /// Starts the binary and waits until it prints its listening line.
    /// - Parameter openFileLimit: run it under `ulimit -n` (soft and hard), as on a machine with that limit.
    public init(
        configPath: String, logPath: String, extraArguments: [String] = [], timeout: Double = 30,
        openFileLimit: Int? = nil
    ) throws {
        self.configPath = configPath
        self.logPath = logPath
        let process = Process()
        let arguments = ["serve", "--config", configPath, "--port", "0", "--log-level", "debug"] + extraArguments
        if let openFileLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments =
                ["-c", "ulimit -n \(openFileLimit) && exec \"$0\" \"$@\"", BuildProducts.herald] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: BuildProducts.herald)
            process.arguments = arguments
        }
        let out = Pipe()
        process.standardOutput = out
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = Data()
        var found: (scheme: String, port: Int)?
        let handle = out.fileHandleForReading
        while found == nil && Date() < deadline && process.isRunning {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            let text = String(decoding: buffer, as: UTF8.self)
            // "herald listening on http://127.0.0.1:8080" or "… on https://[::1]:8443"
            if let range = text.range(of: "listening on "),
                let line = text[range.upperBound...].split(
                    separator: "\n", maxSplits: 1, omittingEmptySubsequences: false
                ).first, text[range.upperBound...].contains("\n"),
                let scheme = line.components(separatedBy: "://").first, let colon = line.lastIndex(of: ":"),
                let p = Int(line[line.index(after: colon)...])
            {
                found = (scheme, p)
            }
        }
        guard let found else {
            process.terminate()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw HeraldProcessError(message: "herald serve did not start; log:\n\(log)")
        }
        port = found.port
        scheme = found.scheme
        // Keep draining stdout so the child never blocks on a full pipe.
        DispatchQueue.global().async {
            while !handle.availableData.isEmpty {}
        }
    }

    /// SIGKILL: the process gets no chance to clean up.
    public func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait for a graceful exit; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Files the process has open now (Linux: /proc/PID/fd), e.g. to see how many connections it holds.
    public var openFileCount: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd"))?.count ?? 0
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

public struct HeraldProcessError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Small synchronous helpers over `HTTPClient` that parse JSON answers.
public final class TestClient: @unchecked Sendable {
    let client: HTTPClient
    public let baseURL: String
    public var token: String?

    /// `timeout`: seconds a request may take in all before it fails with an `HTTPTransportError`.
    public init(baseURL: String, token: String? = nil, timeout: Double = 60) {
        self.baseURL = baseURL
        self.token = token
        self.client = HTTPClient(timeout: timeout)
    }

    public func request(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = [])
        throws -> (status: Int, json: JSONValue?, text: String)
    {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        if body != nil { all.append(("Content-Type", "application/json")) }
        // What a browser page on another site cannot send (CrossOriginWriteCheck); tests of that check send raw.
        if !all.contains(where: { $0.0.lowercased() == "x-herald-client" || $0.0.lowercased() == "content-type" }) {
            all.append(("X-Herald-Client", "herald-tests"))
        }
        let response = try client.send(
            method: method, url: baseURL + path, headers: all, body: body.map { Array($0.utf8) })
        let json = try? JSONParser.parse(response.body)
        return (response.status, json, response.bodyText)
    }

    public func get(_ path: String) throws -> (status: Int, json: JSONValue?, text: String) {
        try request("GET", path)
    }

    public func post(_ path: String, _ body: String) throws -> (status: Int, json: JSONValue?, text: String) {
        try request("POST", path, body: body)
    }

    /// All events of a tenant, oldest first.
    public func events(tenant: String, after: Int64 = 0) throws -> [JSONValue] {
        var out: [JSONValue] = []
        var cursor = after
        while true {
            let r = try get("/api/\(tenant)/events?after=\(cursor)&limit=10000")
            guard let events = r.json?["events"]?.arrayValue else {
                throw HeraldProcessError(message: "bad events answer: \(r.status) \(r.text)")
            }
            if events.isEmpty { return out }
            out.append(contentsOf: events)
            cursor = events.last!["seq"]!.int64Value!
        }
    }
}
