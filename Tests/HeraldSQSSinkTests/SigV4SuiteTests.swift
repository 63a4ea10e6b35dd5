import Foundation
@testable import HeraldSQSSinkCore
import Testing

/// The official AWS Signature Version 4 test suite (from awslabs/aws-c-auth), every case in both
/// forms: signed in the `Authorization` header and pre-signed in the query string.
@Suite struct SigV4SuiteTests {
    @Test func theSuiteIsPresent() {
        let names = SigV4TestCase.names
        #expect(!names[0].hasPrefix("<missing"), "\(names[0])")
        #expect(names.count >= 38, "the suite has 38 cases; found \(names.count) in \(SigV4TestCase.suiteDirectory)")
    }

    @Test(arguments: SigV4TestCase.names)
    func headerSigning(_ name: String) throws {
        let c = try SigV4TestCase(name)
        let signer = SigV4Signer(credentials: c.credentials, region: c.region, service: c.service)
        let s = signer.sign(c.request, at: c.time, options: c.options)
        #expect(s.canonicalRequest == (try c.expected("header-canonical-request.txt")))
        #expect(s.stringToSign == (try c.expected("header-string-to-sign.txt")))
        #expect(s.signature == (try c.expected("header-signature.txt")))

        let signed = try c.expectedSignedRequest("header-signed-request.txt")
        let expectedAuthorization = signed.headers.first { $0.name.lowercased() == "authorization" }?.value
        #expect(s.authorization == expectedAuthorization)
        // Every header the signer adds is in the expected signed request with the same value, and the
        // expected request has no signing header the signer did not add.
        let added = Dictionary(uniqueKeysWithValues: s.headers.map { ($0.name.lowercased(), $0.value) })
        for h in signed.headers where h.name.lowercased().hasPrefix("x-amz-") || h.name.lowercased() == "authorization"
        {
            #expect(added[h.name.lowercased()] == h.value, "header \(h.name)")
        }
        let expectedNames = Set(signed.headers.map { $0.name.lowercased() })
        for name in added.keys {
            #expect(expectedNames.contains(name), "added \(name), which the suite does not expect")
        }
    }

    @Test(arguments: SigV4TestCase.names)
    func querySigning(_ name: String) throws {
        let c = try SigV4TestCase(name)
        let signer = SigV4Signer(credentials: c.credentials, region: c.region, service: c.service)
        let s = signer.presign(c.request, at: c.time, expiresIn: c.expiresIn, options: c.options)
        #expect(s.canonicalRequest == (try c.expected("query-canonical-request.txt")))
        #expect(s.stringToSign == (try c.expected("query-string-to-sign.txt")))
        #expect(s.signature == (try c.expected("query-signature.txt")))
        let signed = try c.expectedSignedRequest("query-signed-request.txt")
        #expect(signed.target == c.request.path + "?" + s.query)
    }

    @Test func theSigningKeyIsCachedPerDay() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "sqs")
        let request = SigV4Request(
            method: "POST", path: "/", headers: [SigV4Header("Host", "sqs.us-east-1.amazonaws.com")], body: [])
        let day = 1_440_938_160  // 2015-08-30T12:36:00Z
        let a = signer.sign(request, at: AWSTimestamp(epochSeconds: day), options: .init())
        let b = signer.sign(request, at: AWSTimestamp(epochSeconds: day + 60), options: .init())
        #expect(signer.cachedKeyCount == 1)
        #expect(a.signature != b.signature, "a different time signs differently")
        _ = signer.sign(request, at: AWSTimestamp(epochSeconds: day + 86_400), options: .init())
        #expect(signer.cachedKeyCount == 2)
        #expect(AWSTimestamp(epochSeconds: day).amzDate == "20150830T123600Z")
    }
}
