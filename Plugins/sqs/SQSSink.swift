import HeraldSinkSDK
import HeraldSinkSupport
import Synchronization

/// Sends Herald's messages to AWS SQS with SendMessageBatch (AWS JSON 1.0, Signature Version 4).
///
/// A destination's `name` is the queue name. Each host batch (up to 100 messages) is split into
/// requests of at most 10 entries and 1 MiB; headers become String message attributes; FIFO queues
/// (`.fifo`) get the entity URI as MessageGroupId and Herald's message id as MessageDeduplicationId.
///
/// Asynchronous: `send` plans the requests and queues them for `maxInFlight` worker threads, each
/// with its own kept-alive HTTP connection; the host batch completes once, when its last request is
/// answered. Requests of a FIFO queue's batch go out one after another on one thread, in order.
public final class SQSSink: SinkPlugin, @unchecked Sendable {
    public static let name = "sqs"
    public static let version = "1.0.0"
    public static let summary = "Sends messages to AWS SQS standard and FIFO queues (SendMessageBatch, SigV4)"
    public static let capabilities: SinkCapabilities = [.async, .orderingKey]
    public static var configSchema: String? { SQSConfig.schema }

    /// Host batches can be larger than one request: the sink splits them.
    public static let maxBatchMessages: UInt32 = 100

    public let config: SQSConfig
    public var credentialSource: CredentialSource { credentials.source }
    let credentials: CredentialProvider
    let gate: HostGate
    let dispatcher: RequestDispatcher<SQSClient>
    private let warnedAboutAttributes = Atomic<Bool>(false)
    /// The destination's queue is FIFO (its URL, from the destination's name, ends in `.fifo`).
    let isFIFO: Bool

    public static func validate(config: String) throws {
        _ = try SQSConfig.parse(config)
    }

    public init(config: String, host: SinkHost) throws {
        self.config = try SQSConfig.read(config) { host.log(.warning, $0) }
        let (credentials, source) = try CredentialResolver.resolve(self.config)
        gate = HostGate(host: host)
        self.credentials = CredentialProvider(
            credentials: credentials, source: source, region: self.config.region, service: "sqs", reporter: gate)
        dispatcher = RequestDispatcher(sinkName: "sqs", gate: gate)
        let parsed = self.config
        isFIFO = host.destinationName.flatMap { try? parsed.queueURL(for: $0) }.map(SQSConfig.isFIFO(queueURL:)) ?? false
    }

    /// `max_message_bytes` is the configured limit less 60 bytes: Herald counts a header as name + value,
    /// SQS counts name + `String` + value, so a message Herald lets through always fits SQS's count
    /// (with `largeObjectsSupport`, Herald shrinks it instead of the sink dead-lettering it).
    public var limits: SinkPluginLimits {
        SinkPluginLimits(
            maxMessageBytes: UInt64(
                config.maxMessageBytes - SQSRequestBuilder.maxAttributes * SQSRequestBuilder.attributeTypeBytes),
            maxBatchMessages: SQSSink.maxBatchMessages, maxBatchBytes: 0, maxInFlight: UInt32(config.maxInFlight),
            // A FIFO queue keeps each message group (the entity) in the order it receives them: Herald must send
            // them in its order, across batches and retries, whatever the destination's `ordering` says.
            requiresKeyOrder: isFIFO)
    }

