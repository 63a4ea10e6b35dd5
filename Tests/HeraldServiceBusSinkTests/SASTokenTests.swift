import Foundation
import HeraldJSON
import HeraldServiceBusSinkCore
import HeraldSinkSupport
import HeraldTestSupport
import Testing

/// SAS tokens: the fixed vector of PEERS.md, the azure-servicebus Python package as the reference
/// signer, and the cache's renewal.
@Suite struct SASTokenTests {
    static let vectorResource = "https://myns.servicebus.windows.net/events"
    static let vectorKey = "c2VjcmV0LWtleS1iYXNlNjQ9PQ=="

    @Test func theFixedVectorSignsWithTheKeyAsWritten() {
        let sig = SASToken.signature(resource: Self.vectorResource, key: Self.vectorKey, expiry: 1_893_456_000)
        #expect(sig == "TY8APxXhT0mKPYes2WaFlXH7gbSnM4lWhw5HFI7ZoBc=")
        #expect(
            SASToken.make(
                resource: Self.vectorResource, keyName: "RootManageSharedAccessKey", key: Self.vectorKey,
                expiry: 1_893_456_000)
                == "SharedAccessSignature sr=https%3A%2F%2Fmyns.servicebus.windows.net%2Fevents&sig=TY8APxXhT0mKPYes2WaFlXH7gbSnM4lWhw5HFI7ZoBc%3D&se=1893456000&skn=RootManageSharedAccessKey"
        )
        // The key looks like base64 but is used as its text: signing with the decoded bytes differs.
        let decoded = Base64.decode(Self.vectorKey)!
        let wrong = Base64.string(
            Crypto.hmacSHA256(key: decoded, SASToken.formEncode(Self.vectorResource) + "\n1893456000"))
        #expect(wrong != sig)
        #expect(SASToken.formEncode("a b+c/d:é~_.-") == "a+b%2Bc%2Fd%3A%C3%A9~_.-", "quote_plus")
    }

    @Test func tokensEqualTheAzureServiceBusPackage() throws {
        let inputs: [(String, String, String, Int64)] = [
            (Self.vectorResource, "RootManageSharedAccessKey", Self.vectorKey, 1_893_456_000),
            ("https://MyNs.servicebus.windows.net/Orders", "send-only", "k+y/with=special+chars==", 1_700_000_123),
            (
                "https://herald-test.servicebus.windows.net/topics/v1.events_2", "herald.sender_1",
                "AbCdEfGh0123456789+/==", 2_000_000_000
            ),
            ("http://127.0.0.1:53123/events", "send", "plain-text-key", 1_800_000_000),
            ("https://ns.servicebus.windows.net/with%20space", "n", "k", 4_102_444_800),
        ]
        var lines: [String] = []
        for (resource, name, key, expiry) in inputs {
            var w = JSONWriter()
            w.beginArray()
            w.string(resource)
            w.string(name)
            w.string(key)
            w.int(expiry)
            w.endArray()
            lines.append(String(decoding: w.bytes, as: UTF8.self))
        }
        let script = """
            import json, sys
            try:
                from azure.servicebus._pyamqp.utils import generate_sas_token
            except ImportError as e:
                sys.exit("azure-servicebus is not installed (pip install azure-servicebus): %s" % e)
            for line in sys.argv[1:]:
                resource, name, key, expiry = json.loads(line)
                print(generate_sas_token(resource, name, key, expiry))
            """
        let r = try runCommand("/usr/bin/env", ["python3", "-c", script] + lines)
        try #require(r.status == 0, "the reference signer failed: \(r.stderr)")
        let reference = r.stdout.split(separator: "\n").map(String.init)
        try #require(reference.count == inputs.count)
        for ((resource, name, key, expiry), expected) in zip(inputs, reference) {
            #expect(
                SASToken.make(resource: resource, keyName: name, key: key, expiry: expiry) == expected, "\(resource)")
        }
    }

    @Test func tokensAreCachedPerResourceAndRenewedBeforeExpiry() {
        final class Clock: @unchecked Sendable {
            var now: Int64 = 1_800_000_000
        }
        let clock = Clock()
        let cache = SASTokenCache(keyName: "send", key: "secret", ttlSeconds: 3600, clock: { clock.now })
        let a = cache.token(for: "https://ns.servicebus.windows.net/a")
        #expect(a.contains("se=1800003600"))
        #expect(cache.token(for: "https://ns.servicebus.windows.net/a") == a)
        let b = cache.token(for: "https://ns.servicebus.windows.net/b")
        #expect(b != a && b.contains("sr=https%3A%2F%2Fns.servicebus.windows.net%2Fb"), "one token per entity")
        clock.now += 3600 - 301
        #expect(cache.token(for: "https://ns.servicebus.windows.net/a") == a, "more than 5 minutes left")
        clock.now += 2
        let renewed = cache.token(for: "https://ns.servicebus.windows.net/a")
        #expect(renewed != a && renewed.contains("se=\(clock.now + 3600)"), "renewed within 5 minutes of expiry")
        let short = SASTokenCache(keyName: "send", key: "secret", ttlSeconds: 120, clock: { clock.now })
        let s = short.token(for: "r")
        clock.now += 59
        #expect(short.token(for: "r") == s)
        clock.now += 2
        #expect(short.token(for: "r") != s, "short lifetimes renew at half")
    }
}
