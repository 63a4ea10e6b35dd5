import Foundation
import HeraldJSON
import HeraldTestSupport

struct MotoError: Error, CustomStringConvertible {
    var description: String
}

/// A moto server on 127.0.0.1 with signature checking on, started for one test and stopped by PID.
///
/// Started with INITIAL_NO_AUTH_ACTION_COUNT=4: those requests create an admin user with an
/// allow-all policy and an access key (`admin`); from then on every request must be signed by a
/// known key (wrong secret → 403 SignatureDoesNotMatch, unknown key → 403 InvalidClientTokenId).
final class MotoServer: @unchecked Sendable {
    static let accountId = "123456789012"
    static let region = "us-east-1"

    let port: Int
    let process: Process
    let directory = TemporaryDirectory(prefix: "herald-moto")
    private(set) var admin = (accessKeyId: "", secretAccessKey: "")
    private(set) var allowAllPolicyArn = ""

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var script: String { directory.file("moto_helper.py") }
    var log: String { (try? String(contentsOfFile: directory.file("moto.log"), encoding: .utf8)) ?? "" }

    func queueURL(_ name: String) -> String { "\(endpoint)/\(MotoServer.accountId)/\(name)" }

    init() throws {
        guard let moto = MotoServer.findExecutable("moto_server") else {
            throw MotoError(
                description: "moto_server is not on PATH: install it with pip install 'moto[server]' (and boto3)")
        }
        port = try MotoServer.freePort()
        FileManager.default.createFile(atPath: directory.file("moto_helper.py"), contents: Data(MotoScript.source.utf8))
        let logPath = directory.file("moto.log")
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: moto)
        p.arguments = ["-H", "127.0.0.1", "-p", String(port)]
        p.environment = ProcessInfo.processInfo.environment.merging(
            ["INITIAL_NO_AUTH_ACTION_COUNT": String(MotoScript.unauthenticatedRequests)]) { $1 }
        p.standardOutput = FileHandle(forWritingAtPath: logPath)
        p.standardError = FileHandle(forWritingAtPath: logPath)
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(30)
        while !MotoServer.canConnect(port: port) {
            guard p.isRunning, Date() < deadline else {
                stop()
                throw MotoError(description: "moto_server did not start on port \(port); its log:\n\(log)")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        let key = try python("bootstrap", [])
        admin = (key["accessKeyId"]?.stringValue ?? "", key["secretAccessKey"]?.stringValue ?? "")
        allowAllPolicyArn = key["policyArn"]?.stringValue ?? ""
    }

    /// Runs the helper script (signed with the admin key unless bootstrapping); returns its JSON output.
    @discardableResult
    func python(_ command: String, _ arguments: [String]) throws -> JSONValue {
        let credentials = command == "bootstrap" ? [] : [admin.accessKeyId, admin.secretAccessKey]
        let result = try runCommand(
            MotoServer.findExecutable("python3") ?? "/usr/bin/python3",
            [script, command, endpoint] + credentials + arguments)
        guard result.status == 0 else {
            if result.stderr.contains("No module named 'boto3'") {
                throw MotoError(description: "boto3 is missing: pip install boto3")
            }
            throw MotoError(
                description: "moto helper '\(command)' failed (\(result.status)): \(result.stderr)\n\(result.stdout)")
        }
        do {
            return try JSONParser.parse(result.stdout)
        } catch {
            throw MotoError(description: "moto helper '\(command)' printed no JSON: \(result.stdout)")
        }
    }

    func createQueues(_ names: [String]) throws {
        try python("create-queues", names)
    }

    /// Receives (and deletes) every message of a queue.
    func receiveAll(_ queue: String) throws -> [JSONValue] {
        try python("receive", [queueURL(queue)]).arrayValue ?? []
    }

    /// A new IAM user without any policy, and its key.
    func createUser(_ name: String) throws -> (accessKeyId: String, secretAccessKey: String) {
        let key = try python("create-user", [name])
        return (key["accessKeyId"]?.stringValue ?? "", key["secretAccessKey"]?.stringValue ?? "")
    }

    /// Another access key of an existing user (IAM allows two per user).
    func createKey(user: String) throws -> (accessKeyId: String, secretAccessKey: String) {
        let key = try python("create-key", [user])
        return (key["accessKeyId"]?.stringValue ?? "", key["secretAccessKey"]?.stringValue ?? "")
    }

    /// Deletes an access key: requests signed with it then get 403 InvalidClientTokenId, as with an
    /// expired or revoked key (moto does not expire session tokens).
    func deleteKey(user: String, accessKeyId: String) throws {
        try python("delete-key", [user, accessKeyId])
    }

    func allowEverything(user: String) throws {
        try python("attach-policy", [user, allowAllPolicyArn])
    }

    /// SIGKILL by PID, then wait. (Not SIGTERM: a child started from a test thread inherits that
    /// thread's blocked-signal mask, and moto would never see the SIGTERM.)
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A port the kernel just gave out on 127.0.0.1 (closed again before moto binds it).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MotoError(description: "socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw MotoError(description: "bind() failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }
}
