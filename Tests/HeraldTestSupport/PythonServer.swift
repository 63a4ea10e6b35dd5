import Foundation
import HeraldHTTPClient
import HeraldJSON

/// A setup problem (a missing tool or package): the test fails with this text.
public struct SetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A Python script of the tests, run as its own process; it prints `READY <port>` when listening.
/// Stopped (SIGTERM, by its pid) when this object goes away.
public final class PythonServer: @unchecked Sendable {
    public let process = Process()
    public let port: Int
    public let logPath: String
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// - Parameter requirement: what the script needs, named in the error when it does not start.
    public init(
        script: String, arguments: [String], in dir: TemporaryDirectory, name: String, requirement: String = "python3"
    ) throws {
        let scriptPath = dir.file("\(name).py")
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        logPath = dir.file("\(name).log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptPath] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        let handle = out.fileHandleForReading
        let found = LineWaiter(handle: handle, prefix: "READY ").wait(seconds: 20)
        guard let found, let p = Int(found) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw SetupError("\(name).py did not start (\(requirement) is needed); its output:\n\(log)")
        }
        port = p
    }

    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// GET a test-only JSON path.
    public func get(_ path: String) throws -> JSONValue {
        let r = try HTTPClient(timeout: 10).send(method: "GET", url: baseURL + path)
        return try JSONParser.parse(r.body)
    }

    deinit {
        // SIGKILL: children spawned from the test's worker threads inherit a signal mask that blocks SIGTERM.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Reads a child's stdout until a line starting with `prefix`; returns the rest of that line.
public final class LineWaiter: @unchecked Sendable {
    public let handle: FileHandle
    public let prefix: String
    private let done = DispatchSemaphore(value: 0)
    private var result: String?

    public init(handle: FileHandle, prefix: String) {
        self.handle = handle
        self.prefix = prefix
    }

    public func wait(seconds: Double) -> String? {
        DispatchQueue.global().async { [self] in
            var buffer = ""
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer += String(decoding: chunk, as: UTF8.self)
                if let line = buffer.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                    result = String(line.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
                    break
                }
            }
            done.signal()
            // Keep draining so the child never blocks on a full pipe.
            while !handle.availableData.isEmpty {}
        }
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return result
    }
}

/// A built shared library (a plugin) next to the test binaries, or a clear error naming the build command.
public func builtLibrary(_ product: String) throws -> String {
    let path = BuildProducts.directory + "/lib\(product).so"
    guard FileManager.default.fileExists(atPath: path) else {
        throw SetupError("\(path) is missing: build it first (swift build --product \(product))")
    }
    return path
}
