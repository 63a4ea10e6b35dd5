import Foundation
import HeraldSinkSDK
import HeraldSinkSupport

/// Publishes to Google Cloud Pub/Sub over its REST API (`topics.publish`).
///
/// Asynchronous: `send` plans a batch into publish requests and queues them on `maxInFlight`
/// worker threads, each with its own connection; the last request of a batch completes it. See
/// `PubSubRequestBuilder` for the limits and `PubSubPublisher` for how answers become results.
public final class PubSubSink: SinkPlugin {
    public static let name = "pubsub"
    public static let version = "1.0.0"
    public static let summary = "Publishes to Google Cloud Pub/Sub topics (REST; service-account key or the emulator)"
    public static let capabilities: SinkCapabilities = [.async, .orderingKey]
    public static var configSchema: String? { PubSubConfig.schema }

    public let config: PubSubConfig
    let host: SinkHost
    let gate: HostGate
    let dispatcher: RequestDispatcher<PubSubClient>
    let publisher: PubSubPublisher
    private var mode: PubSubConfig.Mode?

    public static func validate(config: String) throws {
        _ = try PubSubConfig.parse(config)
    }

    public init(config: String, host: SinkHost) throws {
        self.config = try PubSubConfig.read(config) { host.log(.warning, $0) }
        self.host = host
        gate = HostGate(host: host)
        dispatcher = RequestDispatcher(sinkName: "pubsub", gate: gate)
        publisher = PubSubPublisher(config: self.config, reporter: gate)
    }

    public var limits: SinkPluginLimits {
        SinkPluginLimits(
            maxMessageBytes: UInt64(publisher.builder.declaredMaxMessageBytes),
            maxBatchMessages: UInt32(PubSubLimits.maxMessagesPerRequest),
            maxBatchBytes: UInt64(config.maxRequestBytes),
            maxInFlight: UInt32(config.maxInFlight))
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
        dispatcher.start(count: config.maxInFlight) {
            PubSubClient(baseURL: baseURL, auth: authority, timeoutMs: timeout, connectTimeoutMs: connect)
        }
    }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        let messages = batch.messages
        let plan = publisher.builder.plan(messages, ordered: batch.isOrdered)
        let topic = config.topicPath(for: batch.destination)
        let publisher = self.publisher
        let gate = self.gate
        try dispatcher.dispatch(plan, messageCount: messages.count, completion: completion) { request, client in
            let outcome = publisher.send(request, topicPath: topic, client: client)
            gate.counter("messages_published", UInt64(outcome.results.filter { $0.1.status == .ok }.count))
            return outcome
        }
    }

    public func stop(deadlineMs: UInt32) {
        dispatcher.stop(deadlineMs: deadlineMs)
    }
}
