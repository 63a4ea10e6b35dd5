import HeraldJSON
import HeraldSinkSDK
import HeraldSinkSupport

/// One message as the sink sends it, copied out of the host's batch.
public struct SQSOutgoingMessage: Sendable {
    /// Herald's stable message id (the FIFO deduplication id).
    public var id: String
    /// The entity URI (the FIFO group id).
    public var key: String
    public var body: [UInt8]
    /// Herald's headers, in order; they become String message attributes.
    public var headers: [SQSAttribute]

    public init(id: String, key: String, body: [UInt8], headers: [SQSAttribute]) {
        self.id = id
        self.key = key
        self.body = body
        self.headers = headers
    }
}

/// A String message attribute.
public struct SQSAttribute: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One entry of a SendMessageBatch request.
public struct SQSEntry: Sendable {
    /// Position of the message in the host's batch.
    public var index: Int
    public var body: [UInt8]
    public var attributes: [SQSAttribute]
    public var groupId: String?
    public var deduplicationId: String?
    /// The size AWS counts: body plus, per attribute, name + `String` + value bytes.
    public var size: Int
}

/// How a host batch is sent: requests of at most 10 entries and 1 MiB, plus the messages that
/// were answered without sending them (too large, empty).
public struct SQSRequestPlan: Sendable {
    public var requests: [[SQSEntry]] = []
    /// Results decided before sending, by position in the host's batch.
    public var rejected: [(index: Int, result: SinkResult)] = []
    /// Messages that lost attributes (over 10, empty values, names SQS refuses); for a log line.
    public var droppedAttributes: [String] = []

    /// The plan for the shared `RequestDispatcher`: one job per request, or with `inOrder` (a FIFO
    /// queue) one job for all the requests, sent one after another on one thread (SQS keeps order
    /// within a group only in the order requests arrive).
    public func dispatchPlan(inOrder: Bool) -> RequestPlan<SQSBatchRequest> {
        var out = RequestPlan<SQSBatchRequest>()
        out.rejected = rejected
        if inOrder {
            if !requests.isEmpty { out.requests = [SQSBatchRequest(requests)] }
        } else {
            out.requests = requests.map { SQSBatchRequest([$0]) }
        }
        return out
    }
}

/// What one dispatcher job sends: one SendMessageBatch request, or several sent in turn (FIFO).
public struct SQSBatchRequest: BatchRequest {
    /// The SendMessageBatch requests, in sending order.
    public let requests: [[SQSEntry]]
    public let indices: [Int]

    public init(_ requests: [[SQSEntry]]) {
        self.requests = requests
        indices = requests.flatMap { $0.map(\.index) }
    }
}

/// Turns a host batch into SendMessageBatch requests (AWS JSON 1.0) within SQS's limits.
///
/// Limits enforced here because not every SQS implementation does (moto does not count attributes):
/// - a message's body plus its attributes (name + `String` + value bytes each) ≤ `maxMessageBytes`,
///   else TOO_LARGE;
/// - at most 10 attributes per message: the first 10 usable headers are sent, the rest dropped;
/// - at most 10 entries and 1,048,576 bytes (the sum of message sizes) per request.
public struct SQSRequestBuilder: Sendable {
    public static let maxEntriesPerRequest = 10
    public static let maxRequestBytes = 1_048_576
    public static let maxAttributes = 10
    /// Bytes AWS counts for an attribute's data type (`String`), which Herald's own size check does not.
    public static let attributeTypeBytes = 6

    public var maxMessageBytes: Int
    public var fifo: Bool

    public init(maxMessageBytes: Int, fifo: Bool) {
        self.maxMessageBytes = maxMessageBytes
        self.fifo = fifo
    }

    /// Splits `messages` into requests, in order.
    public func plan(_ messages: [SQSOutgoingMessage]) -> SQSRequestPlan {
        var plan = SQSRequestPlan()
        var current: [SQSEntry] = []
        var currentBytes = 0
        for (index, m) in messages.enumerated() {
            if m.body.isEmpty {
                plan.rejected.append((index, SinkResult(.permanent, error: "SQS does not accept empty messages")))
                continue
            }
            if let problem = SQSRequestBuilder.bodyProblem(m.body) {
                plan.rejected.append((index, SinkResult(.permanent, error: problem)))
                continue
            }
            let (attributes, dropped) = SQSRequestBuilder.attributes(from: m.headers)
            if !dropped.isEmpty { plan.droppedAttributes.append("\(m.id): \(dropped.joined(separator: ", "))") }
            let size = SQSRequestBuilder.messageSize(bodyBytes: m.body.count, attributes: attributes)
            if size > maxMessageBytes {
                let reason =
                    "message is \(size) bytes (body \(m.body.count) and \(attributes.count) attributes, as SQS counts), "
                    + "the limit is \(maxMessageBytes)"
                plan.rejected.append((index, SinkResult(.tooLarge, error: reason)))
                continue
            }
            let entry = SQSEntry(
                index: index, body: m.body, attributes: attributes,
                groupId: fifo ? SQSRequestBuilder.fifoIdentifier(m.key) : nil,
                deduplicationId: fifo ? SQSRequestBuilder.fifoIdentifier(m.id) : nil, size: size)
            if !current.isEmpty
                && (current.count == SQSRequestBuilder.maxEntriesPerRequest
                    || currentBytes + size > SQSRequestBuilder.maxRequestBytes)
            {
                plan.requests.append(current)
                current = []
                currentBytes = 0
            }
            current.append(entry)
            currentBytes += size
        }
        if !current.isEmpty { plan.requests.append(current) }
        return plan
    }

