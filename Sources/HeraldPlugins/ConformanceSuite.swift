import CHeraldSink
import Foundation
import HeraldModel
import Logging

/// `herald plugins check LIB.so`: exercises a plugin against the ABI contract.
public struct ConformanceSuite {
    public struct Check: Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    public let library: String
    /// A configuration under which the plugin can deliver (e.g. a writable path, a reachable endpoint).
    public let config: String
    /// Where the instance runs: in this process, or in `herald sink-host` as `isolation: "process"` runs it.
    public let isolation: SinkIsolationMode
    let logger: Logger

    public init(
        library: String, config: String, isolation: SinkIsolationMode = .inProcess,
        logger: Logger = Logger(label: "herald.plugins.check")
    ) {
        self.library = library
        self.config = config
        self.isolation = isolation
        self.logger = logger
    }

    public func run() async -> [Check] {
        var checks: [Check] = []
        func record(_ name: String, _ passed: Bool, _ detail: String) {
            checks.append(Check(name: name, passed: passed, detail: detail))
        }

        // 1. Descriptor and version.
        let plugin: LoadedPlugin
        do {
            plugin = try PluginLoader.load(library: library)
        } catch {
            record("descriptor", false, error.message)
            return checks
        }
        let named = !plugin.name.isEmpty && !plugin.version.isEmpty
        record(
            "descriptor", named,
            named
                ? "\(plugin.name) \(plugin.version), ABI \(plugin.abiMajor).\(plugin.abiMinor) (host \(PluginLoader.hostABIMajor).\(PluginLoader.hostABIMinor)), capabilities 0x\(String(plugin.capabilities, radix: 16))"
                : "name and version must be non-empty")
        if let schema = plugin.configSchema {
            let parses = (try? JSONSerialization.jsonObject(with: Data(schema.utf8))) != nil
            record("config schema", parses, parses ? "valid JSON" : "config_schema is not valid JSON")
        }

        // 2. Configuration validation, good and bad.
        if let problem = plugin.validate(config: config) {
            record("validate good config", false, "the given configuration was rejected: \(problem)")
            return checks
        }
        record("validate good config", true, "accepted")
        for (label, bad) in [("not JSON", "{not json"), ("not an object", "[1, 2]"), ("unknown key", mergeUnknownKey(config))] {
            let problem = plugin.validate(config: bad)
            record(
                "validate bad config (\(label))", problem != nil,
                problem.map { "rejected: \($0)" } ?? "accepted \(bad) — a typo in a configuration must not pass silently")
        }

        // 3. Lifecycle.
        let instance: any SinkHandle
        do {
            var options = ProcessSinkOptions()
            // The child reports its diagnostics half a second after on_destroy, so late completions are counted.
            options.stopLingerMs = 500
            instance = try SinkFactory.make(
                plugin: plugin, alias: "check", destination: "herald-check", config: config, logger: logger, isolation: isolation,
                options: options)
        } catch {
            record("create and start", false, error.message)
            return checks
        }
        record("create and start", true, isolation == .process ? "started in its own process (herald sink-host)" : "started")
        let limits = instance.limits
        let limitsOK = limits.maxInFlight >= 1 && limits.maxBatchMessages >= 1
        record(
            "limits", limitsOK,
            "max message \(limits.maxMessageBytes) B, batch \(limits.maxBatchMessages) messages / \(limits.maxBatchBytes) B, in flight \(limits.maxInFlight)")

        // 4. Batches of 1 and many.
        let one = await instance.send(destination: "herald-check", messages: [message(0, size: 200)], timeout: .seconds(30))
        record(
            "batch of 1", one.count == 1 && one[0].status == .ok,
            one.count == 1 ? "\(one[0].status)\(one[0].error.map { ": \($0)" } ?? "")" : "\(one.count) results for 1 message")
        let manyCount = max(2, min(limits.maxBatchMessages, 50))
        let many = await instance.send(
            destination: "herald-check", messages: (1...manyCount).map { message($0, size: 300) }, timeout: .seconds(30))
        let allOK = many.count == manyCount && many.allSatisfy { $0.status == .ok }
        record(
            "batch of \(manyCount)", allOK,
            many.count == manyCount
                ? "\(many.filter { $0.status == .ok }.count) OK of \(manyCount)" : "\(many.count) results for \(manyCount) messages")

        // 5. Size limit.
        if limits.maxMessageBytes > 0 && limits.maxMessageBytes <= 64 << 20 {
            let headerBytes = headers(0).reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
            let atLimit = await instance.send(
                destination: "herald-check",
                messages: [message(1000, size: max(1, limits.maxMessageBytes - headerBytes - 64))], timeout: .seconds(60))
            record(
                "message at the size limit", atLimit.first?.status == .ok,
                "a body just under \(limits.maxMessageBytes) B: \(atLimit.first.map { "\($0.status)\($0.error.map { ": \($0)" } ?? "")" } ?? "no result")")
            let over = await instance.send(
                destination: "herald-check", messages: [message(1001, size: limits.maxMessageBytes + 1)], timeout: .seconds(60))
            let refused = over.first.map { $0.status == .tooLarge || $0.status == .permanent } ?? false
            record(
                "message over the size limit", refused,
                "a body of \(limits.maxMessageBytes + 1) B: \(over.first.map { "\($0.status)" } ?? "no result") (expected TOO_LARGE)")
        } else {
            record("size limit", true, "the plugin declares no message size limit; skipped")
        }

        // 6. Completion threading.
        let d = instance.diagnostics
        if plugin.isAsync {
            // ASYNC allows completing later from another thread; completing inline is allowed too.
            record(
                "completion from another thread", true,
                d.completedOnOtherThread > 0
                    ? "\(d.completedOnOtherThread) completion(s) from a thread other than on_send_batch's, all accepted"
                    : "every batch completed inside on_send_batch (allowed for an ASYNC plugin)")
        } else {
            record(
                "synchronous completion", d.completedAfterSendReturned == 0,
                d.completedAfterSendReturned == 0
                    ? "every batch completed inside on_send_batch"
                    : "\(d.completedAfterSendReturned) batch(es) completed after on_send_batch returned without HERALD_SINK_CAP_ASYNC")
        }
        record(
            "one result per message", d.resultCountMismatches == 0 && d.unknownCompletions == 0,
            "\(d.resultCountMismatches) count mismatch(es), \(d.unknownCompletions) unknown or repeated completion(s)")

        // 7. Stop with batches in flight: no completion afterwards.
        let lastBatch = (2000..<2010).map { message($0, size: 100) }
        let inFlight = Task { [instance] in
            await instance.send(destination: "herald-check", messages: lastBatch, timeout: .seconds(30))
        }
        instance.stop(deadlineMs: 5000)
        _ = await inFlight.value
        try? await Task.sleep(for: .milliseconds(500))
        let after = instance.diagnostics.completionsAfterStop
        record("no completion after stop", after == 0, "\(after) completion(s) after on_stop returned")
        instance.destroy()
        record("destroy", true, "destroyed")
        return checks
    }

