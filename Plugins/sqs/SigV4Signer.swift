import HeraldSinkSupport
import Synchronization

/// A request as SigV4 sees it: what goes on the wire, before signing.
public struct SigV4Request: Sendable {
    public var method: String
    /// The path exactly as sent (already percent-encoded where needed), without the query.
    public var path: String
    /// The raw query string as sent, without `?` (empty when none).
    public var query: String
    /// Every header to sign, in the order they are sent. `Host` must be among them.
    public var headers: [SigV4Header]
    /// Lower-case hex SHA-256 of the body.
    public var payloadHash: String

    public init(method: String, path: String, query: String = "", headers: [SigV4Header], payloadHash: String) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.payloadHash = payloadHash
    }

    public init(method: String, path: String, query: String = "", headers: [SigV4Header], body: [UInt8]) {
        self.init(method: method, path: path, query: query, headers: headers, payloadHash: Crypto.sha256Hex(body))
    }
}

public struct SigV4Header: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) over OpenSSL's SHA-256 and HMAC.
///
/// Signs in the `Authorization` header (`sign`) or in the query string (`presign`). The derived
/// signing key is cached per (date, region, service), so a day's requests cost two HMACs each.
/// Safe to share between threads.
public final class SigV4Signer: Sendable {
    public static let algorithm = "AWS4-HMAC-SHA256"

    public let credentials: AWSCredentials
    public let region: String
    public let service: String
    private let keys = Mutex<[String: [UInt8]]>([:])

    public struct Options: Sendable {
        /// Remove `.`/`..` segments and repeated slashes from the path (every service but S3).
        public var normalizePath = true
        /// Sign `X-Amz-Security-Token`; when false it is added after signing (a few services want that).
        public var signSessionToken = true
        /// Add and sign `X-Amz-Content-SHA256` (S3 and a few others; SQS does not need it).
        public var addContentSHA256Header = false

        public init(normalizePath: Bool = true, signSessionToken: Bool = true, addContentSHA256Header: Bool = false) {
            self.normalizePath = normalizePath
            self.signSessionToken = signSessionToken
            self.addContentSHA256Header = addContentSHA256Header
        }
    }

