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
public enum CredentialSource: String, Sendable {
    case configuration
    case environment
}

/// Finds the sink's credentials: the configuration's `accessKeyId`/`secretAccessKey`/`sessionToken`
/// when given, else the standard environment variables `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
/// and `AWS_SESSION_TOKEN`. The two sources are never mixed: a key from the configuration never
/// picks up a session token from the environment.
public enum CredentialResolver {
    /// Reads the process environment (create time only: `validate_config` must stay pure).
    public static let processEnvironment: @Sendable (String) -> String? = { name in
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

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
        let id = variable("AWS_ACCESS_KEY_ID")
        let secret = variable("AWS_SECRET_ACCESS_KEY")
        switch (id, secret) {
        case (let id?, let secret?):
            return (
                AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: variable("AWS_SESSION_TOKEN")),
                .environment
            )
        case (nil, nil):
            throw SinkError(
                .permanent,
                "the sqs sink has no credentials: set accessKeyId and secretAccessKey in its configuration, "
                    + "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in Herald's environment")
        case (nil, _):
            throw SinkError(.permanent, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not")
        case (_, nil):
            throw SinkError(.permanent, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
        }
    }
}