    private func headers(_ i: Int) -> [MessageHeader] {
        [
            MessageHeader("tenantId", "check"), MessageHeader("eventType", "ENTITY_CREATED"),
            MessageHeader("sourceObjectUri", "entities/check\(i)"), MessageHeader("objectVersion", "1"),
            MessageHeader("updatedTime", "0"), MessageHeader("messageId", "check-\(i)"),
        ]
    }

    private func message(_ i: Int, size: Int) -> OutboundMessage {
        var body = Array("{\"type\":\"ENTITY_CREATED\",\"n\":\(i),\"pad\":\"".utf8)
        let target = max(body.count + 2, size)
        body += [UInt8](repeating: UInt8(ascii: "x"), count: target - body.count - 2)
        body += Array("\"}".utf8)
        return OutboundMessage(
            message: DeliveryMessage(
                seq: Int64(i), id: "check-\(i)", key: "entities/check\(i % 7)", eventType: "ENTITY_CREATED",
                objectURI: "entities/check\(i)", headers: headers(i), body: body),
            attempt: 1)
    }

    private func mergeUnknownKey(_ config: String) -> String {
        let trimmed = config.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("{") else { return "{\"__herald_unknown_key__\": 1}" }
        let inner = trimmed.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines)
        return inner.hasPrefix("}") ? "{\"__herald_unknown_key__\": 1}" : "{\"__herald_unknown_key__\": 1, " + inner
    }
}
