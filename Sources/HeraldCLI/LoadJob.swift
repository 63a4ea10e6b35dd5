import Foundation
import HeraldHTTPClient
import HeraldJSON

/// Reads lines of a file with `getline` (no Foundation string splitting).
final class LineReader {
    private var file: UnsafeMutablePointer<FILE>?
    private var buffer: UnsafeMutablePointer<CChar>? = nil
    private var capacity = 0
    private(set) var lineNumber = 0

    init?(path: String) {
        guard let f = fopen(path, "r") else { return nil }
        file = f
    }

    deinit { close() }

    /// Closes the file (once). `LoadJob.run` calls it on the thread that will exit: left to `deinit`, the `fclose`
    /// could run on a worker thread that releases the job last, while `exit` walks the open streams, and the two
    /// corrupted the heap (`malloc_consolidate(): invalid chunk size` after an interrupted load).
    func close() {
        if let file { fclose(file) }
        file = nil
        free(buffer)
        buffer = nil
        capacity = 0
    }

    /// The next line's bytes without the newline, or nil at the end (or once closed).
    func next() -> [UInt8]? {
        guard let file else { return nil }
        let n = getline(&buffer, &capacity, file)
        guard n >= 0, let buffer else { return nil }
        lineNumber += 1
        var length = n
        while length > 0 && (buffer[length - 1] == 0x0A || buffer[length - 1] == 0x0D) { length -= 1 }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: length) { [UInt8](UnsafeBufferPointer(start: $0, count: length)) }
    }

    /// Number of lines that hold something other than white space (what `herald load` sends).
    static func countRecords(path: String) -> Int {
        guard let f = fopen(path, "r") else { return 0 }
        defer { fclose(f) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var count = 0
        var lineHasContent = false
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 1 << 20, f) }
            if n == 0 { break }
            for i in 0..<n {
                let c = chunk[i]
                if c == 0x0A {
                    if lineHasContent { count += 1 }
                    lineHasContent = false
                } else if c != 0x20 && c != 0x09 && c != 0x0D {
                    lineHasContent = true
                }
            }
        }
        return lineHasContent ? count + 1 : count
    }
}

/// A bulk load: batches of lines posted by several threads; tracks the contiguous committed prefix.
final class LoadJob: @unchecked Sendable {
    struct Failure {
        var line: Int
        var message: String
    }

    struct Summary {
        var sent = 0
        var accepted = 0
        var created = 0
        var updated = 0
        var unchanged = 0
        var failures: [Failure] = []
        var stopReason: String?
        /// Every line up to here is committed (or was rejected/skipped on purpose).
        var committedThrough = 0
        var seconds: Double = 0
    }

    private struct Batch {
        var number: Int
        var lines: [Int]
        var body: [UInt8]
        var lastLine: Int
    }

    private let reader: LineReader
    private let endpoint: String
    private let token: String?
    private let batchSize: Int
    private let retries: Int
    private let startLine: Int
    let total: Int
    private let lock = NSLock()
    private var state = Summary()
    private var nextBatchNumber = 0
    private var finishedBatches: [Int: Int] = [:]  // batch number → last line
    private var nextToCommit = 0
    private var stopped = false
    private let started = Date()

    init(
        reader: LineReader, endpoint: String, token: String?, batchSize: Int, retries: Int, startLine: Int, total: Int
    ) {
        self.retries = retries
        self.reader = reader
        self.endpoint = endpoint
        self.token = token
        self.batchSize = batchSize
        self.startLine = startLine
        self.total = total
        state.committedThrough = startLine - 1
    }

    func run(parallel: Int) {
        let group = DispatchGroup()
        for _ in 0..<parallel {
            group.enter()
            let thread = Thread { [self] in
                worker()
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        // Every worker is past its last `nextBatch` (the reader is only read there, under the lock).
        lock.withLock {
            reader.close()
            state.seconds = Date().timeIntervalSince(started)
        }
    }

    /// Records done so far, for the progress display.
    var progress: (done: Int, rejected: Int, seconds: Double) {
        lock.withLock { (state.sent, state.failures.count, Date().timeIntervalSince(started)) }
    }

    func summary() -> Summary { lock.withLock { state } }

    private func nextBatch() -> Batch? {
        lock.lock()
        defer { lock.unlock() }
        if stopped { return nil }
        var body: [UInt8] = [UInt8(ascii: "[")]
        var lines: [Int] = []
        var lastLine = reader.lineNumber
        while lines.count < batchSize, let line = reader.next() {
            let number = reader.lineNumber
            lastLine = number
            if number < startLine { continue }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            do {
                _ = try JSONParser.parse(line)
            } catch {
                state.failures.append(Failure(line: number, message: "MALFORMED_JSON: \(error)"))
                state.sent += 1
                continue
            }
            if !lines.isEmpty { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: line)
            lines.append(number)
        }
        // End of file (skipped and malformed lines were already accounted for).
        if lines.isEmpty { return nil }
        body.append(UInt8(ascii: "]"))
        let batch = Batch(number: nextBatchNumber, lines: lines, body: body, lastLine: lastLine)
        nextBatchNumber += 1
        return batch
    }

    private func worker() {
        let client = HTTPClient(timeout: 120)
        var headers = [("Content-Type", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        while let batch = nextBatch() {
            var attempt = 0
            while true {
                attempt += 1
                do {
                    let response = try client.send(method: "POST", url: endpoint, headers: headers, body: batch.body)
                    if response.status == 200 {
                        record(batch, response: response.body)
                        break
                    }
                    let retryable = response.status >= 500 || response.status == 429
                    if !retryable || attempt > retries {
                        stop(batch, reason: "HTTP \(response.status) for lines \(batch.lines.first!)–\(batch.lastLine): \(response.bodyText.prefix(500))")
                        return
                    }
                } catch {
                    if attempt > retries {
                        stop(batch, reason: "\(error) (lines \(batch.lines.first!)–\(batch.lastLine))")
                        return
                    }
                }
                Thread.sleep(forTimeInterval: min(8, 0.25 * Double(1 << attempt)))
            }
        }
    }

    private func stop(_ batch: Batch, reason: String) {
        lock.withLock {
            if state.stopReason == nil { state.stopReason = reason }
            stopped = true
        }
    }

    private func record(_ batch: Batch, response: [UInt8]) {
        var results: [JSONValue] = []
        if case .array(let a)? = try? JSONParser.parse(response) { results = a }
        lock.lock()
        defer { lock.unlock() }
        state.sent += batch.lines.count
        for (i, line) in batch.lines.enumerated() {
            guard i < results.count else {
                state.failures.append(Failure(line: line, message: "no result in the server's answer"))
                continue
            }
            let r = results[i]
            if r["successful"]?.boolValue == true {
                state.accepted += 1
                switch r["status"]?.stringValue {
                case "created": state.created += 1
                case "updated": state.updated += 1
                default: state.unchanged += 1
                }
            } else {
                let e = r["errors"]
                let code = e?["errorCode"]?.stringValue ?? "ERROR"
                let message = e?["errorMessage"]?.stringValue ?? ""
                let path = e?["path"]?.stringValue ?? ""
                let inner = path.drop { $0 != "." }  // "[3].attributes.X" → ".attributes.X"
                state.failures.append(
                    Failure(line: line, message: "\(code)\(inner.isEmpty ? "" : " at \(inner.dropFirst())"): \(message)"))
            }
        }
        finishedBatches[batch.number] = batch.lastLine
        while let last = finishedBatches.removeValue(forKey: nextToCommit) {
            state.committedThrough = max(state.committedThrough, last)
            nextToCommit += 1
        }
    }
}