    /// The size SQS counts for a message.
    public static func messageSize(bodyBytes: Int, attributes: [SQSAttribute]) -> Int {
        attributes.reduce(bodyBytes) { $0 + $1.name.utf8.count + attributeTypeBytes + $1.value.utf8.count }
    }

    /// The first 10 headers SQS accepts as attributes, and the names of the others.
    ///
    /// Headers with an empty value (SQS refuses empty String attributes) or a name SQS refuses are
    /// skipped; past the 10th usable header the rest are dropped.
    public static func attributes(from headers: [SQSAttribute]) -> (kept: [SQSAttribute], dropped: [String]) {
        var kept: [SQSAttribute] = []
        var dropped: [String] = []
        var seen = Set<String>()
        for h in headers {
            if h.value.isEmpty || !isValidAttributeName(h.name) || seen.contains(h.name) || kept.count == maxAttributes
            {
                dropped.append(h.name)
                continue
            }
            seen.insert(h.name)
            kept.append(h)
        }
        return (kept, dropped)
    }

    /// SQS attribute names: up to 256 of `A-Z a-z 0-9 _ - .`, no leading or trailing `.`, no `..`,
    /// not starting with `AWS.` or `Amazon.` (any case).
    public static func isValidAttributeName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 256, bytes.first != 0x2E, bytes.last != 0x2E else { return false }
        var previousDot = false
        for b in bytes {
            let ok =
                (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
                || b == 0x2D
                || b == 0x2E
            if !ok || (b == 0x2E && previousDot) { return false }
            previousDot = b == 0x2E
        }
        let lower = name.lowercased()
        return !lower.hasPrefix("aws.") && !lower.hasPrefix("amazon.")
    }

    /// A FIFO group or deduplication id: the value itself when it is 1 to 128 printable ASCII
    /// characters (what SQS accepts), else its SHA-256 in hex (stable, so one entity keeps one group).
    public static func fifoIdentifier(_ value: String) -> String {
        let bytes = value.utf8
        if !bytes.isEmpty && bytes.count <= 128 && bytes.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) { return value }
        return Crypto.sha256Hex(value)
    }

    /// Why SQS would refuse a body: not UTF-8 text, or a control character other than tab, line feed
    /// and carriage return. Herald's bodies (JSON, or gzip + base64) never have either.
    static func bodyProblem(_ body: [UInt8]) -> String? {
        let control = body.withUnsafeBufferPointer { b -> UInt8? in
            for c in b where c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D { return c }
            return nil
        }
        if let control {
            return "the body contains the control character 0x\(String(control, radix: 16)), which SQS does not accept"
        }
        if String(validating: body, as: UTF8.self) == nil {
            return "the body is not UTF-8 text, which SQS requires (binary payloads need format JSON_ZIP_BASE64)"
        }
        return nil
    }

    /// The JSON body of one SendMessageBatch request. Entry ids are the positions in the request ("0"…"9").
    public static func body(queueURL: String, entries: [SQSEntry]) -> [UInt8] {
        var w = JSONWriter(capacity: entries.reduce(256) { $0 + $1.size + $1.size / 8 + 128 })
        w.beginObject()
        w.key("QueueUrl")
        w.string(queueURL)
        w.key("Entries")
        w.beginArray()
        for (i, e) in entries.enumerated() {
            w.beginObject()
            w.key("Id")
            w.string(String(i))
            w.key("MessageBody")
            e.body.withUnsafeBufferPointer { w.string(utf8: $0) }
            if !e.attributes.isEmpty {
                w.key("MessageAttributes")
                w.beginObject()
                for a in e.attributes {
                    w.key(a.name)
                    w.beginObject()
                    w.key("DataType")
                    w.string("String")
                    w.key("StringValue")
                    w.string(a.value)
                    w.endObject()
                }
                w.endObject()
            }
            if let g = e.groupId {
                w.key("MessageGroupId")
                w.string(g)
            }
            if let d = e.deduplicationId {
                w.key("MessageDeduplicationId")
                w.string(d)
            }
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }
}