    public func start() throws {
        let credentials = self.credentials
        let timeout = config.timeoutMs
        let verify = config.verifyTLS
        dispatcher.start(count: config.maxInFlight) {
            SQSClient(credentials: credentials, timeoutMs: timeout, verifyTLS: verify)
        }
        let target =
            config.queueUrl ?? "\(config.endpoint ?? config.defaultEndpoint)/\(config.accountId ?? "")/{destination}"
        let key = credentials.credentials
        var from = "credentials from \(credentials.source)"
        if case .sharedFile = credentials.source { from += " (re-read when it changes)" }
        gate.log(
            .info,
            "sqs sink sending to \(target) (region \(config.region), \(from), "
                + "key \(key.accessKeyId)\(key.sessionToken == nil ? "" : " with a session token"))")
        if !config.verifyTLS { gate.log(.warning, "verifyTLS is off: SQS's TLS certificate is not checked") }
    }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        let queueURL: String
        do {
            queueURL = try config.queueURL(for: batch.destination)
        } catch {
            gate.setHealth(false, error.message)
            throw error
        }
        guard let endpoint = config.requestURL(forQueueURL: queueURL) else {
            throw SinkError(.permanent, "'\(queueURL)' is not an http:// or https:// URL")
        }
        let fifo = SQSConfig.isFIFO(queueURL: queueURL)
        var messages: [SQSOutgoingMessage] = []
        messages.reserveCapacity(batch.count)
        for i in 0..<batch.count {
            let m = batch[i]
            messages.append(
                SQSOutgoingMessage(
                    id: m.id, key: m.key, body: m.bodyBytes, headers: m.headers.map { SQSAttribute($0.name, $0.value) })
            )
        }
        let plan = SQSRequestBuilder(maxMessageBytes: config.maxMessageBytes, fifo: fifo).plan(messages)
        if let example = plan.droppedAttributes.first,
            warnedAboutAttributes.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        {
            gate.log(
                .warning,
                "some messages have headers SQS cannot carry as attributes (over 10, empty values, or names SQS refuses); "
                    + "they are sent without them (logged once), e.g. \(example)")
        }
        try dispatcher.dispatch(
            plan.dispatchPlan(inOrder: fifo), messageCount: batch.count, completion: completion
        ) { [gate, stopping = dispatcher.stopping] request, client in
            SQSSink.sendRequests(
                request, client: client, queueURL: queueURL, endpoint: endpoint, gate: gate, stopping: stopping)
        }
    }

    /// Sends a job's requests in turn on one worker thread: one result per entry, in the batch's
    /// numbering. A FIFO batch's later requests are not sent once the instance is stopping.
    ///
    /// A refusal (credentials, permission, clock: `RETRY`) would meet every other request too: the
    /// job's later requests and the batch's requests not started yet take its result unsent. Other
    /// failures do not skip anything: a 5xx or a `PERMANENT` answer is about its own request (and a
    /// `PERMANENT` result must never reach a message that was not sent).
    static func sendRequests(
        _ request: SQSBatchRequest, client: SQSClient, queueURL: String, endpoint: ParsedURL, gate: HostGate,
        stopping: StopFlag
    ) -> RequestOutcome {
        var results: [(Int, SinkResult)] = []
        results.reserveCapacity(request.indices.count)
        var skip: SinkResult?
        for entries in request.requests {
            if stopping.isSet || skip != nil {
                let r = skip ?? SinkResult(.retry, error: "the sqs sink stopped before sending")
                results += entries.map { ($0.index, r) }
                continue
            }
            let outcome = client.send(entries, queueURL: queueURL, endpoint: endpoint)
            account(outcome, gate)
            for (e, r) in zip(entries, outcome.results) { results.append((e.index, r)) }
            skip = outcome.skipOthers
        }
        return RequestOutcome(results: results, skipOthers: skip)
    }

    /// Health (every time a response says something about it: the host also marks the instance
    /// unhealthy on its own, and a later success must clear that) and counters.
    private static func account(_ outcome: SQSResponseOutcome, _ gate: HostGate) {
        switch outcome.health {
        case .healthy: gate.setHealth(true, "")
        case .unhealthy(let reason): gate.setHealth(false, reason)
        case .unchanged: break
        }
        let ok = outcome.results.count(where: { $0.status == .ok })
        gate.counter("requests", 1)
        gate.counter("messages_sent", UInt64(ok))
        gate.counter("messages_failed", UInt64(outcome.results.count - ok))
    }

    /// Requests not started complete RETRY without sending; running ones get until the deadline;
    /// then nothing more reaches the host.
    public func stop(deadlineMs: UInt32) {
        dispatcher.stop(deadlineMs: deadlineMs)
    }
}
