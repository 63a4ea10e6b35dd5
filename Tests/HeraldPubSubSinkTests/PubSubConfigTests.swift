import Foundation
import HeraldJSON
import HeraldPubSubSinkCore
import HeraldSinkSupport
import HeraldTestSupport
import Testing

/// Configuration, key files and the JWT the sink signs.
@Suite struct PubSubConfigTests {
    @Test func configurationIsCheckedWithClearMessages() throws {
        let good = try PubSubConfig.parse(#"{"project": "my-project", "credentialsFile": "/k.json", "maxInFlight": 2}"#)
        #expect(good.project == "my-project" && good.maxInFlight == 2 && good.maxRequestBytes == 10_000_000)
        #expect(good.topicPath(for: "events") == "projects/my-project/topics/events")
        #expect(good.topicPath(for: "projects/other-proj/topics/x") == "projects/other-proj/topics/x")
        let bad: [(String, String)] = [
            (#"{}"#, "required key 'project'"),
            (#"{"project": "P"}"#, "is not a GCP project id"),
            (#"{"project": "my-project", "emulatorHost": "http://localhost:8085"}"#, "without a scheme"),
            (#"{"project": "my-project", "endpoint": "http://pubsub.local"}"#, "allowPlainHTTP"),
            (#"{"project": "my-project", "endpoint": "ftp://x"}"#, "https://"),
            (#"{"project": "my-project", "maxRequestBytes": 11000000}"#, "out of range"),
            (#"{"project": "my-project", "maxMessagesPerRequest": 1001}"#, "out of range"),
            (#"{"project": "my-project", "credentialFile": "/k.json"}"#, "did you mean 'credentialsFile'"),
        ]
        for (text, expected) in bad {
            #expect(throws: (any Error).self, "\(text)") { try PubSubConfig.parse(text) }
            do {
                _ = try PubSubConfig.parse(text)
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
        _ = try PubSubConfig.parse(
            #"{"project": "my-project", "endpoint": "http://127.0.0.1:1", "allowPlainHTTP": true}"#)
    }

    @Test func explicitConfigurationWinsOverTheEnvironment() throws {
        let env = ["PUBSUB_EMULATOR_HOST": "127.0.0.1:9999", "GOOGLE_APPLICATION_CREDENTIALS": "/env.json"]
        let emulator = try PubSubConfig.parse(#"{"project": "my-project", "emulatorHost": "127.0.0.1:8085"}"#)
        #expect(try emulator.resolveMode(environment: env) == .emulator(baseURL: "http://127.0.0.1:8085"))
        let keyed = try PubSubConfig.parse(#"{"project": "my-project", "credentialsFile": "/k.json"}"#)
        #expect(
            try keyed.resolveMode(environment: env)
                == .serviceAccount(keyFile: "/k.json", baseURL: "https://pubsub.googleapis.com"))
        let bare = try PubSubConfig.parse(#"{"project": "my-project"}"#)
        #expect(try bare.resolveMode(environment: env) == .emulator(baseURL: "http://127.0.0.1:9999"))
        #expect(
            try bare.resolveMode(environment: ["GOOGLE_APPLICATION_CREDENTIALS": "/env.json"])
                == .serviceAccount(keyFile: "/env.json", baseURL: "https://pubsub.googleapis.com"))
        #expect(throws: (any Error).self) { try bare.resolveMode(environment: [:]) }
    }

    @Test func keyFilesAreParsedAndBadOnesExplained() throws {
        let key = try ServiceAccountKey.parse(
            #"{"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com", "private_key": "PEM", "private_key_id": "id1", "token_uri": "https://oauth2.googleapis.com/token"}"#,
            source: "k.json")
        #expect(
            key
                == ServiceAccountKey(
                    clientEmail: "a@b.iam.gserviceaccount.com", privateKey: "PEM", privateKeyId: "id1",
                    tokenURI: "https://oauth2.googleapis.com/token"))
        let cases = [
            (#"{"type": "authorized_user", "client_id": "x"}"#, "'authorized_user' credential"),
            (#"{"type": "service_account", "private_key": "PEM"}"#, "has no client_email"),
            ("not json", "not a JSON service-account key file"),
        ]
        for (text, expected) in cases {
            do {
                _ = try ServiceAccountKey.parse(text, source: "k.json")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description.contains(expected), "\(error)")
            }
        }
    }

    @Test func theJWTIsRS256WithTheGoogleClaimsAndVerifiesWithThePublicKey() throws {
        let dir = TemporaryDirectory()
        let (privatePath, publicPath) = try generateRSAKey(in: dir, name: "sa")
        let key = ServiceAccountKey(
            clientEmail: "herald@herald-auth.iam.gserviceaccount.com",
            privateKey: try String(contentsOfFile: privatePath, encoding: .utf8),
            privateKeyId: "kid-42", tokenURI: "https://oauth2.googleapis.com/token")
        let auth = ServiceAccountAuth(key: key)
        let jwt = try auth.assertion(issuedAt: 1_700_000_000)
        let parts = jwt.split(separator: ".").map(String.init)
        try #require(parts.count == 3)
        #expect(!jwt.contains("=") && !jwt.contains("+") && !jwt.contains("/"), "base64url without padding")
        let header = try JSONParser.parse(try #require(Base64.decode(parts[0])))
        #expect(header.objectValue?.map(\.key) == ["alg", "typ", "kid"])
        #expect(
            header["alg"] == .string("RS256") && header["typ"] == .string("JWT") && header["kid"] == .string("kid-42"))
        let claims = try JSONParser.parse(try #require(Base64.decode(parts[1])))
        #expect(claims["iss"] == .string("herald@herald-auth.iam.gserviceaccount.com"))
        #expect(claims["scope"] == .string("https://www.googleapis.com/auth/pubsub"))
        #expect(claims["aud"] == .string("https://oauth2.googleapis.com/token"))
        #expect(claims["iat"] == .number("1700000000"))
        #expect(claims["exp"] == .number("1700003600"))
        let publicPEM = try String(contentsOfFile: publicPath, encoding: .utf8)
        let signature = try #require(Base64.decode(parts[2]))
        #expect(signature.count == 256, "RSA-2048 signature")
        #expect(
            Crypto.rs256Verify(
                pemPublicKey: publicPEM, data: Array((parts[0] + "." + parts[1]).utf8), signature: signature))
        // A different claim set does not verify with the same signature.
        let forged = Base64.string(
            Array(#"{"iss":"evil@x","scope":"https://www.googleapis.com/auth/pubsub"}"#.utf8), alphabet: .url)
        #expect(
            !Crypto.rs256Verify(
                pemPublicKey: publicPEM, data: Array((parts[0] + "." + forged).utf8), signature: signature))
        // A key that is not a key is refused at start, not at the first message.
        let broken = ServiceAccountAuth(
            key: ServiceAccountKey(
                clientEmail: "x", privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                tokenURI: "https://x"))
        #expect(throws: AuthError.self) { try broken.checkKey() }
    }
}

@Suite struct PubSubConfigKeyTests {
    @Test func concurrencyIsTheDeprecatedNameOfMaxInFlight() throws {
        var warnings: [String] = []
        let old = try PubSubConfig.read(#"{"project": "my-project", "concurrency": 3}"#) { warnings.append($0) }
        #expect(old.maxInFlight == 3 && warnings.count == 1)
        #expect(try PubSubConfig.parse(#"{"project": "my-project", "maxInFlight": 5}"#).maxInFlight == 5)
        #expect(throws: (any Error).self) { try PubSubConfig.parse(#"{"project": "my-project", "maxInFlight": 5, "concurrency": 3}"#) }
        let schema = try #require(
            try JSONSerialization.jsonObject(with: Data(PubSubSink.configSchema!.utf8)) as? [String: Any])
        let properties = try #require(schema["properties"] as? [String: [String: Any]])
        #expect(properties["maxInFlight"]?["default"] as? Int == 4)
        #expect(properties["concurrency"]?["deprecated"] as? Bool == true)
        #expect(schema["required"] as? [String] == ["project"])
    }
}
