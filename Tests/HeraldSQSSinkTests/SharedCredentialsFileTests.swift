@testable import HeraldSQSSinkCore
import Testing

/// The shared credentials file parser: the format the AWS SDKs read, and errors that name the path
/// and line without quoting a value.
@Suite struct SharedCredentialsFileTests {
    static let path = "/etc/herald/aws-credentials"

    func credentials(_ text: String, profile: String = "default") throws(CredentialsFileError) -> AWSCredentials {
        try SharedCredentialsFile.parse(text, path: SharedCredentialsFileTests.path).credentials(profile: profile)
    }

    /// The error's description, or "no error".
    func failure(_ text: String, profile: String = "default") -> String {
        do {
            _ = try credentials(text, profile: profile)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func profilesCommentsAndWhitespace() throws {
        let text = """
            # written by the rotation job
            ; another comment
            [default]
            aws_access_key_id=AKIADEFAULT
            aws_secret_access_key=default-secret
            region = eu-west-1

              [ herald ]   # the sink's profile
            \tAWS_Access_Key_ID   =   ASIAHERALD
            aws_secret_access_key: herald/secret+with=equals
            aws_session_token = FwoGZXIvYXdzE/token== ; inline comment
            output = json

            [empty-token]
            aws_access_key_id = AKIAEMPTY
            aws_secret_access_key = s
            aws_session_token =

            [legacy]
            aws_access_key_id = ASIALEGACY
            aws_secret_access_key = s
            aws_security_token = old-name-token
            """
        #expect(
            try credentials(text)
                == AWSCredentials(accessKeyId: "AKIADEFAULT", secretAccessKey: "default-secret", sessionToken: nil))
        #expect(
            try credentials(text, profile: "herald")
                == AWSCredentials(
                    accessKeyId: "ASIAHERALD", secretAccessKey: "herald/secret+with=equals",
                    sessionToken: "FwoGZXIvYXdzE/token=="),
            "names are case-insensitive, ':' separates too, only the first separator counts, comments after whitespace")
        #expect(try credentials(text, profile: "empty-token").sessionToken == nil, "an empty token is no token")
        #expect(try credentials(text, profile: "legacy").sessionToken == "old-name-token")
        let file = try SharedCredentialsFile.parse(text, path: SharedCredentialsFileTests.path)
        #expect(file.profileNames == ["default", "herald", "empty-token", "legacy"])
    }

    @Test func windowsLineEndingsAndAByteOrderMark() throws {
        let text = "\u{FEFF}[default]\r\naws_access_key_id = AKIA1\r\naws_secret_access_key = s1\r\n"
        #expect(try credentials(text) == AWSCredentials(accessKeyId: "AKIA1", secretAccessKey: "s1"))
        let crOnly = "[default]\raws_access_key_id = AKIA2\raws_secret_access_key = s2\r"
        #expect(try credentials(crOnly).accessKeyId == "AKIA2")
    }

    @Test(arguments: [
        (
            "[default]\naws_access_key_id = AKIA\n",
            "credentials file /etc/herald/aws-credentials: profile [default] (line 1) has no aws_secret_access_key"
        ),
        (
            "[default]\naws_secret_access_key = s\n",
            "credentials file /etc/herald/aws-credentials: profile [default] (line 1) has no aws_access_key_id"
        ),
        (
            "[default]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = base\n",
            "has no aws_access_key_id; it has role_arn, source_profile, which the sqs sink does not use"
        ),
        (
            "[default]\naws_access_key_id =\naws_secret_access_key = s\n",
            "credentials file /etc/herald/aws-credentials, line 2: aws_access_key_id is empty"
        ),
        (
            "[default]\naws_access_key_id = AKIA\naws_secret_access_key = two words\n",
            "line 3: aws_secret_access_key holds a space or a control character"
        ),
        (
            "[default]\naws_access_key_id = A\naws_secret_access_key = s\naws_access_key_id = B\n",
            "line 4: 'aws_access_key_id' is set twice in profile [default] (first on line 2)"
        ),
        (
            "[other]\naws_access_key_id = A\naws_secret_access_key = s\n[second]\n",
            "credentials file /etc/herald/aws-credentials: no profile [default] (its profiles: other, second)"
        ),
        ("# nothing yet\n", "no profile [default] (the file has no profiles)"),
        (
            "[profile default]\naws_access_key_id = A\naws_secret_access_key = s\n",
            "there is a [profile default], the config file's form"
        ),
    ])
    func missingOrUnusableKeysAreNamed(_ text: String, _ expected: String) {
        let message = failure(text)
        #expect(message.contains(expected), "got: \(message)")
    }

    @Test(arguments: [
        (
            "[default]\naws_access_key_id = AKIA\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", 3,
            "expected 'name = value'"
        ),
        ("aws_access_key_id = AKIA\n[default]\n", 1, "'aws_access_key_id' outside any [profile] section"),
        ("wJalrXUtnFEMI/K7MDENG=bPxRfiCYEXAMPLEKEY\n[default]\n", 1, "a setting outside any [profile] section"),
        ("[default\naws_access_key_id = AKIA\n", 1, "'[' without a closing ']'"),
        ("[default] wJalrXUtnFEMI\n", 1, "only a comment may follow a [section] name"),
        ("[]\n", 1, "a section without a name"),
        ("[default]\n = wJalrXUtnFEMI\n", 2, "a value without a name before '='"),
    ])
    func aMalformedLineIsNamedWithoutItsText(_ text: String, _ line: Int, _ expected: String) throws {
        do {
            _ = try SharedCredentialsFile.parse(text, path: SharedCredentialsFileTests.path)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.line == line)
            #expect(error.problem.contains(expected), "got: \(error.problem)")
            #expect(error.description.hasPrefix("credentials file /etc/herald/aws-credentials, line \(line): "))
            #expect(!error.description.contains("wJalrXUtnFEMI"), "never quotes the line: \(error.description)")
        }
    }

    @Test func malformedLinesInOtherProfilesStillFailTheFile() {
        // As botocore does: the file is one document; a profile beside a broken line is not used.
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = s\n[other]\nnot a setting\n"
        #expect(failure(text).contains("line 5: expected 'name = value'"))
    }
}
