/// The AWS shared credentials file (`~/.aws/credentials`), as the AWS SDKs and CLI read it:
///
///     # comment (also ; comment)
///     [default]
///     aws_access_key_id = AKIA…
///     aws_secret_access_key = …
///
///     [herald]
///     aws_access_key_id = ASIA…
///     aws_secret_access_key = …
///     aws_session_token = …
///
/// Sections are profiles (`[name]`, without the config file's `profile ` prefix); settings are
/// `name = value` (or `name: value`), names case-insensitive, whitespace around both trimmed; a
/// `#` or `;` at the start of a line, or after whitespace, starts a comment. Settings other than the
/// three keys (`region`, `output`…) are ignored. A line that is none of these is an error naming the
/// line; no error ever quotes a value or an unreadable line (either may hold a secret).
public struct SharedCredentialsFile: Sendable {
    /// One profile's settings, each with the line it was on (1-based).
    struct Profile: Sendable {
        var line: Int
        var settings: [String: (value: String, line: Int)] = [:]
        /// A setting given twice: (name, first line, second line).
        var repeated: (name: String, first: Int, second: Int)?
    }

    public let path: String
    var profiles: [String: Profile] = [:]
    /// Profile names in the order they first appear (for error messages).
    var order: [String] = []

    static let accessKeyId = "aws_access_key_id"
    static let secretAccessKey = "aws_secret_access_key"
    static let sessionToken = "aws_session_token"
    /// The older name of `aws_session_token`, still read by botocore.
    static let securityToken = "aws_security_token"
    /// Setting names that may be quoted in errors (any other name could be a pasted secret).
    static let knownNames: Set<String> = [
        accessKeyId, secretAccessKey, sessionToken, securityToken, "region", "output", "role_arn", "source_profile",
        "credential_process", "sso_start_url", "sso_session", "web_identity_token_file",
    ]
    /// Settings of profiles that get credentials some other way, which the sink does not do.
    static let unsupportedNames = [
        "role_arn", "source_profile", "credential_process", "sso_start_url", "sso_session", "web_identity_token_file",
    ]

    /// The profile names, in file order.
    public var profileNames: [String] { order }

    /// Parses the file's text. Throws on the first line that is not a section, a setting, a comment or blank.
    public static func parse(_ text: String, path: String) throws(CredentialsFileError) -> SharedCredentialsFile {
        var file = SharedCredentialsFile(path: path)
        var current: String?
        var number = 0
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        // "\r\n" is one Character: split on it as well as on "\n" and "\r".
        let lines = body.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        for raw in lines {
            number += 1
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.first == "#" || line.first == ";" { continue }
            if line.first == "[" {
                guard let close = line.firstIndex(of: "]") else {
                    throw CredentialsFileError(path: path, line: number, "'[' without a closing ']'")
                }
                let rest = line[line.index(after: close)...].trimmingWhitespace()
                if !rest.isEmpty && rest.first != "#" && rest.first != ";" {
                    throw CredentialsFileError(path: path, line: number, "only a comment may follow a [section] name")
                }
                let name = String(line[line.index(after: line.startIndex)..<close].trimmingWhitespace())
                if name.isEmpty { throw CredentialsFileError(path: path, line: number, "a section without a name") }
                if file.profiles[name] == nil {
                    file.profiles[name] = Profile(line: number)
                    file.order.append(name)
                }
                current = name
                continue
            }
            guard let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw CredentialsFileError(
                    path: path, line: number,
                    "expected 'name = value', a [profile] line or a comment (the line is not shown: it may hold a secret)"
                )
            }
            let name = String(line[..<separator].trimmingWhitespace()).lowercased()
            let shown = knownNames.contains(name) ? "'\(name)'" : "a setting"
            if name.isEmpty {
                throw CredentialsFileError(path: path, line: number, "a value without a name before '='")
            }
            guard let profile = current else {
                throw CredentialsFileError(path: path, line: number, "\(shown) outside any [profile] section")
            }
            let value = String(line[line.index(after: separator)...].withoutTrailingComment().trimmingWhitespace())
            if let first = file.profiles[profile]?.settings[name] {
                if file.profiles[profile]?.repeated == nil {
                    file.profiles[profile]?.repeated = (name, first.line, number)
                }
            } else {
                file.profiles[profile]?.settings[name] = (value, number)
            }
        }
        return file
    }

    /// The access key of `profile`: `aws_access_key_id` and `aws_secret_access_key`, and
    /// `aws_session_token` (or `aws_security_token`) when present and not empty.
    public func credentials(profile name: String) throws(CredentialsFileError) -> AWSCredentials {
        guard let profile = profiles[name] else {
            var problem = "no profile [\(name)]"
            if profiles["profile \(name)"] != nil {
                problem +=
                    "; there is a [profile \(name)], the config file's form: the credentials file names profiles without 'profile '"
            } else {
                problem +=
                    order.isEmpty ? " (the file has no profiles)" : " (its profiles: \(order.joined(separator: ", ")))"
            }
            throw CredentialsFileError(path: path, line: nil, problem)
        }
        if let r = profile.repeated {
            let shown = SharedCredentialsFile.knownNames.contains(r.name) ? "'\(r.name)'" : "a setting"
            throw CredentialsFileError(
                path: path, line: r.second, "\(shown) is set twice in profile [\(name)] (first on line \(r.first))")
        }
        func required(_ key: String) throws(CredentialsFileError) -> String {
            guard let setting = profile.settings[key] else {
                var problem = "profile [\(name)] (line \(profile.line)) has no \(key)"
                let other = SharedCredentialsFile.unsupportedNames.filter { profile.settings[$0] != nil }
                if !other.isEmpty {
                    problem +=
                        "; it has \(other.joined(separator: ", ")), which the sqs sink does not use: give the profile an access key"
                }
                throw CredentialsFileError(path: path, line: nil, problem)
            }
            try check(key, setting)
            return setting.value
        }
        func check(_ key: String, _ setting: (value: String, line: Int)) throws(CredentialsFileError) {
            if setting.value.isEmpty {
                throw CredentialsFileError(path: path, line: setting.line, "\(key) is empty")
            }
            if setting.value.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
                throw CredentialsFileError(
                    path: path, line: setting.line, "\(key) holds a space or a control character")
            }
        }
        let id = try required(SharedCredentialsFile.accessKeyId)
        let secret = try required(SharedCredentialsFile.secretAccessKey)
        var token: String?
        for key in [SharedCredentialsFile.sessionToken, SharedCredentialsFile.securityToken] {
            if let setting = profile.settings[key], !setting.value.isEmpty {
                try check(key, setting)
                token = setting.value
                break
            }
        }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token)
    }
}

/// A credentials file that cannot be used: the path, the line when one is at fault, and what is wrong.
/// Never holds a value from the file.
public struct CredentialsFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    /// 1-based.
    public var line: Int?
    public var problem: String

    public init(path: String, line: Int?, _ problem: String) {
        self.path = path
        self.line = line
        self.problem = problem
    }

    public var description: String {
        line.map { "credentials file \(path), line \($0): \(problem)" } ?? "credentials file \(path): \(problem)"
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return s
    }

    /// The text before a `#` or `;` that follows whitespace (an inline comment).
    func withoutTrailingComment() -> Substring {
        var previous: Character = "x"
        for i in indices {
            let c = self[i]
            if (c == "#" || c == ";") && (previous == " " || previous == "\t") { return self[..<i] }
            previous = c
        }
        return self
    }
}