    /// What signing produced, intermediate steps included (they are what the test suite checks).
    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var signature: String
        public var signedHeaders: String
        /// Header mode: the `Authorization` value. Query mode: empty.
        public var authorization: String
        /// Header mode: headers to add to the request (`X-Amz-Date`, `X-Amz-Security-Token`,
        /// `X-Amz-Content-SHA256`, `Authorization`). Query mode: empty.
        public var headers: [SigV4Header]
        /// Query mode: the full query string to send (the request's own parameters first). Header mode: empty.
        public var query: String
    }

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Signs in the `Authorization` header.
    public func sign(_ request: SigV4Request, at time: AWSTimestamp, options: Options = Options()) -> Signature {
        var headers = request.headers.filter {
            let n = $0.name.lowercased()
            return n != "authorization" && n != "x-amz-date"
        }
        headers.append(SigV4Header("X-Amz-Date", time.amzDate))
        var added = [SigV4Header("X-Amz-Date", time.amzDate)]
        if let token = credentials.sessionToken {
            added.append(SigV4Header("X-Amz-Security-Token", token))
            if options.signSessionToken { headers.append(SigV4Header("X-Amz-Security-Token", token)) }
        }
        if options.addContentSHA256Header {
            headers.append(SigV4Header("x-amz-content-sha256", request.payloadHash))
            added.append(SigV4Header("x-amz-content-sha256", request.payloadHash))
        }
        let canonicalHeaders = SigV4Canonical.headers(headers)
        let canonicalRequest = [
            request.method, SigV4Canonical.path(request.path, normalize: options.normalizePath),
            SigV4Canonical.query(SigV4Canonical.parseQuery(request.query)), canonicalHeaders.block,
            canonicalHeaders.signed, request.payloadHash,
        ].joined(separator: "\n")
        let (stringToSign, signature) = finish(canonicalRequest, time)
        let authorization =
            "\(SigV4Signer.algorithm) Credential=\(credentials.accessKeyId)/\(scope(time)), "
            + "SignedHeaders=\(canonicalHeaders.signed), Signature=\(signature)"
        added.append(SigV4Header("Authorization", authorization))
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            signedHeaders: canonicalHeaders.signed, authorization: authorization, headers: added, query: "")
    }

    /// Signs in the query string (a pre-signed URL valid for `expiresIn` seconds).
    public func presign(_ request: SigV4Request, at time: AWSTimestamp, expiresIn: Int, options: Options = Options())
        -> Signature
    {
        let canonicalHeaders = SigV4Canonical.headers(request.headers)
        var parameters = SigV4Canonical.parseQuery(request.query)
        var own: [(key: [UInt8], value: [UInt8])] = [
            (Array("X-Amz-Algorithm".utf8), Array(SigV4Signer.algorithm.utf8)),
            (Array("X-Amz-Credential".utf8), Array("\(credentials.accessKeyId)/\(scope(time))".utf8)),
            (Array("X-Amz-Date".utf8), Array(time.amzDate.utf8)),
            (Array("X-Amz-SignedHeaders".utf8), Array(canonicalHeaders.signed.utf8)),
            (Array("X-Amz-Expires".utf8), Array(String(expiresIn).utf8)),
        ]
        let token = credentials.sessionToken.map { (key: Array("X-Amz-Security-Token".utf8), value: Array($0.utf8)) }
        if let token, options.signSessionToken { own.append(token) }
        parameters += own
        let canonicalRequest = [
            request.method, SigV4Canonical.path(request.path, normalize: options.normalizePath),
            SigV4Canonical.query(parameters), canonicalHeaders.block, canonicalHeaders.signed, request.payloadHash,
        ].joined(separator: "\n")
        let (stringToSign, signature) = finish(canonicalRequest, time)
        var sent = own
        if let token, !options.signSessionToken { sent.append(token) }
        sent.append((Array("X-Amz-Signature".utf8), Array(signature.utf8)))
        let ownQuery = sent.map { SigV4Canonical.encode($0.key) + "=" + SigV4Canonical.encode($0.value) }.joined(
            separator: "&")
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
            signedHeaders: canonicalHeaders.signed, authorization: "", headers: [],
            query: request.query.isEmpty ? ownQuery : request.query + "&" + ownQuery)
    }

    /// `date/region/service/aws4_request`.
    public func scope(_ time: AWSTimestamp) -> String { "\(time.date)/\(region)/\(service)/aws4_request" }

    private func finish(_ canonicalRequest: String, _ time: AWSTimestamp) -> (stringToSign: String, signature: String) {
        let stringToSign = [SigV4Signer.algorithm, time.amzDate, scope(time), Crypto.sha256Hex(canonicalRequest)]
            .joined(separator: "\n")
        let signature = Hex.encode(Crypto.hmacSHA256(key: signingKey(date: time.date), stringToSign))
        return (stringToSign, signature)
    }

    /// HMAC chain `AWS4`+secret → date → region → service → `aws4_request`, cached per (date, region, service).
    func signingKey(date: String) -> [UInt8] {
        let cacheKey = "\(date)/\(region)/\(service)"
        if let key = keys.withLock({ $0[cacheKey] }) { return key }
        let kDate = Crypto.hmacSHA256(key: Array("AWS4\(credentials.secretAccessKey)".utf8), date)
        let kRegion = Crypto.hmacSHA256(key: kDate, region)
        let kService = Crypto.hmacSHA256(key: kRegion, service)
        let key = Crypto.hmacSHA256(key: kService, "aws4_request")
        keys.withLock { cache in
            if cache.count >= 4 { cache.removeAll() }  // only the current day (and the one before) matter
            cache[cacheKey] = key
        }
        return key
    }

    /// How many signing keys are cached (for tests).
    var cachedKeyCount: Int { keys.withLock { $0.count } }
}
