import Foundation
import HeraldJSON
@testable import HeraldSQSSinkCore
import HeraldSinkSDK
import HeraldTestSupport
import Testing

/// The client on its own: real requests to moto (signature checking on), and transport failures.
@Suite(.timeLimit(.minutes(2)))
struct SQSClientTests {
    func client(
        _ moto: MotoServer, key: String? = nil, secret: String? = nil, token: String? = nil, timeoutMs: Int = 10_000
    )
        -> SQSClient
    {
        let credentials = AWSCredentials(
            accessKeyId: key ?? moto.admin.accessKeyId, secretAccessKey: secret ?? moto.admin.secretAccessKey,
            sessionToken: token)
        return SQSClient(
            signer: SigV4Signer(credentials: credentials, region: MotoServer.region, service: "sqs"),
            timeoutMs: timeoutMs,
            verifyTLS: true)
    }

    func send(
        _ client: SQSClient, _ moto: MotoServer, queue: String, _ messages: [SQSOutgoingMessage], fifo: Bool = false
    )
        -> (requests: Int, results: [SinkResult], health: [SQSHealthSignal])
    {
        let plan = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: fifo).plan(messages)
        var results = [SinkResult](repeating: SinkResult(.retry, error: "unsent"), count: messages.count)
        var health: [SQSHealthSignal] = []
        for r in plan.requests {
            let o = client.send(r, queueURL: moto.queueURL(queue), endpoint: ParsedURL(moto.endpoint)!)
            for (e, result) in zip(r, o.results) { results[e.index] = result }
            health.append(o.health)
        }
        return (plan.requests.count, results, health)
    }

    static let headers = [
        SQSAttribute("tenantId", "t1"), SQSAttribute("eventType", "ENTITY_CHANGED"),
        SQSAttribute("sourceObjectUri", "entities/x"),
        SQSAttribute("objectVersion", "3"), SQSAttribute("updatedTime", "1700000000000"),
        SQSAttribute("messageId", "9-cafe"),
    ]

    @Test func splitRequestsAreAcceptedAndEveryMessageArrivesWithItsAttributes() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["bulk", "bulk.fifo"])
        let c = client(moto)
        // 25 small messages: 3 requests (10, 10, 5).
        let small = (0..<25).map {
            SQSOutgoingMessage(
                id: "s\($0)", key: "entities/s\($0 % 3)", body: Array(#"{"n":\#($0),"text":"é \"quoted\""}"#.utf8),
                headers: SQSClientTests.headers)
        }
        let first = send(c, moto, queue: "bulk", small)
        #expect(first.requests == 3)
        #expect(
            first.results.allSatisfy { $0.status == .ok },
            "\(first.results.filter { $0.status != .ok }.map { $0.error ?? "" })")
        // 5 messages of 349,400 bytes: with attributes only 2 fit in 1 MiB, so 3 requests; moto takes them all.
        let large = (0..<5).map {
            SQSOutgoingMessage(
                id: "l\($0)", key: "entities/l", body: Array(repeating: UInt8(ascii: "a") + UInt8($0), count: 349_400),
                headers: SQSClientTests.headers)
        }
        let second = send(c, moto, queue: "bulk", large)
        #expect(second.requests == 3)
        #expect(second.results.allSatisfy { $0.status == .ok }, "\(second.results.map { $0.error ?? "ok" })")
        #expect(second.health.allSatisfy { $0 == .healthy })

        let received = try moto.receiveAll("bulk")
        #expect(received.count == 30)
        let bodies = Set(received.compactMap { $0["body"]?.stringValue })
        #expect(bodies == Set((small + large).map { String(decoding: $0.body, as: UTF8.self) }))
        for m in received {
            #expect(m["attributes"]?["eventType"] == .string("ENTITY_CHANGED"))
            #expect(m["attributes"]?.objectValue?.count == 6)
        }

        // FIFO: the group is the key, the deduplication id the message id; order within a group holds.
        let ordered = (0..<12).map {
            SQSOutgoingMessage(
                id: "f\($0)", key: "entities/g\($0 % 2)", body: Array("v\($0)".utf8), headers: SQSClientTests.headers)
        }
        let fifo = send(c, moto, queue: "bulk.fifo", ordered, fifo: true)
        #expect(fifo.results.allSatisfy { $0.status == .ok }, "\(fifo.results.map { $0.error ?? "ok" })")
        let got = try moto.receiveAll("bulk.fifo")
        #expect(got.count == 12)
        for m in got {
            let n = Int(m["body"]?.stringValue?.dropFirst() ?? "") ?? -1
            #expect(m["groupId"] == .string("entities/g\(n % 2)"))
            #expect(m["deduplicationId"] == .string("f\(n)"))
        }
        let group0 = got.filter { $0["groupId"] == .string("entities/g0") }.compactMap { $0["body"]?.stringValue }
        #expect(group0 == stride(from: 0, to: 12, by: 2).map { "v\($0)" })
    }

    @Test func authenticationFailuresAndTemporaryCredentials() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["auth"])
        let message = [
            SQSOutgoingMessage(id: "1", key: "entities/a", body: Array("hello".utf8), headers: SQSClientTests.headers)
        ]

        let wrongSecret = send(client(moto, secret: "not-the-secret"), moto, queue: "auth", message)
        #expect(wrongSecret.results.map(\.status) == [.retry], "new credentials fix it: not dead-lettered")
        #expect(wrongSecret.results[0].error?.contains("SignatureDoesNotMatch") == true)
        #expect(
            wrongSecret.health.first.map {
                if case .unhealthy(let r) = $0 { r.contains("SignatureDoesNotMatch") } else { false }
            } == true)

        let unknownKey = send(client(moto, key: "AKIAUNKNOWNKEY000000", secret: "x"), moto, queue: "auth", message)
        #expect(unknownKey.results.map(\.status) == [.retry])
        #expect(unknownKey.results[0].error?.contains("SQS refused the credentials: InvalidClientTokenId") == true)
        #expect(unknownKey.results[0].error?.contains("key AKIAUNKNOWNKEY000000 from the configuration") == true)

        let missingQueue = send(client(moto), moto, queue: "no-such-queue", message)
        #expect(missingQueue.results.map(\.status) == [.permanent])
        #expect(missingQueue.results[0].error?.contains("QueueDoesNotExist") == true)

        // Temporary credentials (STS AssumeRole): the session token is sent and signed, and moto checks it.
        let session = try moto.python("session-credentials", [])
        let key = try #require(session["accessKeyId"]?.stringValue)
        let secret = try #require(session["secretAccessKey"]?.stringValue)
        let token = try #require(session["sessionToken"]?.stringValue)
        let temporary = send(client(moto, key: key, secret: secret, token: token), moto, queue: "auth", message)
        #expect(temporary.results.map(\.status) == [.ok], "\(temporary.results.map { $0.error ?? "ok" })")
        let wrongToken = send(client(moto, key: key, secret: secret, token: token + "x"), moto, queue: "auth", message)
        #expect(wrongToken.results.map(\.status) == [.retry], "a wrong session token is refused, and retried")
        #expect(wrongToken.results[0].error?.contains("SQS refused the credentials") == true)
        #expect(try moto.receiveAll("auth").compactMap { $0["body"]?.stringValue } == ["hello"])
    }

    @Test func aRevokedKeyIsRetriedAndTheRewrittenFileDeliversWithoutANewClient() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["rotate"])
        let user = try moto.createUser("rotating")
        try moto.allowEverything(user: "rotating")
        let dir = TemporaryDirectory(prefix: "herald-sqs-rotate")
        let path = dir.file("credentials")
        func writeFile(_ key: (accessKeyId: String, secretAccessKey: String)) throws {
            let text =
                "[herald]\naws_access_key_id = \(key.accessKeyId)\naws_secret_access_key = \(key.secretAccessKey)\n"
            try text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
            #expect(rename(path + ".tmp", path) == 0)
        }
        try writeFile(user)
        let (credentials, source) = try CredentialResolver.fromFile(path, profile: "herald")
        let provider = CredentialProvider(
            credentials: credentials, source: source, region: MotoServer.region, checkInterval: .zero)
        let c = SQSClient(credentials: provider, timeoutMs: 10_000, verifyTLS: true)
        func message(_ n: Int) -> [SQSOutgoingMessage] {
            [SQSOutgoingMessage(id: "\(n)", key: "entities/r", body: Array("m\(n)".utf8), headers: [])]
        }

        #expect(send(c, moto, queue: "rotate", message(1)).results.map(\.status) == [.ok])
        // The key is revoked (what an expired temporary key looks like to SQS): RETRY, unhealthy, with
        // the key, the file and what to do.
        try moto.deleteKey(user: "rotating", accessKeyId: user.accessKeyId)
        let refused = send(c, moto, queue: "rotate", message(2))
        #expect(refused.results.map(\.status) == [.retry])
        let reason = refused.results[0].error ?? ""
        #expect(reason.contains("SQS refused the credentials: InvalidClientTokenId"), "\(reason)")
        #expect(reason.contains("key \(user.accessKeyId) from the credentials file \(path), profile [herald]"))
        #expect(reason.contains("write valid ones to \(path): it is re-read when it changes"))
        #expect(!reason.contains(user.secretAccessKey))
        #expect(refused.health == [.unhealthy(reason)])

        // A new key in the file: the same client (no restart) signs with it, and SQS accepts.
        let rotated = try moto.createKey(user: "rotating")
        try writeFile(rotated)
        let accepted = send(c, moto, queue: "rotate", message(2))
        #expect(accepted.results.map(\.status) == [.ok], "\(accepted.results.map { $0.error ?? "ok" })")
        #expect(accepted.health == [.healthy])
        #expect(Set(try moto.receiveAll("rotate").compactMap { $0["body"]?.stringValue }) == ["m1", "m2"])
    }

    @Test func transportFailuresAndTimeoutsAreRetried() throws {
        let entry = SQSRequestBuilder(maxMessageBytes: 1_048_576, fifo: false)
            .plan([SQSOutgoingMessage(id: "1", key: "k", body: Array("x".utf8), headers: [])]).requests[0]
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyId: "A", secretAccessKey: "B"), region: "us-east-1", service: "sqs")

        // Nothing listens: connection refused.
        let closedPort = try MotoServer.freePort()
        let refused = SQSClient(signer: signer, timeoutMs: 2_000, verifyTLS: true)
            .send(entry, queueURL: "q", endpoint: ParsedURL("http://127.0.0.1:\(closedPort)")!)
        #expect(refused.results.map(\.status) == [.retry])
        #expect(refused.results[0].error?.contains("cannot reach SQS at 127.0.0.1:\(closedPort)") == true)
        #expect(refused.health != .unchanged && refused.health != .healthy)

        // A socket that accepts connections but never answers: the request times out.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listen(fd, 4)
        let silentPort = Int(UInt16(bigEndian: address.sin_port))
        let started = Date()
        let silent = SQSClient(signer: signer, timeoutMs: 300, verifyTLS: true)
            .send(entry, queueURL: "q", endpoint: ParsedURL("http://127.0.0.1:\(silentPort)")!)
        #expect(silent.results.map(\.status) == [.retry])
        #expect(silent.results[0].error?.contains("did not answer within 300 ms") == true)
        #expect(Date().timeIntervalSince(started) < 5)
    }
}
