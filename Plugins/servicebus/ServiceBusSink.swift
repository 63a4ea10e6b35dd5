import Foundation
import HeraldSinkSDK
import HeraldSinkSupport

/// Sends to Azure Service Bus queues and topics over its REST API (batch send, SAS auth).
///
/// Written in the SDK's async form (`AsyncSinkPlugin`): `send` plans a batch into requests within the size limit,
/// awaits them on `maxInFlight` worker threads (each with its own connection: libcurl blocks, so the requests never
/// run on Swift's shared pool) and returns one result per message. The SDK runs each batch in a task of its own,
/// keeps at most `maxInFlight` of them running, and cancels them when the instance stops: requests not started
/// then complete RETRY without sending. See `ServiceBusRequestBuilder` and `ServiceBusSender`.
public final class ServiceBusSink: AsyncSinkPlugin {
    public static let name = "servicebus"
    public static let version = "1.0.0"
    public static let summary = "Sends to Azure Service Bus queues and topics (REST batch send, SAS tokens)"
    public static let capabilities: SinkCapabilities = [.orderingKey]

    public let config: ServiceBusConfig
    let gate: HostGate
    let dispatcher: RequestDispatcher<ServiceBusClient>
    let sender: ServiceBusSender
    let tokens: SASTokenCache

    public init(configuration: ServiceBusConfig, host: SinkHost) {
        config = configuration
        gate = HostGate(host: host)
        dispatcher = RequestDispatcher(sinkName: "servicebus", gate: gate)
        sender = ServiceBusSender(config: configuration, reporter: gate)
        tokens = SASTokenCache(
            keyName: configuration.keyName, key: configuration.key, ttlSeconds: Int64(configuration.tokenTtlSeconds))
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

    public func send(_ batch: SinkBatch) async -> [SinkResult] {
        let entity = batch.destination
        if let problem = sender.entityProblem(entity) {
            gate.setHealth(false, problem)
            return Array(repeating: SinkResult(.permanent, error: problem), count: batch.count)
        }
        let messages = batch.messages
        // The plan copies what it needs: the batch's memory is not read after this line.
        let plan = sender.builder.plan(messages, ordered: batch.isOrdered)
        let sender = self.sender
        let gate = self.gate
        return await dispatcher.send(plan, messageCount: messages.count) { request, client in
            let outcome = sender.send(request, entity: entity, client: client)
            gate.counter("messages_sent", UInt64(outcome.results.filter { $0.1.status == .ok }.count))
            return outcome
        }
    }

    public func stop() async {
        // The SDK has cancelled the sends and waited for them within Herald's deadline: what is left has none.
        dispatcher.stop(deadlineMs: 0)
    }
}
