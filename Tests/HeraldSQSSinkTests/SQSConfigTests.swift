@testable import HeraldSQSSinkCore
import HeraldSinkSDK
import Testing

/// The provider configuration: errors name the key, queue URLs, credentials.
@Suite struct SQSConfigTests {
    func error(_ json: String) -> String? {
        do {
            _ = try SQSConfig.parse(json)
            return nil
        } catch {
            return error.message
        }
    }

    @Test(arguments: [
        (#"{"accountId": "123456789012"}"#, "region: required key 'region' is missing"),
        (
            #"{"region": "us-east-1", "acountId": "123456789012"}"#,
            "acountId: unknown key 'acountId' (did you mean 'accountId'?)"
        ),
        (#"{"region": "us-east-1"}"#, "accountId: required to build queue URLs"),
        (#"{"region": "US East", "accountId": "123456789012"}"#, "region: 'US East' is not an AWS region name"),
        (#"{"region": "us-east-1", "accountId": "1234"}"#, "accountId: '1234' is not a 12-digit AWS account id"),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "maxMessageBytes": 2000000}"#,
            "maxMessageBytes: 2000000 is out of range 1024...1048576"
        ),
        (#"{"region": "us-east-1", "accountId": "123456789012", "timeoutMs": 0}"#, "timeoutMs: 0 is out of range"),
        (#"{"region": "us-east-1", "accountId": "123456789012", "maxInFlight": 0}"#, "maxInFlight: 0 is out of range"),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "verifyTLS": "no"}"#,
            "verifyTLS: expected true or false"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "accessKeyId": "AKIA"}"#,
            "secretAccessKey: required with accessKeyId"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "secretAccessKey": "s"}"#,
            "accessKeyId: required with secretAccessKey"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "sessionToken": "t"}"#,
            "sessionToken: needs accessKeyId and secretAccessKey"
        ),
        (
            #"{"region": "us-east-1", "queueUrl": "ftp://x/q"}"#,
            "queueUrl: 'ftp://x/q' is not an http:// or https:// URL"
        ),
        (#"{"region": "us-east-1", "queueUrl": "https://x/{queue}"}"#, "queueUrl: unknown placeholder"),
        (
            #"{"region": "us-east-1", "queueUrl": "https://x/{accountId}/q"}"#,
            "accountId: required: queueUrl uses {accountId}"
        ),
        (
            #"{"region": "us-east-1", "queueUrl": "https://x/1/q", "endpoint": "http://y"}"#,
            "endpoint: set either queueUrl or endpoint"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "endpoint": "localhost:4566"}"#,
            "endpoint: 'localhost:4566' is not an http:// or https:// URL"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "credentialsFile": "aws/credentials"}"#,
            "credentialsFile: 'aws/credentials' must be an absolute path (or start with ~/)"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "profile": "[herald]"}"#,
            "profile: '[herald]' is not a profile name"
        ),
        (#"{"region": "us-east-1", "accountId": "123456789012", "profile": ""}"#, "profile: '' is not a profile name"),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "accessKeyId": "A", "secretAccessKey": "s", "profile": "p"}"#,
            "profile: set either accessKeyId and secretAccessKey, or credentialsFile and/or profile, not both"
        ),
        (
            #"{"region": "us-east-1", "accountId": "123456789012", "accessKeyId": "A", "secretAccessKey": "s", "credentialsFile": "/x"}"#,
            "credentialsFile: set either accessKeyId and secretAccessKey"
        ),
        ("[1]", "must be a JSON object"),
        ("{", "not valid JSON"),
    ])
    func badConfigurationsNameTheKey(_ json: String, _ expected: String) {
        let message = error(json)
        #expect(message?.contains(expected) == true, "got: \(message ?? "accepted")")
    }

    @Test func queueURLsComeFromTheDestinationName() throws {
        let aws = try SQSConfig.parse(#"{"region": "eu-west-1", "accountId": "123456789012"}"#)
        #expect(try aws.queueURL(for: "orders") == "https://sqs.eu-west-1.amazonaws.com/123456789012/orders")
        #expect(
            aws.requestURL(forQueueURL: try aws.queueURL(for: "orders"))?.string
                == "https://sqs.eu-west-1.amazonaws.com/")
        #expect(aws.maxMessageBytes == 1_048_576 && aws.timeoutMs == 10_000 && aws.verifyTLS && aws.maxInFlight == 4)
        let named = try SQSConfig.parse(
            #"{"region": "eu-west-1", "accountId": "123456789012", "credentialsFile": "~/.aws/herald", "profile": "mdm"}"#
        )
        #expect(named.credentialsFile == "~/.aws/herald" && named.profile == "mdm")

        let local = try SQSConfig.parse(
            #"{"region": "us-east-1", "accountId": "123456789012", "endpoint": "http://127.0.0.1:4566/"}"#)
        #expect(try local.queueURL(for: "events.fifo") == "http://127.0.0.1:4566/123456789012/events.fifo")
        #expect(local.requestURL(forQueueURL: "ignored")?.string == "http://127.0.0.1:4566/")
        #expect(local.requestURL(forQueueURL: "ignored")?.host == "127.0.0.1:4566")

        let template = try SQSConfig.parse(
            #"{"region": "eu-central-1", "accountId": "123456789012", "queueUrl": "https://sqs.{region}.amazonaws.com/{accountId}/mdm-{destination}"}"#
        )
        #expect(
            try template.queueURL(for: "people") == "https://sqs.eu-central-1.amazonaws.com/123456789012/mdm-people")
        let fixed = try SQSConfig.parse(
            #"{"region": "eu-central-1", "queueUrl": "https://sqs.eu-central-1.amazonaws.com:443/1/all"}"#)
        #expect(try fixed.queueURL(for: "anything goes") == "https://sqs.eu-central-1.amazonaws.com:443/1/all")
        #expect(fixed.requestURL(forQueueURL: try fixed.queueURL(for: "x"))?.host == "sqs.eu-central-1.amazonaws.com")

        #expect(SQSConfig.isFIFO(queueURL: "http://h/1/orders.fifo"))
        #expect(!SQSConfig.isFIFO(queueURL: "http://h/1/orders"))
        #expect(throws: SinkError.self) { try aws.queueURL(for: "not a queue") }
        #expect(throws: SinkError.self) { try aws.queueURL(for: String(repeating: "q", count: 81)) }
        #expect(throws: SinkError.self) { try aws.queueURL(for: ".fifo") }
    }

    @Test func credentialsComeFromTheConfigurationFirst() throws {
        let config = try SQSConfig.parse(
            #"{"region": "us-east-1", "accountId": "123456789012", "accessKeyId": "AKIDCONFIG", "secretAccessKey": "supersecret"}"#
        )
        let env = ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e", "AWS_SESSION_TOKEN": "token"]
        let (c, source) = try CredentialResolver.resolve(config) { env[$0] }
        #expect(source == .configuration)
        #expect(
            c == AWSCredentials(accessKeyId: "AKIDCONFIG", secretAccessKey: "supersecret", sessionToken: nil),
            "no token mixed in from the environment")
        #expect(!"\(c)".contains("supersecret") && "\(c)".contains("<hidden>"), "descriptions never show the secret")
    }

    @Test func credentialsFromTheEnvironmentSignTheSessionToken() throws {
        let config = try SQSConfig.parse(#"{"region": "us-east-1", "accountId": "123456789012"}"#)
        let env = [
            "AWS_ACCESS_KEY_ID": "ASIAENV", "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_SESSION_TOKEN": "FwoGZXIvYXdzE-token",
        ]
        let (c, source) = try CredentialResolver.resolve(config) { env[$0] }
        #expect(source == .environment)
        #expect(
            c == AWSCredentials(accessKeyId: "ASIAENV", secretAccessKey: "secret", sessionToken: "FwoGZXIvYXdzE-token"))

        let signer = SigV4Signer(credentials: c, region: "us-east-1", service: "sqs")
        let endpoint = try #require(ParsedURL("http://127.0.0.1:4566"))
        let request = SQSClient.signedRequest(
            queueURL: "http://127.0.0.1:4566/123456789012/q", endpoint: endpoint, body: Array("{}".utf8),
            signer: signer,
            time: AWSTimestamp(epochSeconds: 1_700_000_000))
        let headers = Dictionary(uniqueKeysWithValues: request.headers.map { ($0.0.lowercased(), $0.1) })
        #expect(headers["x-amz-security-token"] == "FwoGZXIvYXdzE-token")
        #expect(headers["host"] == "127.0.0.1:4566")
        #expect(headers["x-amz-target"] == "AmazonSQS.SendMessageBatch")
        #expect(headers["content-type"] == "application/x-amz-json-1.0")
        #expect(headers["x-amz-date"] == "20231114T221320Z")
        let authorization = try #require(headers["authorization"])
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=ASIAENV/20231114/us-east-1/sqs/aws4_request, "))
        #expect(
            authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "))
        #expect(request.url == "http://127.0.0.1:4566/")

        // Without a token there is no token header.
        let plain = SQSClient.signedRequest(
            queueURL: "q", endpoint: endpoint, body: [],
            signer: SigV4Signer(
                credentials: AWSCredentials(accessKeyId: "A", secretAccessKey: "B"), region: "us-east-1", service: "sqs"
            ),
            time: .now())
        #expect(!plain.headers.contains { $0.0.lowercased() == "x-amz-security-token" })
        #expect(plain.headers.contains { $0.0 == "Authorization" }, "every request is signed")
    }

    @Test func missingOrHalfCredentialsAreClearErrors() throws {
        let config = try SQSConfig.parse(#"{"region": "us-east-1", "accountId": "123456789012"}"#)
        func message(_ env: [String: String]) -> String {
            do {
                _ = try CredentialResolver.resolve(config) { env[$0] }
                return "resolved"
            } catch {
                return error.message
            }
        }
        #expect(message([:]).contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"))
        #expect(message(["AWS_ACCESS_KEY_ID": "A"]) == "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        #expect(
            message(["AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": ""])
                == "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        #expect(message(["AWS_SECRET_ACCESS_KEY": "B"]) == "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
    }
}
