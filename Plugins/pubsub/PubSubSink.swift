import Foundation
import HeraldSinkSDK
import HeraldSinkSupport

/// Publishes to Google Cloud Pub/Sub over its REST API (`topics.publish`).
///
/// Asynchronous: `send` plans a batch into publish requests and queues them on `concurrency`
/// worker threads, each with its own connection; the last request of a batch completes it. See
/// `PublishRequestBuilder` for the limits and `PubSubPublisher` for how answers become results.
public final class PubSubSink: SinkPlugin {
    public static let name = "pubsub"
    public static let version = "1.0.0"
    public static let summary = "Publishes to Google Cloud Pub/Sub topics (REST; service-account key or the emulator)"
    public static let capabilities: SinkCapabilities = [.async, .orderingKey]
    public static let configSchema: String? = PubSubConfig.schema

    public let config: PubSubConfig
    let host: SinkHost
    let gate: HostGate
    let stopping = StopFlag()
    let publisher: PubSubPublisher
    private var workers: RequestWorkers<PubSubClient>?
    private var mode: PubSubConfig.Mode?

    public static func validate(config: String) throws {
        _ = try PubSubConfig.parse(config)
    }

    public init(config: String, host: SinkHost) throws {
        self.config = try PubSubConfig.parse(config)
        self.host = host
        gate = HostGate(host: host)
        publisher = PubSubPublisher(config: self.config, reporter: gate)
    }

    public var limits: SinkPluginLimits {
        SinkPluginLimits(
            maxMessageBytes: UInt64(publisher.builder.declaredMaxMessageBytes),
            maxBatchMessages: UInt32(PubSubLimits.maxMessagesPerRequest),
            maxBatchBytes: UInt64(config.maxRequestBytes),
            maxInFlight: UInt32(config.concurrency))
    }

    public func start() throws {
        let mode = try config.resolveMode(environment: ProcessInfo.processInfo.environment)
        var auth: ServiceAccountAuth?
        let baseURL: String
        switch mode {
        case .emulator(let url):
            baseURL = url
            gate.log(.info, "publishing to the Pub/Sub emulator at \(url) (no credentials)")
        case .serviceAccount(let file, let url):
            baseURL = url
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw SinkError(
                    .permanent, "cannot read the service-account key file \(file): \(error.localizedDescription)")
            }
            let key = try ServiceAccountKey.parse(text, source: file)
            if key.tokenURI.lowercased().hasPrefix("http://") && !config.allowPlainHTTP {
                throw SinkError(
                    .permanent,
                    "the key file's token_uri \(key.tokenURI) is plain HTTP; set \"allowPlainHTTP\": true to allow it (tests only)"
                )
            }
            let a = ServiceAccountAuth(key: key, timeoutMs: config.timeoutMs, connectTimeoutMs: config.connectTimeoutMs)
            try a.checkKey()
            auth = a
            gate.log(.info, "publishing to \(url) as \(key.clientEmail)")
        }
        self.mode = mode
        let timeout = config.timeoutMs
        let connect = config.connectTimeoutMs
        let authority = auth
        workers = RequestWorkers(count: config.concurrency, name: "herald-pubsub") {
            PubSubClient(baseURL: baseURL, auth: authority, timeoutMs: timeout, connectTimeoutMs: connect)
        }
    }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        guard let workers else { throw SinkError(.retry, "the pubsub sink is not started") }
        let messages = batch.messages
        let plan = publisher.builder.plan(messages, ordered: batch.isOrdered)
        let topic = config.topicPath(for: batch.destination)
        if plan.requests.isEmpty {
            gate.complete(completion, plan.rejected.sorted { $0.index < $1.index }.map(\.result))
            return
        }
        let tracker = BatchTracker(count: messages.count, requests: plan.requests.count)
        for (i, r) in plan.rejected { tracker.set(i, r) }
        let publisher = self.publisher
        let gate = self.gate
        let stopping = self.stopping
        let jobs: [RequestWorkers<PubSubClient>.Job] = plan.requests.map { request in
            { client in
                let final: [SinkResult]?
                if stopping.isSet {
                    let r = SinkResult(.retry, error: "the pubsub sink stopped before sending")
                    final = tracker.finish(request.indices.map { ($0, r) })
                } else if let skip = tracker.skipResult {
                    final = tracker.finish(request.indices.map { ($0, skip) })
                } else {
                    let outcome = publisher.send(request, topicPath: topic, client: client)
                    let published = outcome.results.filter { $0.1.status == .ok }.count
                    gate.counter("messages_published", UInt64(published))
                    final = tracker.finish(outcome.results, skipOthers: outcome.skipOthers)
                }
                if let final { gate.complete(completion, final) }
            }
        }
        if !workers.submit(jobs) {
            gate.complete(
                completion,
                Array(repeating: SinkResult(.retry, error: "the pubsub sink is stopping"), count: messages.count))
        }
    }

    deinit {
        // Destroyed without on_stop: let the worker threads end.
        stopping.raise()
        gate.close()
        workers?.shutdown(deadline: Date())
    }

    public func stop(deadlineMs: UInt32) {
        stopping.raise()
        workers?.shutdown(deadline: Date().addingTimeInterval(Double(deadlineMs) / 1000))
        gate.close()
        workers = nil
    }
}
