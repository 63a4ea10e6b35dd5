import Foundation
import HeraldSinkSDK
import HeraldSinkSupport

/// Sends to Azure Service Bus queues and topics over its REST API (batch send, SAS auth).
///
/// Asynchronous: `send` plans a batch into requests within the size limit and queues them on
/// `maxInFlight` worker threads, each with its own connection; the last request completes the
/// batch. See `BatchRequestBuilder` and `ServiceBusSender`.
public final class ServiceBusSink: SinkPlugin {
    public static let name = "servicebus"
    public static let version = "1.0.0"
    public static let summary = "Sends to Azure Service Bus queues and topics (REST batch send, SAS tokens)"
    public static let capabilities: SinkCapabilities = [.async, .orderingKey]
    public static var configSchema: String? { ServiceBusConfig.schema }

    public let config: ServiceBusConfig
    let host: SinkHost
    let gate: HostGate
    let dispatcher: RequestDispatcher<ServiceBusClient>
    let sender: ServiceBusSender
    let tokens: SASTokenCache

    public static func validate(config: String) throws {
        _ = try ServiceBusConfig.parse(config)
    }

    public init(config: String, host: SinkHost) throws {
        self.config = try ServiceBusConfig.read(config) { host.log(.warning, $0) }
        self.host = host
        gate = HostGate(host: host)
        dispatcher = RequestDispatcher(sinkName: "servicebus", gate: gate)
        sender = ServiceBusSender(config: self.config, reporter: gate)
        tokens = SASTokenCache(
            keyName: self.config.keyName, key: self.config.key, ttlSeconds: Int64(self.config.tokenTtlSeconds))
    }

    public var limits: SinkPluginLimits {
        SinkPluginLimits(
            maxMessageBytes: UInt64(sender.builder.declaredMaxMessageBytes), maxBatchMessages: 1000,
            maxBatchBytes: UInt64(config.maxMessageBytes * 4), maxInFlight: UInt32(config.maxInFlight))
    }

    public func start() throws {
        let config = self.config
        let tokens = self.tokens
        dispatcher.start(count: config.maxInFlight) {
            ServiceBusClient(config: config, tokens: tokens)
        }
        gate.log(
            .info,
            "sending to \(config.baseURL) with key '\(config.keyName)'\(config.entityPath.map { " (entity \($0))" } ?? ""), messages up to \(config.maxMessageBytes) bytes"
        )
    }

    public func send(_ batch: SinkBatch, completion: SinkCompletion) throws {
        let entity = batch.destination
        if let problem = sender.entityProblem(entity) {
            gate.setHealth(false, problem)
            gate.complete(completion, Array(repeating: SinkResult(.permanent, error: problem), count: batch.count))
            return
        }
        let messages = batch.messages
        let plan = sender.builder.plan(messages, ordered: batch.isOrdered)
        let sender = self.sender
        let gate = self.gate
        try dispatcher.dispatch(plan, messageCount: messages.count, completion: completion) { request, client in
            let outcome = sender.send(request, entity: entity, client: client)
            gate.counter("messages_sent", UInt64(outcome.results.filter { $0.1.status == .ok }.count))
            return outcome
        }
    }

    public func stop(deadlineMs: UInt32) {
        dispatcher.stop(deadlineMs: deadlineMs)
    }
}
