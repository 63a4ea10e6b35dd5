import Foundation
import HeraldSinkSDK
import HeraldTestSupport
import Testing

@testable import HeraldFileSinkCore

/// The file sink's own pieces, in process (`Tests/HeraldDeliveryTests/FileSinkTests.swift` runs it under the daemon).
@Suite struct FileSinkUnitTests {
    func lines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.isEmpty || text.hasSuffix("\n"), "the file ends in a partial line")
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func eachMessageIsOneLineWithHeadersKeyAndTheExactBody() throws {
        let dir = TemporaryDirectory()
        let test = SinkTestHost(destination: "events")
        let sink = try FileSink(config: #"{"path": "\#(dir.path)/out-{destination}.ndjson", "maxMessageBytes": 64}"#, host: test.host)
        try sink.start()
        let body = "{\"a\": \"line\\nbreak\", \"q\": \"\\\"\"}\n"
        let batch = test.batch([
            .init(id: "1", key: "entities/1", body: body, headers: [("eventType", "ENTITY_CREATED"), ("tenantId", "t")]),
            .init(id: "2", key: "entities/2", body: String(repeating: "x", count: 65)),
            .init(id: "3", key: "entities/3", body: "é"),
        ])
        try sink.send(batch.batch, completion: batch.completion)
        let results = try #require(test.results(batch.id), "a synchronous sink completes inside send")
        #expect(results.map(\.status) == [.ok, .tooLarge, .ok])
        #expect(results[1].error?.contains("65 bytes, the limit is 64") == true)
        let written = try lines(dir.file("out-events.ndjson"))
        #expect(written.count == 2)
        #expect(written[0]["key"] as? String == "entities/1" && written[0]["body"] as? String == body)
        #expect(written[0]["headers"] as? [String: String] == ["eventType": "ENTITY_CREATED", "tenantId": "t"])
        #expect(written[1]["key"] as? String == "entities/3" && written[1]["body"] as? String == "é")
        #expect(test.counter("lines_written") == 2)
        sink.stop(deadlineMs: 1000)
    }

    @Test func everySpellingOfAPathIsOneSharedFileClosedWithItsLastHolder() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("sub"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.file("link"), withDestinationPath: dir.file("sub"))
        let a = try OpenFiles.acquire(dir.file("sub/f.ndjson"))
        let b = try OpenFiles.acquire(dir.file("link/./f.ndjson"))
        let c = try OpenFiles.acquire(dir.file("sub/../sub/f.ndjson"))
        #expect(a === b && b === c)
        #expect(a.holders == 3)
        OpenFiles.release(b)
        OpenFiles.release(c)
        #expect(a.holders == 1)
        OpenFiles.release(a)
        let d = try OpenFiles.acquire(dir.file("sub/f.ndjson"))
        #expect(d !== a, "the file was not closed with its last holder")
        OpenFiles.release(d)
    }

    @Test func aShortWriteIsCutBackToTheLastWholeLineAndTheRestRetried() throws {
        let disk: TmpfsMount
        do {
            disk = try TmpfsMount(sizeKB: 64)
        } catch {
            Issue.record("this test mounts a tmpfs: run it as root (\(error))")
            return
        }
        defer { disk.unmount() }
        let test = SinkTestHost(destination: "events")
        let path = disk.path + "/out.ndjson"
        let sink = try FileSink(config: #"{"path": "\#(path)"}"#, host: test.host)
        try sink.start()
        // 100 lines of ~1 KB into 64 KB: the write stops part-way through a line.
        let messages = (0..<100).map { SinkTestHost.Message(id: "\($0)", key: "k\($0)", body: String(repeating: "y", count: 1000)) }
        let batch = test.batch(messages)
        try sink.send(batch.batch, completion: batch.completion)
        let results = try #require(test.results(batch.id))
        let ok = results.prefix { $0.status == .ok }.count
        #expect(ok > 0 && ok < 100)
        #expect(results[ok...].allSatisfy { $0.status == .retry && $0.error?.contains("failed after") == true })
        let written = try lines(path)
        #expect(written.count == ok, "the lines in the file are exactly the messages completed OK")
        #expect(test.health.last?.healthy == false)
        // Once there is room, the retried messages go in whole.
        try disk.resize(sizeKB: 1024)
        let retry = test.batch(Array(messages[ok...]))
        try sink.send(retry.batch, completion: retry.completion)
        #expect(test.results(retry.id)?.allSatisfy { $0.status == .ok } == true)
        #expect(try lines(path).count == 100)
        #expect(test.health.last?.healthy == true)
        #expect(test.logs.contains { $0.message.contains("works again") })
        sink.stop(deadlineMs: 1000)
    }
}
