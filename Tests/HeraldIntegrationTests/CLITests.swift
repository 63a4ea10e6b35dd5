import Foundation
import HeraldJSON
import HeraldTestSupport
import Testing

@Suite(.blocking, .timeLimit(.minutes(10)))
struct CLITests {
    /// A node id names the node in the lease table, /api/cluster and every metric: a bad one is refused before
    /// anything starts, naming where it came from.
    @Test func aBadNodeIdIsRefusedWithWhereItCameFrom() throws {
        let dir = TemporaryDirectory()
        let config = TestConfiguration.write(in: dir.path)
        let spaced = try runCommand(BuildProducts.herald, ["serve", "--config", config, "--port", "0", "--node-id", "node one"])
        #expect(spaced.status == 2)
        #expect(spaced.stderr.contains("--node-id must be 1-128 printable ASCII characters"), "\(spaced.stderr)")
        let long = try runCommand(
            BuildProducts.herald, ["serve", "--config", config, "--port", "0"],
            environment: ProcessInfo.processInfo.environment.merging(["HERALD_NODE_ID": String(repeating: "n", count: 129)]) { $1 })
        #expect(long.status == 2)
        #expect(long.stderr.contains("HERALD_NODE_ID must be"), "\(long.stderr)")
    }

    @Test func configCheckAcceptsTheDemoAndListsEveryError() throws {
        let good = try runCommand(BuildProducts.herald, ["config", "check", BuildProducts.packageRoot + "/examples/demo/herald.json"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("tenant demo: 2 entity type(s)"))

        let dir = TemporaryDirectory()
        let bad = dir.file("bad.json")
        try #"{"dataDirectory": 5, "tenants": [{"id": "t", "entityTypes": [{"uri": "configuration/entityTypes/A", "attributes": [{"name": "X", "type": "Nope"}]}]}], "sever": {}}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let result = try runCommand(BuildProducts.herald, ["config", "check", bad])
        #expect(result.status == 1)
        #expect(result.stderr.contains("3 configuration errors"))
        #expect(result.stderr.contains("dataDirectory: expected a string"))
        #expect(result.stderr.contains("tenants[0].entityTypes[0].attributes[0].type: 'Nope' is not one of"))
        #expect(result.stderr.contains("sever: unknown key 'sever' (did you mean 'server'?)"))
    }

    @Test func configCheckShowsAPostgresStoreAndServeRequiresItsPasswordVariable() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("pg.json")
        let variable = "HERALD_TEST_PG_PASSWORD_\(getpid())"
        try #"{"tenants": [], "store": {"backend": "postgres", "url": "postgres://herald@127.0.0.1:5432/herald", "passwordEnv": "\#(variable)"}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let check = try runCommand(BuildProducts.herald, ["config", "check", path])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(
            check.stdout.contains(
                "store: postgres postgres://herald@127.0.0.1:5432/herald (pool 8, the server's synchronous_commit, "
                    + "password from $\(variable))"), "\(check.stdout)")

