#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import HeraldSinkSDK

/// An access key, with the session token of temporary credentials.
public struct AWSCredentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    /// Set for temporary credentials (STS); sent, signed, as `X-Amz-Security-Token`.
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

extension AWSCredentials: CustomStringConvertible {
    /// Never prints the secret or the token.
    public var description: String {
        "AWSCredentials(accessKeyId: \(accessKeyId), secretAccessKey: <hidden>\(sessionToken == nil ? "" : ", sessionToken: <hidden>"))"
    }
}

/// Where the sink's credentials come from.
public enum CredentialSource: Sendable, Equatable, CustomStringConvertible {
    /// `accessKeyId`/`secretAccessKey`/`sessionToken` in the provider's configuration.
    case configuration
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, read when the instance is created.
    case environment
    /// A profile of a shared credentials file, re-read when the file changes.
    case sharedFile(path: String, profile: String)

    public var description: String {
        switch self {
        case .configuration: "the configuration"
        case .environment: "the environment"
        case .sharedFile(let path, let profile): "the credentials file \(path), profile [\(profile)]"
        }
    }

    /// What to do when SQS refuses these credentials.
    public var advice: String {
        switch self {
        case .configuration: "put valid ones in the provider's configuration and reload"
        case .environment:
            "restart Herald with valid AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a reload keeps a destination whose configuration did not change, and its credentials)"
        case .sharedFile(let path, _): "write valid ones to \(path): it is re-read when it changes, no restart needed"
        }
    }
}

/// Finds the sink's credentials, first match wins (the two sources are never mixed: a key from the
/// configuration never picks up a session token from the environment):
///
/// 1. `accessKeyId` + `secretAccessKey` (+ `sessionToken`) in the configuration;
/// 2. `credentialsFile` and/or `profile` in the configuration: that shared credentials file and profile
///    (a missing one of the two comes from `AWS_SHARED_CREDENTIALS_FILE`/`AWS_PROFILE`, then the default);
/// 3. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) in the environment;
/// 4. the shared credentials file `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`), profile
///    `AWS_PROFILE` (default `default`).
///
/// This is the AWS SDKs' order (botocore: environment variables before `AWS_PROFILE`, an explicitly
/// named profile before the environment), with the configuration's keys first.
public enum CredentialResolver {
    /// Reads the process environment (create time only: `validate_config` must stay pure).
    public static let processEnvironment: @Sendable (String) -> String? = { name in
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    public static let defaultProfile = "default"

    public static func resolve(
        _ config: SQSConfig, environment: (String) -> String? = processEnvironment
    ) throws(SinkError) -> (credentials: AWSCredentials, source: CredentialSource) {
        if let id = config.accessKeyId, let secret = config.secretAccessKey {
            return (
                AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: config.sessionToken),
                .configuration
            )
        }
        func variable(_ name: String) -> String? {
            guard let v = environment(name), !v.isEmpty else { return nil }
            return v
        }
        let fileVariable = variable("AWS_SHARED_CREDENTIALS_FILE")
        let profileVariable = variable("AWS_PROFILE")
        let home = variable("HOME")
        if config.credentialsFile != nil || config.profile != nil {
            let named = config.credentialsFile ?? fileVariable
            guard let path = expand(named ?? "~/.aws/credentials", home: home) else {
                throw SinkError(.permanent, "cannot find ~/.aws/credentials: HOME is not set; set credentialsFile")
            }
            return try fromFile(path, profile: config.profile ?? profileVariable ?? defaultProfile)
        }
        let id = variable("AWS_ACCESS_KEY_ID")
        let secret = variable("AWS_SECRET_ACCESS_KEY")
        switch (id, secret) {
        case (let id?, let secret?):
            return (
                AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: variable("AWS_SESSION_TOKEN")),
                .environment
            )
        case (nil, nil):
            break
        case (nil, _):
            throw SinkError(.permanent, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (_, nil):
            throw SinkError(.permanent, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
        let profile = profileVariable ?? defaultProfile
        if let named = fileVariable {
            guard let path = expand(named, home: home) else {
                throw SinkError(.permanent, "AWS_SHARED_CREDENTIALS_FILE starts with ~/ but HOME is not set")
            }
            return try fromFile(path, profile: profile)
        }
        if let path = expand("~/.aws/credentials", home: home),
            case .success = CredentialsFileReader.stamp(path)
        {
            return try fromFile(path, profile: profile)
        }
        if profileVariable != nil {
            throw SinkError(
                .permanent,
                "AWS_PROFILE is set but there is no credentials file (~/.aws/credentials, or set AWS_SHARED_CREDENTIALS_FILE)"
            )
        }
        throw SinkError(
            .permanent,
            "the sqs sink has no credentials: set accessKeyId and secretAccessKey (or credentialsFile and profile) in "
                + "its configuration, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in Herald's environment, "
                + "or write them to ~/.aws/credentials (or the file AWS_SHARED_CREDENTIALS_FILE names)")
    }

    /// Reads a profile's credentials from a shared credentials file.
    static func fromFile(_ path: String, profile: String) throws(SinkError) -> (
        credentials: AWSCredentials, source: CredentialSource
    ) {
        do {
            let (text, _) = try CredentialsFileReader.load(path)
            let credentials = try SharedCredentialsFile.parse(text, path: path).credentials(profile: profile)
            return (credentials, .sharedFile(path: path, profile: profile))
        } catch {
            throw SinkError(.permanent, error.description)
        }
    }

    /// `~/…` under `home` (nil without one); any other path as it is.
    static func expand(_ path: String, home: String?) -> String? {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        guard let home else { return nil }
        return (home.hasSuffix("/") ? String(home.dropLast()) : home) + path.dropFirst()
    }
}
