import Foundation
import HeraldSinkSupport
import HeraldJSON

/// Shared Access Signature tokens for Service Bus:
///
///     SharedAccessSignature sr={url-encoded resource}&sig={url-encoded signature}&se={expiry}&skn={key name}
///
/// where signature = base64(HMAC-SHA256(key, url-encoded resource + "\n" + expiry)), the key taken
/// as the UTF-8 bytes of the text Azure shows (it looks like base64 but is NOT decoded). Encoded
/// the way the azure-servicebus Python package does it (`quote_plus`: upper-case hex, space as `+`).
public enum SASToken {
    /// Form encoding as Python's `urllib.parse.quote_plus`: all but A–Z a–z 0–9 `_.-~` is
    /// percent-encoded, space becomes `+`.
    public static func formEncode(_ text: String) -> String {
        PercentEncoding.encode(text).replacingOccurrences(of: "%20", with: "+")
    }

    /// base64(HMAC-SHA256(key bytes as written, formEncode(resource) + "\n" + expiry)), not URL-encoded.
    public static func signature(resource: String, key: String, expiry: Int64) -> String {
        let toSign = formEncode(resource) + "\n" + String(expiry)
        return Base64.string(Crypto.hmacSHA256(key: Array(key.utf8), toSign))
    }

    /// The full `Authorization` header value.
    public static func make(resource: String, keyName: String, key: String, expiry: Int64) -> String {
        let sig = signature(resource: resource, key: key, expiry: expiry)
        return
            "SharedAccessSignature sr=\(formEncode(resource))&sig=\(formEncode(sig))&se=\(expiry)&skn=\(formEncode(keyName))"
    }
}

/// Signs SAS tokens per resource and reuses each until it comes within the renewal margin of its
/// expiry (5 minutes, or half the lifetime for short ones). Safe from any thread.
public final class SASTokenCache: @unchecked Sendable {
    public let keyName: String
    let key: String
    public let ttlSeconds: Int64
    let clock: @Sendable () -> Int64
    private let lock = NSLock()
    private var tokens: [String: (token: String, expiry: Int64)] = [:]

    public init(
        keyName: String, key: String, ttlSeconds: Int64 = 3600,
        clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.keyName = keyName
        self.key = key
        self.ttlSeconds = max(2, ttlSeconds)
        self.clock = clock
    }

    public var renewalMarginSeconds: Int64 { min(300, ttlSeconds / 2) }

    /// A token for `resource` valid for at least the renewal margin.
    public func token(for resource: String) -> String {
        let now = clock()
        lock.lock()
        defer { lock.unlock() }
        if let cached = tokens[resource], now < cached.expiry - renewalMarginSeconds {
            return cached.token
        }
        let expiry = now + ttlSeconds
        let token = SASToken.make(resource: resource, keyName: keyName, key: key, expiry: expiry)
        tokens[resource] = (token, expiry)
        return token
    }
}