        // Before anything starts: no store is opened, no port bound.
        let unset = try runCommand(BuildProducts.herald, ["serve", "--config", path, "--port", "0"])
        #expect(unset.status == 2, "\(unset.stderr)")
        #expect(unset.stderr.contains("environment variable '\(variable)', which is not set"), "\(unset.stderr)")
        let empty = try runCommand(
            BuildProducts.herald, ["serve", "--config", path, "--port", "0"], environment: [variable: ""])
        #expect(empty.status == 2, "\(empty.stderr)")
        #expect(empty.stderr.contains("environment variable '\(variable)', which is empty"), "\(empty.stderr)")
    }

    @Test func sampleDataIsDeterministicWithDuplicates() throws {
        let dir = TemporaryDirectory()
        let a = try runCommand(BuildProducts.herald, ["sample-data", "--people", "1000", "--seed", "3", "-o", dir.file("a"), "--truth", dir.file("t")])
        #expect(a.status == 0)
        _ = try runCommand(BuildProducts.herald, ["sample-data", "--people", "1000", "--seed", "3", "-o", dir.file("b")])
        let first = try String(contentsOfFile: dir.file("a"), encoding: .utf8)
        #expect(first == (try String(contentsOfFile: dir.file("b"), encoding: .utf8)))
        let lines = first.split(separator: "\n")
        #expect(lines.count > 1000, "some people have records in several sources")
        let truth = try String(contentsOfFile: dir.file("t"), encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(truth.count == lines.count)
        let sources = Set(truth.map { $0.split(separator: ",")[0] })
        #expect(sources == ["CRM", "ERP", "WEB"])
        let averageBytes = first.utf8.count / lines.count
        #expect(averageBytes > 1000 && averageBytes < 2000, "~1.5 KB entities, got \(averageBytes)")
    }

    @Test func loadReportsRejectedLinesAndCommitsTheRest() throws {
        let dir = TemporaryDirectory()
        let server = try HeraldProcess(configPath: TestConfiguration.write(in: dir.path), logPath: dir.file("log"))
        var lines: [String] = []
        for i in 1...30 { lines.append(TestConfiguration.person(id: "L\(i)", first: "P\(i)")) }
        lines[9] = "{not json"
        lines[19] = TestConfiguration.person(id: "L20", extra: "\"Shoe\": [\"42\"]")
        lines.insert("", at: 5)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let result = try runCommand(
            BuildProducts.herald,
            ["load", dir.file("in.ndjson"), "--tenant", "t1", "--url", server.baseURL, "--batch", "7", "--progress", "lines"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stderr.contains("line 11: MALFORMED_JSON"), "\(result.stderr)")
        #expect(result.stderr.contains("line 21: UNKNOWN_ATTRIBUTE at attributes.Shoe"), "\(result.stderr)")
        #expect(result.stderr.contains("loaded 28 of 30 records"), "\(result.stderr)")
        #expect(result.stderr.contains("progress: 100%"))
        let events = try TestClient(baseURL: server.baseURL).events(tenant: "t1")
        #expect(events.count == 28)
    }

    @Test func loadStopsWithAResumeHintWhenTheServerIsGone() throws {
        let dir = TemporaryDirectory()
        try (TestConfiguration.person(id: "x", first: "X") + "\n").write(
            toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let result = try runCommand(
            BuildProducts.herald,
            ["load", dir.file("in.ndjson"), "--tenant", "t1", "--url", "http://127.0.0.1:9", "--retries", "0", "--progress", "none"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("every line up to 0 is committed"))
        #expect(result.stderr.contains("--start-line 1"))
    }

    // MARK: filter apply

    @Test func filterApplyKeepsTheEntitiesThatPassAndSelectsFields() throws {
        let dir = TemporaryDirectory()
        let e1 = APIEntity.person("e1", first: "John", last: [("Smith", true)], email: "john@example.com", city: "Paris")
        let e2 = APIEntity.person("e2", first: "Jane", last: [("Jones", true), ("SMITH", false)], email: nil, city: nil)
        let e3 = APIEntity.person("e3", first: "Bob", last: [("Brown", true)], email: "bob@example.com", city: "Lyon")
        try ([e1, e2, "", e3].joined(separator: "\n") + "\n").write(toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)

        // Without --fields the kept lines are written unchanged; any value of a multi-valued attribute counts,
        // and equals ignores case.
        let kept = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("in.ndjson"), "--filter", "equals(attributes.LastName, 'smith')"])
        #expect(kept.status == 0, "\(kept.stderr)")
        #expect(kept.stdout == e1 + "\n" + e2 + "\n")

        // payloadFields semantics: top-level fields, whole attributes, sub-attributes of nested ones;
        // attributes an entity lacks are left out.
        let selected = try runCommand(
            BuildProducts.herald,
            ["filter", "apply", dir.file("in.ndjson"), "--filter", "equals(attributes.LastName, 'smith')",
             "--fields", "uri,attributes.FirstName,attributes.Address.City"])
        #expect(selected.status == 0, "\(selected.stderr)")
        let expected = [
            #"{"uri":"entities/e1","attributes":{"FirstName":[\#(APIEntity.value("e1", "FirstName", "v1", "John", ov: true))],"#
                + #""Address":[{"type":"\#(APIEntity.type)/attributes/Address","ov":true,"value":{"City":[\#(APIEntity.subValue("e1", "Address", "a1", "City", "s1", "Paris"))]},"uri":"entities/e1/attributes/Address/a1"}]}}"#,
            #"{"uri":"entities/e2","attributes":{"FirstName":[\#(APIEntity.value("e2", "FirstName", "v1", "Jane", ov: true))]}}"#,
        ]
        #expect(selected.stdout == expected.joined(separator: "\n") + "\n")

        // No filter: every entity passes; standard input and -o work.
        let all = try runCommand(
            "/bin/sh", ["-c", #""$0" filter apply --fields uri -o "$1" < "$2""#, BuildProducts.herald, dir.file("out"), dir.file("in.ndjson")])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try String(contentsOfFile: dir.file("out"), encoding: .utf8)
            == #"{"uri":"entities/e1"}"# + "\n" + #"{"uri":"entities/e2"}"# + "\n" + #"{"uri":"entities/e3"}"# + "\n")
    }

    @Test func filterApplyWithOvOnlyLooksAtAndWritesOperationalValuesOnly() throws {
        let dir = TemporaryDirectory()
        let e1 = APIEntity.person("e1", first: "John", last: [("Smith", true)], email: nil, city: nil)
        let e2 = APIEntity.person("e2", first: "Jane", last: [("Jones", true), ("SMITH", false)], email: nil, city: nil)
        try (e1 + "\n" + e2 + "\n").write(toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let smith = try runCommand(
            BuildProducts.herald,
            ["filter", "apply", dir.file("in.ndjson"), "--filter", "equals(attributes.LastName, 'smith')", "--ov-only", "--fields", "uri"])
        #expect(smith.stdout == #"{"uri":"entities/e1"}"# + "\n", "\(smith.stderr)")
        let jones = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("in.ndjson"), "--filter", "equals(attributes.LastName, 'jones')", "--ov-only"])
        #expect(jones.status == 0)
        let entity = try JSONParser.parse(jones.stdout)
        #expect(entity["attributes"]?["LastName"]?.arrayValue?.compactMap { $0["value"]?.stringValue } == ["Jones"])
        #expect(entity["crosswalks"]?.arrayValue?.count == 1)
    }

    @Test func filterApplyNamesTheBadLineAndExitsWith2() throws {
        let dir = TemporaryDirectory()
        let e1 = APIEntity.person("e1", first: "John", last: [("Smith", true)], email: nil, city: nil)
        try (e1 + "\n\n" + #"{"uri": "entities/e2", "type": "#.appending("\n")).write(toFile: dir.file("json.ndjson"), atomically: true, encoding: .utf8)
        let badJSON = try runCommand(BuildProducts.herald, ["filter", "apply", dir.file("json.ndjson"), "--fields", "uri"])
        #expect(badJSON.status == 2)
        #expect(badJSON.stderr.contains("line 3: not valid JSON: unexpected end of input, expected a value at column 32"), "\(badJSON.stderr)")
        #expect(badJSON.stdout == #"{"uri":"entities/e1"}"# + "\n", "the lines before the bad one are written")

        try (e1 + "\n[1, 2]\n").write(toFile: dir.file("shape.ndjson"), atomically: true, encoding: .utf8)
        let notEntity = try runCommand(BuildProducts.herald, ["filter", "apply", dir.file("shape.ndjson")])
        #expect(notEntity.status == 2)
        #expect(notEntity.stderr.contains("line 2: not an entity in the API form: $: expected an object"), "\(notEntity.stderr)")

        try #"{"type": "ENTITY_CHANGED", "object": \#(e1)}"#.write(toFile: dir.file("event.ndjson"), atomically: true, encoding: .utf8)
        let event = try runCommand(BuildProducts.herald, ["filter", "apply", dir.file("event.ndjson")])
        #expect(event.status == 2)
        #expect(event.stderr.contains("line 1: not an entity in the API form: uri:"), "\(event.stderr)")
        #expect(event.stderr.contains("this looks like an event"), "\(event.stderr)")
    }

    /// Lines are checked as JSON throughout, but built and checked as entities only where the filter and the fields
    /// read them: an attribute of the wrong shape that nothing reads passes unchanged, one the filter reads is an error, and
    /// one only the fields read is an error on the lines the filter keeps.
    @Test func filterApplyChecksWholeLinesAsJSONAndTheReadPartsAsAnEntity() throws {
        let dir = TemporaryDirectory()
        let e1 = APIEntity.person("e1", first: "John", last: [("Smith", true)], email: nil, city: nil)
        let odd = e1.replacingOccurrences(of: #""attributes":{"#, with: #""attributes":{"Broken":"not a list","#)
        #expect(odd != e1)
        try (odd + "\n").write(toFile: dir.file("odd.ndjson"), atomically: true, encoding: .utf8)
        let unread = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("odd.ndjson"), "--filter", "equals(attributes.LastName, 'smith')"])
        #expect(unread.status == 0, "\(unread.stderr)")
        #expect(unread.stdout == odd + "\n")
        let read = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("odd.ndjson"), "--filter", "exists(attributes.Broken)"])
        #expect(read.status == 2)
        #expect(read.stderr.contains("line 1: not an entity in the API form: attributes.Broken: expected an array of values"), "\(read.stderr)")
        let fields = try runCommand(BuildProducts.herald, ["filter", "apply", dir.file("odd.ndjson"), "--fields", "uri,attributes.Broken"])
        #expect(fields.status == 2, "\(fields.stdout)")

        // A part only --fields reads is built for the lines the filter keeps: a dropped line's is not checked.
        let dropped = try runCommand(
            BuildProducts.herald,
            ["filter", "apply", dir.file("odd.ndjson"), "--filter", "equals(attributes.LastName, 'jones')", "--fields", "uri,attributes.Broken"])
        #expect(dropped.status == 0, "\(dropped.stderr)")
        #expect(dropped.stdout.isEmpty)
        let kept = try runCommand(
            BuildProducts.herald,
            ["filter", "apply", dir.file("odd.ndjson"), "--filter", "equals(attributes.LastName, 'smith')", "--fields", "uri,attributes.Broken"])
        #expect(kept.status == 2, "\(kept.stdout)")
        #expect(kept.stderr.contains("line 1: not an entity in the API form: attributes.Broken: expected an array of values"), "\(kept.stderr)")

        // A syntax error in a part nothing reads is still an error.
        let broken = e1.replacingOccurrences(of: #""attributes":{"#, with: #""attributes":{"Broken":[1,],"#)
        try (broken + "\n").write(toFile: dir.file("broken.ndjson"), atomically: true, encoding: .utf8)
        let syntax = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("broken.ndjson"), "--filter", "equals(attributes.LastName, 'smith')"])
        #expect(syntax.status == 2)
        #expect(syntax.stderr.contains("line 1: not valid JSON"), "\(syntax.stderr)")
        #expect(syntax.stdout.isEmpty)
    }

    @Test func filterApplyRejectsAnInvalidFilterOrField() throws {
        let dir = TemporaryDirectory()
        try (APIEntity.person("e1", first: "John", last: [("Smith", true)], email: nil, city: nil) + "\n")
            .write(toFile: dir.file("in.ndjson"), atomically: true, encoding: .utf8)
        let bad = try runCommand(
            BuildProducts.herald, ["filter", "apply", dir.file("in.ndjson"), "--filter", "equals(FirstName, 'John')"])
        #expect(bad.status == 2)
        #expect(bad.stdout.isEmpty)
        let lines = bad.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count >= 3, "\(bad.stderr)")
        #expect(lines.first == "equals(FirstName, 'John')")
        #expect(lines.dropFirst().first == "       ^")
        #expect(bad.stderr.contains("invalid: unknown property 'FirstName' at position 7"), "\(bad.stderr)")

        let field = try runCommand(BuildProducts.herald, ["filter", "apply", dir.file("in.ndjson"), "--fields", "uri,FirstName"])
        #expect(field.status == 2)
        #expect(field.stderr.contains("unknown field 'FirstName'"), "\(field.stderr)")
    }
}

