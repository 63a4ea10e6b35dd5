import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// The real `herald serve` with the built sqs plugin, against moto with signature checking on.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct SQSEndToEndTests {
    /// A tenant with the default value limits (so a 300 KB entity can be posted) and a streamingConfig.
    static func tenant(_ id: String, streaming: String) -> String {
        """
        {"id": "\(id)",
         "entityTypes": [{"uri": "configuration/entityTypes/Individual",
                          "attributes": [{"name": "FirstName"}, {"name": "LastName"}, {"name": "Notes"}]}],
         "sources": [{"uri": "configuration/sources/CRM"}],
         "streamingConfig": \(streaming)}
        """
    }

    static func person(_ id: String, first: String, notes: [String] = []) -> String {
        let values = notes.map { "{\"value\": \"\($0)\"}" }.joined(separator: ", ")
        return """
            {"type": "configuration/entityTypes/Individual",
             "attributes": {"FirstName": [{"value": "\(first)"}]\(notes.isEmpty ? "" : ", \"Notes\": [\(values)]")},
             "crosswalks": [{"type": "configuration/sources/CRM", "value": "\(id)"}]}
            """
    }

    /// The sqs provider's configuration for this moto server.
    static func sqsProvider(_ moto: MotoServer, key: String? = nil, secret: String? = nil, extra: String = "") -> String
    {
        """
        {"plugin": "sqs", "config": {"region": "us-east-1", "endpoint": "\(moto.endpoint)", "accountId": "\(MotoServer.accountId)",
          "accessKeyId": "\(key ?? moto.admin.accessKeyId)", "secretAccessKey": "\(secret ?? moto.admin.secretAccessKey)",
          "timeoutMs": 5000\(extra)}}
        """
    }

    /// A plugin directory with the built sqs and file sinks.
    static func plugins(in dir: TemporaryDirectory) throws -> String {
        let library = BuildProducts.directory + "/libherald-sink-sqs.so"
        guard FileManager.default.fileExists(atPath: library) else {
            throw MotoError(description: "\(library) is missing: swift build --product herald-sink-sqs first")
        }
        let plugins = dir.file("plugins.d")
        StreamingTestSupport.installManifest(name: "sqs", library: library, in: plugins)
        StreamingTestSupport.installManifest(
            name: "file", library: BuildProducts.directory + "/libherald-sink-file.so", in: plugins)
        return plugins
    }

    static func start(_ dir: TemporaryDirectory, tenants: [String]) throws -> (HeraldProcess, TestClient) {
        let config = TestConfiguration.write(
            in: dir.path, maxRequestBytes: 4 << 20, tenants: tenants.joined(separator: ",\n"),
            extra: "\"pluginDirectories\": [\"\(try plugins(in: dir))\"],")
        let server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        return (server, TestClient(baseURL: server.baseURL))
    }

    static func status(_ client: TestClient, _ id: String, tenant: String = "t1") -> JSONValue? {
        try? StreamingTestSupport.destinationStatus(client, tenant: tenant, id: id)
    }

    static func deadLetters(_ client: TestClient, _ id: String, tenant: String = "t1") -> [JSONValue] {
        (try? client.get("/api/\(tenant)/streaming/dlq?destination=\(id)"))?.json?["deadLetters"]?.arrayValue ?? []
    }

    static func post(_ client: TestClient, _ path: String, _ body: String) throws {
        let r = try client.post(path, body)
        #expect(r.status == 200, "POST \(path): \(r.status) \(r.text)")
    }

    static let retry =
        #""retry": {"initialDelayMs": 50, "maxDelayMs": 200, "maxAttempts": 5}, "batch": {"lingerMs": 0}"#

    @Test func entitiesArriveInStandardAndFifoQueuesWithTheirHeadersAsAttributes() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["people", "people.fifo"])
        let dir = TemporaryDirectory(prefix: "herald-sqs-e2e")
        // The file sink receives the same messages: the reference for bodies and headers.
        let streaming = """
            {"streamingEnabled": true,
             "messaging": {
               "providers": {"aws": \(SQSEndToEndTests.sqsProvider(moto)),
                             "copy": {"plugin": "file", "config": {"path": "\(dir.file("copy.ndjson"))"}}},
               "destinations": [
                 {"provider": "aws", "name": "people", \(SQSEndToEndTests.retry)},
                 {"provider": "aws", "name": "people.fifo", "ordering": "perEntity", \(SQSEndToEndTests.retry)},
                 {"provider": "copy", "name": "people", \(SQSEndToEndTests.retry)}]}}
            """
        let (server, client) = try SQSEndToEndTests.start(
            dir, tenants: [SQSEndToEndTests.tenant("t1", streaming: streaming)])
        defer { server.stop() }

        // 15 creations in one post (one host batch of 15: two SQS requests), then 3 updates.
        let created = (0..<15).map { SQSEndToEndTests.person("p\($0)", first: #"Name \#($0) \"quoted\" é"#) }
        try SQSEndToEndTests.post(client, "/api/t1/entities", "[\(created.joined(separator: ","))]")
        let updated = (0..<3).map { SQSEndToEndTests.person("p\($0)", first: "Renamed \($0)") }
        try SQSEndToEndTests.post(client, "/api/t1/entities", "[\(updated.joined(separator: ","))]")

        let delivered = StreamingTestSupport.eventually(timeout: 40) {
            ["aws/people", "aws/people.fifo", "copy/people"].allSatisfy {
                SQSEndToEndTests.status(client, $0)?["sent"] == .number("18")
            }
        }
        #expect(
            delivered,
            "not all delivered: \(SQSEndToEndTests.status(client, "aws/people")?.serializedString() ?? "")\n\(server.log.suffix(3000))"
        )
        #expect(SQSEndToEndTests.status(client, "aws/people")?["healthy"] == .bool(true))
        #expect(SQSEndToEndTests.status(client, "aws/people")?["plugin"] == .string("sqs"))

        let reference = StreamingTestSupport.readLines(dir.file("copy.ndjson"))
        #expect(reference.count == 18)
        func seq(_ messageId: String?) -> String? { messageId?.split(separator: "-").first.map(String.init) }
        let bySeq = Dictionary(
            reference.compactMap { line in seq(line["headers"]?["messageId"]?.stringValue).map { ($0, line) } }
        ) { a, _ in a }

        for queue in ["people", "people.fifo"] {
            let messages = try moto.receiveAll(queue)
            #expect(messages.count == 18, "\(queue): \(messages.count) messages")
            var versions: [String: [Int]] = [:]
            for m in messages {
                let attributes = try #require(m["attributes"])
                let messageId = attributes["messageId"]?.stringValue
                let line = try #require(
                    bySeq[seq(messageId) ?? ""], "\(queue): no reference message for \(messageId ?? "?")")
                #expect(m["body"] == line["body"], "\(queue): the body is exactly what Herald rendered")
                for name in ["tenantId", "eventType", "sourceObjectUri", "objectVersion", "updatedTime"] {
                    #expect(
                        attributes[name] != nil && attributes[name] == line["headers"]?[name],
                        "\(queue): attribute \(name)")
                }
                #expect(attributes.objectValue?.count == 6)
                if queue.hasSuffix(".fifo") {
                    #expect(
                        m["groupId"] == line["key"] && m["groupId"] == attributes["sourceObjectUri"],
                        "group = entity URI")
                    #expect(
                        m["deduplicationId"] != nil && m["deduplicationId"] == attributes["messageId"],
                        "dedup id = message id")
                    if let uri = m["groupId"]?.stringValue,
                        let v = attributes["objectVersion"]?.stringValue.flatMap({ Int($0) })
                    {
                        versions[uri, default: []].append(v)
                    }
                } else {
                    #expect(m["groupId"] == nil || m["groupId"] == .null)
                }
            }
            if queue.hasSuffix(".fifo") {
                #expect(versions.count == 15)
                #expect(
                    versions.values.allSatisfy { $0 == $0.sorted() }, "each entity's versions in order: \(versions)")
            }
        }
    }

    /// A FIFO queue keeps each group in the order SQS receives it, so the sink tells Herald (ABI 1.1,
    /// HERALD_SINK_LIMIT_KEY_ORDER) and Herald keeps per-entity order without `ordering: perEntity` in the
    /// configuration: a backlog of 8 versions of 10 entities, up to 4 batches in flight, arrives in order.
    @Test func aFifoQueueWithoutPerEntityOrderingStillGetsEachEntityInOrder() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["orders.fifo"])
        let dir = TemporaryDirectory(prefix: "herald-sqs-fifo")
        let streaming = """
            {"messaging": {"providers": {"aws": \(SQSEndToEndTests.sqsProvider(moto))},
               "destinations": [{"provider": "aws", "name": "orders.fifo",
                                 "batch": {"maxMessages": 10, "maxInFlight": 4, "lingerMs": 0}}]}}
            """
        let (server, client) = try SQSEndToEndTests.start(dir, tenants: [SQSEndToEndTests.tenant("t1", streaming: streaming)])
        defer { server.stop() }
        // One post: 8 versions of each of 10 entities, interleaved, all in the queue before delivery reads it.
        let items = (1...8).flatMap { round in (0..<10).map { SQSEndToEndTests.person("o\($0)", first: "V\(round)") } }
        try SQSEndToEndTests.post(client, "/api/t1/entities", "[\(items.joined(separator: ","))]")
        #expect(StreamingTestSupport.eventually(timeout: 40) {
            SQSEndToEndTests.status(client, "aws/orders.fifo")?["sent"] == .number("80")
        }, "\(server.log.suffix(2000))")
        #expect(SQSEndToEndTests.status(client, "aws/orders.fifo")?["ordering"] == .string("perEntity"))
        #expect(server.log.contains("delivering as with ordering perEntity"))
        var versions: [String: [Int]] = [:]
        for m in try moto.receiveAll("orders.fifo") {
            guard let group = m["groupId"]?.stringValue,
                let v = m["attributes"]?["objectVersion"]?.stringValue.flatMap({ Int($0) })
            else { continue }
            versions[group, default: []].append(v)
        }
        #expect(versions.count == 10)
        #expect(versions.values.allSatisfy { $0 == Array(1...8) }, "each entity's versions in order: \(versions)")
    }

    @Test func thePluginPassesHeraldsConformanceSuiteAgainstMoto() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["herald-check"])  // the suite's destination
        let dir = TemporaryDirectory(prefix: "herald-sqs-check")
        _ = try SQSEndToEndTests.plugins(in: dir)
        let config = """
            {"region": "us-east-1", "endpoint": "\(moto.endpoint)", "accountId": "\(MotoServer.accountId)",
             "accessKeyId": "\(moto.admin.accessKeyId)", "secretAccessKey": "\(moto.admin.secretAccessKey)"}
            """
        let result = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-sqs.so", "--config", config])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(!result.stdout.contains("FAIL"), "\(result.stdout)")
        #expect(result.stdout.contains("batch of 50: 50 OK of 50"), "\(result.stdout)")
        #expect(result.stdout.contains("TOO_LARGE (expected TOO_LARGE)"), "\(result.stdout)")
        #expect(try moto.receiveAll("herald-check").count >= 51, "the suite's messages reached the queue")

        // Again with no key in the configuration: AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE, as the AWS SDKs read them.
        let file = dir.file("shared-credentials")
        try """
        [default]
        aws_access_key_id = AKIANOTTHISONE000000
        aws_secret_access_key = wrong

        [herald]
        aws_access_key_id = \(moto.admin.accessKeyId)
        aws_secret_access_key = \(moto.admin.secretAccessKey)
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let keyless = """
            {"region": "us-east-1", "endpoint": "\(moto.endpoint)", "accountId": "\(MotoServer.accountId)"}
            """
        let fromFile = try runCommand(
            BuildProducts.herald,
            ["plugins", "check", BuildProducts.directory + "/libherald-sink-sqs.so", "--config", keyless],
            environment: [
                "AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "herald", "AWS_ACCESS_KEY_ID": "",
                "AWS_SECRET_ACCESS_KEY": "",
            ])
        #expect(fromFile.status == 0, "\(fromFile.stdout)\n\(fromFile.stderr)")
        #expect(fromFile.stdout.contains("batch of 50: 50 OK of 50"), "\(fromFile.stdout)")
        #expect(try moto.receiveAll("herald-check").count >= 51)
    }

    /// Retried for as long as the tests need: a refusal must not dead-letter anything.
    static let patientRetry =
        #""retry": {"initialDelayMs": 50, "maxDelayMs": 300, "maxAttempts": 100000}, "batch": {"lingerMs": 0}"#

    @Test func refusedCredentialsAreRetriedUntilTheRewrittenFileDeliversWithoutARestart() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["f", "l", "w", "r"])
        let rotating = try moto.createUser("rotating")
        try moto.allowEverything(user: "rotating")
        let late = try moto.createUser("late")  // no policy yet: AccessDenied
        let dir = TemporaryDirectory(prefix: "herald-sqs-auth")
        let credentialsFile = dir.file("aws-credentials")
        func writeCredentials(_ key: (accessKeyId: String, secretAccessKey: String)) throws {
            // As rotation tools do: a new file renamed over the old one.
            let text = """
                # rotated by the test
                [other]
                aws_access_key_id = AKIAOTHERPROFILE0000
                aws_secret_access_key = not-this-one

                [herald]
                aws_access_key_id = \(key.accessKeyId)
                aws_secret_access_key = \(key.secretAccessKey)

                """
            try text.write(toFile: credentialsFile + ".new", atomically: false, encoding: .utf8)
            #expect(rename(credentialsFile + ".new", credentialsFile) == 0)
        }
        try writeCredentials(rotating)
        let fileProvider = """
            {"plugin": "sqs", "config": {"region": "us-east-1", "endpoint": "\(moto.endpoint)", "accountId": "\(MotoServer.accountId)",
              "credentialsFile": "\(credentialsFile)", "profile": "herald", "timeoutMs": 5000}}
            """
        let streaming = """
            {"streamingEnabled": true,
             "messaging": {
               "providers": {"file": \(fileProvider),
                             "late": \(SQSEndToEndTests.sqsProvider(moto, key: late.accessKeyId, secret: late.secretAccessKey)),
                             "wrong": \(SQSEndToEndTests.sqsProvider(moto, secret: "not-the-secret")),
                             "right": \(SQSEndToEndTests.sqsProvider(moto))},
               "destinations": [
                 {"provider": "file", "name": "f", \(SQSEndToEndTests.patientRetry)},
                 {"provider": "late", "name": "l", \(SQSEndToEndTests.patientRetry)},
                 {"provider": "wrong", "name": "w", "retry": {"initialDelayMs": 50, "maxDelayMs": 100, "maxAttempts": 3}},
                 {"provider": "right", "name": "r", \(SQSEndToEndTests.retry)}]}}
            """
        let (server, client) = try SQSEndToEndTests.start(
            dir, tenants: [SQSEndToEndTests.tenant("t1", streaming: streaming)])
        defer { server.stop() }
        func status(_ id: String) -> JSONValue? { SQSEndToEndTests.status(client, id) }
        func post(_ ids: [String]) throws {
            let people = ids.map { SQSEndToEndTests.person($0, first: "N\($0)") }
            try SQSEndToEndTests.post(client, "/api/t1/entities", "[\(people.joined(separator: ","))]")
        }

        // The key in the file works: the first two entities arrive.
        try post(["a0", "a1"])
        #expect(
            StreamingTestSupport.eventually(timeout: 30) {
                status("file/f")?["sent"] == .number("2") && status("right/r")?["sent"] == .number("2")
            }, "\(status("file/f")?.serializedString() ?? "")\n\(server.log.suffix(3000))")

        // The key is revoked (to SQS, what an expired temporary key is): the next two are retried,
        // not dead-lettered, and the destination is unhealthy with SQS's code, the key and the file.
        try moto.deleteKey(user: "rotating", accessKeyId: rotating.accessKeyId)
        try post(["b0", "b1"])
        let refused = StreamingTestSupport.eventually(timeout: 30) {
            (status("file/f")?["retried"]?.int64Value ?? 0) >= 4 && status("file/f")?["healthy"] == .bool(false)
                && (status("late/l")?["retried"]?.int64Value ?? 0) >= 4
                && SQSEndToEndTests.deadLetters(client, "wrong/w").count == 4
        }
        #expect(refused, "\(status("file/f")?.serializedString() ?? "")\n\(server.log.suffix(3000))")
        let fileStatus = status("file/f")
        let reason = fileStatus?["reason"]?.stringValue ?? ""
        #expect(reason.contains("SQS refused the credentials: InvalidClientTokenId"), "\(reason)")
        #expect(
            reason.contains(
                "key \(rotating.accessKeyId) from the credentials file \(credentialsFile), profile [herald]"))
        #expect(!reason.contains(rotating.secretAccessKey))
        #expect(fileStatus?["sent"] == .number("2"))
        #expect(
            fileStatus?["deadLetterCount"] == .number("0"),
            "nothing dead-lettered: \(fileStatus?.serializedString() ?? "")")
        #expect(SQSEndToEndTests.deadLetters(client, "file/f").isEmpty)

        // A missing permission is retried too, with the instance unhealthy.
        let denied = status("late/l")
        #expect(denied?["healthy"] == .bool(false))
        #expect(denied?["reason"]?.stringValue?.contains("SQS denied permission: AccessDenied") == true)
        #expect(SQSEndToEndTests.deadLetters(client, "late/l").isEmpty)

        // A wrong secret that nobody fixes: retried until maxAttempts (3 here), then dead-lettered
        // RETRIES_EXHAUSTED with the last reason; the instance stays unhealthy.
        let wrong = status("wrong/w")
        #expect(wrong?["healthy"] == .bool(false))
        #expect(wrong?["reason"]?.stringValue?.contains("SignatureDoesNotMatch") == true)
        for letter in SQSEndToEndTests.deadLetters(client, "wrong/w") {
            #expect(letter["status"] == .string("RETRIES_EXHAUSTED"), "\(letter.serializedString())")
            #expect(
                letter["reason"]?.stringValue?.contains("SQS refused the credentials: SignatureDoesNotMatch") == true)
            #expect(letter["attempts"] == .number("3"))
        }

        // A new key is written to the file and the permission granted; no restart, no reload, no
        // replay: the retried messages arrive and both destinations are healthy again.
        let rotated = try moto.createKey(user: "rotating")
        try writeCredentials(rotated)
        try moto.allowEverything(user: "late")
        let recovered = StreamingTestSupport.eventually(timeout: 30) {
            status("file/f")?["sent"] == .number("4") && status("file/f")?["healthy"] == .bool(true)
                && status("late/l")?["sent"] == .number("4") && status("late/l")?["healthy"] == .bool(true)
        }
        #expect(
            recovered,
            "\(status("file/f")?.serializedString() ?? "")\n\(status("late/l")?.serializedString() ?? "")\n\(server.log.suffix(3000))"
        )
        #expect(status("file/f")?["retryBacklog"] == .number("0"))
        #expect(status("file/f")?["deadLetterCount"] == .number("0"))
        #expect(
            server.log.contains(
                "credentials reloaded from \(credentialsFile), profile [herald]: key \(rotated.accessKeyId)"))
        #expect(!server.log.contains(rotated.secretAccessKey) && !server.log.contains(rotating.secretAccessKey))
        for queue in ["f", "l"] {
            let arrived = try moto.receiveAll(queue)
            #expect(
                Set(arrived.compactMap { $0["attributes"]?["sourceObjectUri"]?.stringValue }).count == 4,
                "\(queue): every entity once")
        }
        #expect(try moto.receiveAll("r").count == 4, "the right secret delivers")
        #expect(try moto.receiveAll("w").isEmpty)
        #expect(status("wrong/w")?["healthy"] == .bool(false), "the wrong secret stays unhealthy")
    }

    @Test func anOverLimitMessageIsTooLargeOrSentWithoutItsObjectUnderLargeObjectsSupport() throws {
        let moto = try MotoServer()
        defer { moto.stop() }
        try moto.createQueues(["small", "shrunk"])
        let dir = TemporaryDirectory(prefix: "herald-sqs-size")
        func streaming(queue: String, largeObjects: Bool) -> String {
            """
            {"streamingEnabled": true, "largeObjectsSupport": \(largeObjects),
             "messaging": {
               "providers": {"aws": \(SQSEndToEndTests.sqsProvider(moto, extra: #", "maxMessageBytes": 262144"#))},
               "destinations": [{"provider": "aws", "name": "\(queue)", \(SQSEndToEndTests.retry)}]}}
            """
        }
        let (server, client) = try SQSEndToEndTests.start(
            dir,
            tenants: [
                SQSEndToEndTests.tenant("t1", streaming: streaming(queue: "small", largeObjects: false)),
                SQSEndToEndTests.tenant("t2", streaming: streaming(queue: "shrunk", largeObjects: true)),
            ])
        defer { server.stop() }
        // 30 distinct values of 10,000 bytes: a message of about 300 KB, over 256 KiB.
        let notes = (0..<30).map { "\($0)-" + String(repeating: "n", count: 9_990) }
        let big = SQSEndToEndTests.person("big", first: "Big", notes: notes)
        let small = SQSEndToEndTests.person("small", first: "Small")
        for tenant in ["t1", "t2"] {
            try SQSEndToEndTests.post(client, "/api/\(tenant)/entities", "[\(big),\(small)]")
        }

        let done = StreamingTestSupport.eventually(timeout: 30) {
            SQSEndToEndTests.deadLetters(client, "aws/small", tenant: "t1").count == 1
                && SQSEndToEndTests.status(client, "aws/small", tenant: "t1")?["sent"] == .number("1")
                && SQSEndToEndTests.status(client, "aws/shrunk", tenant: "t2")?["sent"] == .number("2")
        }
        #expect(done, "\(server.log.suffix(3000))")
        let letter = try #require(SQSEndToEndTests.deadLetters(client, "aws/small", tenant: "t1").first)
        #expect(letter["status"] == .string("TOO_LARGE"))
        #expect(
            letter["reason"]?.stringValue?.contains("262084") == true,
            "the declared limit: 256 KiB less 60 bytes of attribute types")
        #expect((letter["bodyBytes"]?.int64Value ?? 0) > 262_144)
        let sent = try moto.receiveAll("small")
        #expect(sent.count == 1)
        #expect(sent.first?["body"]?.stringValue?.contains("Small") == true)
        #expect(
            sent.first?["attributes"]?["sourceObjectUri"] != letter["objectUri"],
            "only the big entity was dead-lettered")

        let shrunk = try moto.receiveAll("shrunk")
        #expect(shrunk.count == 2)
        let flagged = shrunk.filter { $0["attributes"]?["exceededQueueSizeLimit"] == .string("true") }
        #expect(flagged.count == 1)
        let body = try JSONParser.parse(try #require(flagged.first?["body"]?.stringValue))
        #expect(body["exceededQueueSizeLimit"] == .bool(true))
        #expect(body["object"] == nil, "sent without the object")
        #expect(body["type"] == .string("ENTITY_CREATED"))
        let full = shrunk.filter { $0["attributes"]?["exceededQueueSizeLimit"] == nil }
        #expect(full.first?["body"]?.stringValue?.contains("Small") == true)
    }
}
