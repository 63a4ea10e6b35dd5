import Foundation
import HeraldJSON
import HeraldSQSSinkCore
import HeraldTestSupport

/// One case of the AWS SigV4 test suite (`../shared/testdata/aws-sigv4/NAME/`): the raw request,
/// its signing context, and the expected intermediate and final results.
struct SigV4TestCase {
    static var suiteDirectory: String { BuildProducts.packageRoot + "/../shared/testdata/aws-sigv4" }

    /// The case folders, sorted; a single "<missing …>" entry when the suite is not there, so the
    /// parameterised test fails with that message instead of running nothing.
    static var names: [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: suiteDirectory)) ?? []
        let cases = entries.filter { FileManager.default.fileExists(atPath: "\(suiteDirectory)/\($0)/request.txt") }
            .sorted()
        return cases.isEmpty ? ["<missing: no SigV4 test cases in \(suiteDirectory)>"] : cases
    }

    let name: String
    let request: SigV4Request
    let credentials: AWSCredentials
    let region: String
    let service: String
    let time: AWSTimestamp
    let expiresIn: Int
    let options: SigV4Signer.Options

    init(_ name: String) throws {
        self.name = name
        let dir = "\(SigV4TestCase.suiteDirectory)/\(name)"
        guard let raw = FileManager.default.contents(atPath: "\(dir)/request.txt") else {
            throw MotoError(
                description:
                    "SigV4 test case \(name) is missing \(dir)/request.txt (the suite lives in ../shared/testdata/aws-sigv4)"
            )
        }
        request = try SigV4TestCase.parseRequest(Array(raw), name: name)
        let context = try JSONParser.parse(try SigV4TestCase.text("\(dir)/context.json"))
        let c = context["credentials"]
        credentials = AWSCredentials(
            accessKeyId: c?["access_key_id"]?.stringValue ?? "",
            secretAccessKey: c?["secret_access_key"]?.stringValue ?? "",
            sessionToken: c?["token"]?.stringValue)
        region = context["region"]?.stringValue ?? ""
        service = context["service"]?.stringValue ?? ""
        guard let t = context["timestamp"]?.stringValue.flatMap(AWSTimestamp.init(iso8601:)) else {
            throw MotoError(description: "\(name): context.json has no ISO 8601 timestamp")
        }
        time = t
        expiresIn = Int(context["expiration_in_seconds"]?.int64Value ?? 3600)
        options = SigV4Signer.Options(
            normalizePath: context["normalize"]?.boolValue ?? true,
            signSessionToken: !(context["omit_session_token"]?.boolValue ?? false),
            addContentSHA256Header: context["sign_body"]?.boolValue ?? false)
    }

    /// An expected file, without trailing newlines.
    func expected(_ file: String) throws -> String {
        var s = try SigV4TestCase.text("\(SigV4TestCase.suiteDirectory)/\(name)/\(file)")
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }

    /// The request line's target and the header lines of an expected signed request.
    func expectedSignedRequest(_ file: String) throws -> (target: String, headers: [SigV4Header]) {
        let parsed = try SigV4TestCase.parseRequest(Array(try expected(file).utf8), name: name)
        return (parsed.query.isEmpty ? parsed.path : parsed.path + "?" + parsed.query, parsed.headers)
    }

    static func text(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MotoError(description: "cannot read \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses `METHOD TARGET HTTP/1.1`, header lines (`Name:value`, continuation lines start with
    /// whitespace and are joined with a space), a blank line and the body.
    static func parseRequest(_ bytes: [UInt8], name: String) throws -> SigV4Request {
        var head = bytes[...]
        var body: [UInt8] = []
        if let split = (0..<max(0, bytes.count - 1)).first(where: { bytes[$0] == 0x0A && bytes[$0 + 1] == 0x0A }) {
            head = bytes[..<split]
            body = Array(bytes[(split + 2)...])
        }
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard let first = lines.first, let space = first.firstIndex(of: " "),
            let version = first.range(of: " HTTP/", options: .backwards)
        else {
            throw MotoError(description: "\(name): bad request line")
        }
        let method = String(first[..<space])
        let target = first[first.index(after: space)..<version.lowerBound]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var headers: [SigV4Header] = []
        for line in lines.dropFirst() where !line.isEmpty {
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                headers.append(SigV4Header(String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        return SigV4Request(
            method: method, path: String(path[0]), query: path.count > 1 ? String(path[1]) : "", headers: headers,
            body: body)
    }
}