/// Entities in the API form (compact, in the order `Entity.render` writes), for `filter apply`.
private enum APIEntity {
    static let type = "configuration/entityTypes/Individual"

    static func value(_ id: String, _ attribute: String, _ valueId: String, _ text: String, ov: Bool) -> String {
        #"{"type":"\#(type)/attributes/\#(attribute)","ov":\#(ov),"value":"\#(text)","uri":"entities/\#(id)/attributes/\#(attribute)/\#(valueId)"}"#
    }

    static func subValue(_ id: String, _ attribute: String, _ valueId: String, _ sub: String, _ subId: String, _ text: String) -> String {
        #"{"type":"\#(type)/attributes/\#(attribute)/attributes/\#(sub)","ov":true,"value":"\#(text)","uri":"entities/\#(id)/attributes/\#(attribute)/\#(valueId)/\#(sub)/\#(subId)"}"#
    }

    static func person(_ id: String, first: String, last: [(String, Bool)], email: String?, city: String?) -> String {
        var attributes = [#""FirstName":[\#(value(id, "FirstName", "v1", first, ov: true))]"#]
        let lastNames = last.enumerated().map { value(id, "LastName", "l\($0.offset)", $0.element.0, ov: $0.element.1) }
        attributes.append(#""LastName":[\#(lastNames.joined(separator: ","))]"#)
        if let email { attributes.append(#""Email":[\#(value(id, "Email", "m1", email, ov: true))]"#) }
        if let city {
            let subs = #""City":[\#(subValue(id, "Address", "a1", "City", "s1", city))],"Zip":[\#(subValue(id, "Address", "a1", "Zip", "s2", "75001"))]"#
            attributes.append(
                #""Address":[{"type":"\#(type)/attributes/Address","ov":true,"value":{\#(subs)},"uri":"entities/\#(id)/attributes/Address/a1"}]"#)
        }
        return #"{"uri":"entities/\#(id)","type":"\#(type)","createdBy":"test","createdTime":1700000000000,"updatedBy":"test","updatedTime":1700000000001,"#
            + #""attributes":{\#(attributes.joined(separator: ","))},"#
            + #""crosswalks":[{"uri":"entities/\#(id)/crosswalks/x1","type":"configuration/sources/CRM","value":"c-\#(id)","createDate":1700000000000,"updateDate":1700000000000,"attributes":["entities/\#(id)/attributes/FirstName/v1"]}]}"#
    }
}
