import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

/// Input meant to confuse or swamp the API.
///
/// NUL (`\u0000`) in every field that is stored or indexed: SQLite compares bound text up to its first NUL, so
/// identifiers (crosswalk values and tables, ids in URLs and bodies) with control characters are refused as the
/// item's error; attribute values, which are stored inside the entity's blob, keep them exactly. Duplicate keys
/// are refused; answers quote at most 200 bytes of any input.
@Suite(.blocking, .timeLimit(.minutes(10)))
struct HostileInputTests {
    let dir = TemporaryDirectory()
    let server: HeraldProcess
    let client: TestClient

    init() throws {
        let config = TestConfiguration.write(in: dir.path)
        server = try HeraldProcess(configPath: config, logPath: dir.file("serve.log"))
        client = TestClient(baseURL: server.baseURL)
    }

    func item(crosswalk: String, value: String = #""k""#, extra: String = "", type: String = "Individual",
              attributes: String = #""FirstName": [{"value": "Ann"}]"#) -> String {
        #"{"type": "configuration/entityTypes/\#(type)", "attributes": {\#(attributes)}, "crosswalks": [{"type": "\#(crosswalk)", "value": \#(value)\#(extra)}]}"#
    }

    @Test func aCrosswalkValueWithNulIsTheItemsErrorAndTheRestOfTheBatchCommits() throws {
        let r = try client.post(
            "/api/t1/entities",
            "[\(item(crosswalk: "CRM", value: #""k-valid""#)), \(item(crosswalk: "CRM", value: #""k\u0000one""#))]")
        #expect(r.status == 200, "\(r.text)")
        let results = try #require(r.json?.arrayValue)
        #expect(results[0]["status"] == .string("created"))
        #expect(results[1]["successful"] == .bool(false))
        #expect(results[1]["errors"]?["errorCode"] == .string("INVALID_ENTITY"))
        #expect(results[1]["errors"]?["path"] == .string("[1].crosswalks[0].value"))
        #expect(results[1]["errors"]?["errorMessage"]?.stringValue?.contains("U+0000 at byte 1") == true, "\(r.text)")

        // Nothing was stored under a cut-short "k": a second NUL value neither matches nor is stored.
        let two = try client.post("/api/t1/entities", "[\(item(crosswalk: "CRM", value: #""k\u0000two""#))]")
        #expect(two.json?.arrayValue?.first?["successful"] == .bool(false))
        let plain = try client.post("/api/t1/entities", "[\(item(crosswalk: "CRM", value: #""k""#))]")
        #expect(plain.json?.arrayValue?.first?["status"] == .string("created"), "\(plain.text)")
        #expect(try client.events(tenant: "t1").count == 2)
    }

    @Test func everyIdentifierFieldRefusesNulWithItsPath() throws {
        let cases: [(String, String, String)] = [
            (item(crosswalk: "CRM", value: #""x""#, extra: #", "sourceTable": "t\u0000able""#), "INVALID_ENTITY", "[0].crosswalks[0].sourceTable"),
            (item(crosswalk: #"CRM\u0000"#, value: #""x""#), "UNKNOWN_SOURCE", "[0].crosswalks[0].type"),
            (item(crosswalk: "CRM", value: #""x""#, type: #"Individual\u0000"#), "UNKNOWN_ENTITY_TYPE", "[0].type"),
            (item(crosswalk: "CRM", value: #""x""#, attributes: #""First\u0000Name": [{"value": "Ann"}]"#), "UNKNOWN_ATTRIBUTE", "[0].attributes"),
            (item(crosswalk: "CRM", value: #""x\u001fy""#), "INVALID_ENTITY", "[0].crosswalks[0].value"),
        ]
        for (body, code, path) in cases {
            let r = try client.post("/api/t1/entities", "[\(body)]")
            let error = r.json?.arrayValue?.first?["errors"]
            #expect(error?["errorCode"] == .string(code), "\(body): \(r.text)")
            #expect(error?["path"]?.stringValue?.hasPrefix(path) == true, "\(body): \(r.text)")
        }
        #expect(try client.events(tenant: "t1").isEmpty)
    }

    @Test func attributeValuesKeepTheirNulExactly() throws {
        let r = try client.post(
            "/api/t1/entities", "[\(item(crosswalk: "CRM", value: #""v1""#, attributes: #""FirstName": [{"value": "Ann\u0000Lee"}]"#))]")
        let uri = try #require(r.json?.arrayValue?.first?["uri"]?.stringValue, "\(r.text)")
        let got = try client.get("/api/t1/\(uri)")
        #expect(got.json?["attributes"]?["FirstName"]?.arrayValue?.first?["value"] == .string("Ann\u{0}Lee"))
        #expect(got.text.contains(#"Ann\u0000Lee"#))
    }

    @Test func idsInURLsAndBodiesWithNulAreRefused() throws {
        let r = try client.post("/api/t1/entities", "[\(item(crosswalk: "CRM", value: #""u1""#))]")
        let uri = try #require(r.json?.arrayValue?.first?["uri"]?.stringValue)
        for path in ["/api/t1/\(uri)%00x", "/api/t1/\(uri)%00", "/api/t1/\(uri)%2Fx/_potentialMatches"] {
            let got = try client.get(path)
            #expect(got.status == 400, "\(path): \(got.status) \(got.text)")
            #expect(got.json?["errorCode"] == .string("INVALID_PARAMETER"), "\(path)")
        }
        #expect(try client.get("/api/t1/\(uri)").status == 200)
        let sameAs = try client.post("/api/t1/\(uri)/_sameAs?uri=\(uri)%00x", "")
        #expect(sameAs.status == 400 && sameAs.json?["errorCode"] == .string("INVALID_PARAMETER"), "\(sameAs.text)")
        let delete = try client.request("DELETE", "/api/t1/\(uri)%00")
        #expect(delete.status == 400)
        #expect(try client.get("/api/t1/\(uri)").status == 200, "the entity was not removed by a NUL-suffixed id")
    }

    @Test func duplicateKeysAreRefusedWithTheirOffset() throws {
        let body = #"[{"type": "configuration/entityTypes/Individual", "type": "configuration/entityTypes/Organization"}]"#
        let r = try client.post("/api/t1/entities", body)
        #expect(r.status == 400)
        #expect(r.json?["errorCode"] == .string("DUPLICATE_KEY"))
        #expect(r.json?["offset"] == .number("50"), "\(r.text)")
        #expect(try client.events(tenant: "t1").isEmpty)
    }

    @Test func answersQuoteAtMost200BytesOfAnyInput() throws {
        let long = String(repeating: "A", count: 200_000)
        let items = (0..<4).map { i in
            #"{"type": "configuration/entityTypes/Individual", "attributes": {"\#(long)\#(i)": [{"value": "x"}]}, "crosswalks": [{"type": "CRM", "value": "e\#(i)"}]}"#
        }
        let r = try client.post("/api/t1/entities", "[\(items.joined(separator: ","))]")
        #expect(r.status == 200, "\(r.status)")
        #expect(r.json?.arrayValue?.allSatisfy { $0["errors"]?["errorCode"] == .string("UNKNOWN_ATTRIBUTE") } == true)
        #expect(r.text.utf8.count < 4000, "an answer of \(r.text.utf8.count) bytes to an 800 KB request")
        let short = String(long.prefix(20_000))
        for path in ["/api/t1/events?after=\(short)", "/api/\(short)/events", "/api/t1/entities/\(short)"] {
            let q = try client.get(path)
            #expect(q.status >= 400 && q.text.utf8.count < 1000, "\(q.status): \(q.text.utf8.count) bytes")
        }
    }
}
