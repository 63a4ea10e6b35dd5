import Foundation
@testable import HeraldSQSSinkCore
import HeraldSinkSDK
import HeraldSinkSupport
import HeraldTestSupport
import Testing

/// Where credentials come from (precedence) and how a credentials file is re-read when it changes.
@Suite struct CredentialProviderTests {
    final class Recorder: SinkReporter, @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [(SinkHost.LogLevel, String)] = []
        func setHealth(_ healthy: Bool, _ reason: String) {}
        func log(_ level: SinkHost.LogLevel, _ message: String) {
            lock.lock()
            lines.append((level, message))
            lock.unlock()
        }
        var logged: [(SinkHost.LogLevel, String)] {
            lock.lock()
            defer { lock.unlock() }
            return lines
        }
    }

    static func profile(_ name: String, _ id: String, _ secret: String, token: String? = nil) -> String {
        "[\(name)]\naws_access_key_id = \(id)\naws_secret_access_key = \(secret)\n"
            + (token.map { "aws_session_token = \($0)\n" } ?? "")
    }

    func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    func config(_ extra: String = "") throws -> SQSConfig {
        try SQSConfig.parse(#"{"region": "us-east-1", "accountId": "123456789012"\#(extra)}"#)
    }

    func resolve(_ config: SQSConfig, _ env: [String: String]) -> Result<
        (credentials: AWSCredentials, source: CredentialSource), SinkError
    > {
        Result { () throws(SinkError) in try CredentialResolver.resolve(config) { env[$0] } }
    }

    @Test func precedenceConfigurationThenNamedFileThenEnvironmentThenDefaultFile() throws {
        let dir = TemporaryDirectory(prefix: "herald-sqs-creds")
        let home = dir.file("home")
        let defaultFile = home + "/.aws/credentials"
        try write(
            CredentialProviderTests.profile("default", "AKIAHOMEDEFAULT", "h1")
                + CredentialProviderTests.profile("ops", "AKIAHOMEOPS", "h2"), to: defaultFile)
        let named = dir.file("named-credentials")
        try write(
            CredentialProviderTests.profile("default", "AKIANAMEDDEFAULT", "n1")
                + CredentialProviderTests.profile("ops", "AKIANAMEDOPS", "n2")
                + CredentialProviderTests.profile("herald", "ASIANAMEDHERALD", "n3", token: "tok"), to: named)
        let envKeys = ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "e", "HOME": home]

        // 1. The configuration's keys, whatever else is set.
        let keys = try config(#", "accessKeyId": "AKIACONFIG", "secretAccessKey": "c""#)
        #expect(try resolve(keys, envKeys.merging(["AWS_PROFILE": "ops"]) { $1 }).get().source == .configuration)

        // 2. A profile or file named in the configuration beats the environment's keys.
        let namedProfile = try config(#", "credentialsFile": "\#(named)", "profile": "herald""#)
        let r2 = try resolve(namedProfile, envKeys).get()
        #expect(r2.source == .sharedFile(path: named, profile: "herald"))
        #expect(
            r2.credentials == AWSCredentials(accessKeyId: "ASIANAMEDHERALD", secretAccessKey: "n3", sessionToken: "tok")
        )
        // … the missing half from AWS_PROFILE / AWS_SHARED_CREDENTIALS_FILE, then the default.
        let fileOnly = try config(#", "credentialsFile": "\#(named)""#)
        #expect(try resolve(fileOnly, envKeys).get().credentials.accessKeyId == "AKIANAMEDDEFAULT")
        #expect(
            try resolve(fileOnly, envKeys.merging(["AWS_PROFILE": "ops"]) { $1 }).get().credentials.accessKeyId
                == "AKIANAMEDOPS")
        let profileOnly = try config(#", "profile": "ops""#)
        #expect(try resolve(profileOnly, envKeys).get().source == .sharedFile(path: defaultFile, profile: "ops"))
        #expect(
            try resolve(profileOnly, envKeys.merging(["AWS_SHARED_CREDENTIALS_FILE": named]) { $1 }).get()
                .credentials.accessKeyId == "AKIANAMEDOPS")
        let tilde = try config(#", "credentialsFile": "~/.aws/credentials""#)
        #expect(try resolve(tilde, envKeys).get().source == .sharedFile(path: defaultFile, profile: "default"))

        // 3. The environment's keys beat AWS_PROFILE and the files (as in the AWS SDKs).
        let plain = try config()
        let r3 = try resolve(
            plain, envKeys.merging(["AWS_PROFILE": "ops", "AWS_SHARED_CREDENTIALS_FILE": named]) { $1 }
        ).get()
        #expect(r3.source == .environment && r3.credentials.accessKeyId == "AKIAENV")

        // 4. Without them: AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE or default.
        #expect(try resolve(plain, ["HOME": home]).get().credentials.accessKeyId == "AKIAHOMEDEFAULT")
        #expect(
            try resolve(plain, ["HOME": home, "AWS_PROFILE": "ops"]).get().credentials.accessKeyId == "AKIAHOMEOPS")
        let r4 = try resolve(plain, ["HOME": home, "AWS_SHARED_CREDENTIALS_FILE": named, "AWS_PROFILE": "ops"]).get()
        #expect(r4.source == .sharedFile(path: named, profile: "ops") && r4.credentials.accessKeyId == "AKIANAMEDOPS")
    }

    @Test func credentialFileProblemsAreClearAtCreateTime() throws {
        let dir = TemporaryDirectory(prefix: "herald-sqs-creds")
        let plain = try config()
        func message(_ config: SQSConfig, _ env: [String: String]) -> String {
            switch resolve(config, env) {
            case .success(let r): "resolved from \(r.source)"
            case .failure(let e): e.message
            }
        }
        let emptyHome = dir.file("empty-home")
        try FileManager.default.createDirectory(atPath: emptyHome, withIntermediateDirectories: true)
        #expect(message(plain, ["HOME": emptyHome]).contains("the sqs sink has no credentials"))
        #expect(message(plain, ["HOME": emptyHome]).contains("~/.aws/credentials"))
        #expect(
            message(plain, ["HOME": emptyHome, "AWS_PROFILE": "ops"])
                .hasPrefix("AWS_PROFILE is set but there is no credentials file"))
        let missing = dir.file("nope")
        #expect(
            message(plain, ["AWS_SHARED_CREDENTIALS_FILE": missing])
                == "credentials file \(missing): cannot be read: No such file or directory")
        #expect(
            message(try config(#", "credentialsFile": "\#(missing)""#), [:])
                == "credentials file \(missing): cannot be read: No such file or directory")
        let broken = dir.file("broken")
        try write("[default]\naws_access_key_id = AKIA\nSECRETVALUE\n", to: broken)
        let text = message(try config(#", "credentialsFile": "\#(broken)""#), [:])
        #expect(text.hasPrefix("credentials file \(broken), line 3: expected 'name = value'"), "\(text)")
        #expect(!text.contains("SECRETVALUE"))
        #expect(message(try config(#", "profile": "x""#), [:]).contains("HOME is not set"))
    }

    @Test func aRewrittenFileIsUsedForTheNextSignatureAndABrokenOneIsNot() throws {
        let dir = TemporaryDirectory(prefix: "herald-sqs-rotate")
        let path = dir.file("credentials")
        try write(CredentialProviderTests.profile("herald", "AKIAFIRST00000000001", "first"), to: path)
        let recorder = Recorder()
        let (credentials, source) = try CredentialResolver.fromFile(path, profile: "herald")
        let provider = CredentialProvider(
            credentials: credentials, source: source, region: "us-east-1", checkInterval: .zero, reporter: recorder)
        #expect(provider.signer().credentials.accessKeyId == "AKIAFIRST00000000001")
        let firstSigner = provider.signer()

        // Rewritten in place at once, same length (the stamp may well be the same: times tick in
        // jiffies): the next signature uses the new key.
        try write(CredentialProviderTests.profile("herald", "ASIASECOND0000000002", "secnd"), to: path)
        let second = provider.signer()
        #expect(second.credentials == AWSCredentials(accessKeyId: "ASIASECOND0000000002", secretAccessKey: "secnd"))
        #expect(second !== firstSigner, "a new signer (its own derived-key cache)")
        #expect(firstSigner.credentials.accessKeyId == "AKIAFIRST00000000001", "signers already handed out keep theirs")
        #expect(
            recorder.logged.contains {
                $0.0 == .info
                    && $0.1.contains("credentials reloaded from \(path), profile [herald]: key ASIASECOND0000000002")
            })

        // A malformed version is not used: the previous key stays, the problem is logged once and described.
        try write("[herald]\naws_access_key_id = AKIATHIRD\nTHIRDSECRET\n", to: path)
        #expect(provider.signer().credentials.accessKeyId == "ASIASECOND0000000002")
        #expect(provider.signer().credentials.accessKeyId == "ASIASECOND0000000002")
        let errors = recorder.logged.filter { $0.0 == .error }.map(\.1)
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.contains("credentials file \(path), line 3: expected 'name = value'") == true)
        #expect(
            provider.describe(provider.signer()).hasPrefix(
                "key ASIASECOND0000000002 from the credentials file \(path), profile [herald] "
                    + "(its latest version is not used: credentials file \(path), line 3"))

        // Fixed with the same key: nothing to swap, and the log says the file is usable again.
        try write(CredentialProviderTests.profile("herald", "ASIASECOND0000000002", "secnd"), to: path)
        #expect(provider.signer().credentials.accessKeyId == "ASIASECOND0000000002")
        #expect(provider.problem == nil)
        #expect(
            recorder.logged.last?.1 == "sqs sink: the credentials file \(path) is usable again (the same credentials)")

        // Gone: still the previous key; back (renamed into place): the new key.
        try FileManager.default.removeItem(atPath: path)
        #expect(provider.signer().credentials.accessKeyId == "ASIASECOND0000000002")
        #expect(provider.problem?.contains("No such file or directory") == true)
        try write(CredentialProviderTests.profile("herald", "AKIAFOURTH", "fourth"), to: path + ".new")
        #expect(rename(path + ".new", path) == 0)
        #expect(provider.signer().credentials == AWSCredentials(accessKeyId: "AKIAFOURTH", secretAccessKey: "fourth"))
        #expect(provider.problem == nil)
        for secret in ["first", "secnd", "THIRDSECRET", "fourth"] {
            #expect(!recorder.logged.contains { $0.1.contains(secret) }, "\(secret) was logged")
        }
    }

    @Test func theFileIsCheckedAtMostOncePerInterval() throws {
        let dir = TemporaryDirectory(prefix: "herald-sqs-rotate")
        let path = dir.file("credentials")
        try write(CredentialProviderTests.profile("default", "AKIAOLD", "old"), to: path)
        let (credentials, source) = try CredentialResolver.fromFile(path, profile: "default")
        let slow = CredentialProvider(
            credentials: credentials, source: source, region: "us-east-1", checkInterval: .seconds(3600))
        let fast = CredentialProvider(
            credentials: credentials, source: source, region: "us-east-1", checkInterval: .milliseconds(200))
        try write(CredentialProviderTests.profile("default", "AKIANEW", "new"), to: path)
        #expect(slow.signer().credentials.accessKeyId == "AKIAOLD", "not checked again within the hour")
        let deadline = Date().addingTimeInterval(5)
        while fast.signer().credentials.accessKeyId != "AKIANEW" && Date() < deadline { usleep(50_000) }
        #expect(fast.signer().credentials.accessKeyId == "AKIANEW")

        // Credentials from the configuration or the environment never change.
        let fixed = CredentialProvider(
            credentials: credentials, source: .environment, region: "us-east-1", checkInterval: .zero)
        #expect(fixed.signer().credentials.accessKeyId == "AKIAOLD")
    }
}
