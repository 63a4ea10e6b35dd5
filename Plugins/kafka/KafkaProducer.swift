import CRdKafka
import Foundation
import HeraldSinkSDK
import Synchronization

/// One message to produce. The views must stay valid until `KafkaProducer.send` returns:
/// librdkafka copies key, value and headers (`RD_KAFKA_MSG_F_COPY`), so nothing of the host's
/// batch memory is referenced once the batch is completed.
public struct KafkaRecord {
    public var key: UnsafeRawBufferPointer
    public var value: UnsafeRawBufferPointer
    public var headers: KafkaHeaders

    public init(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, headers: KafkaHeaders) {
        self.key = key
        self.value = value
        self.headers = headers
    }

    public init(
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, headers: [(name: String, value: String)] = []
    ) {
        self.init(key: key, value: value, headers: headers.isEmpty ? .none : .strings(headers))
    }
}

nonisolated(unsafe) private let emptyHeaderValue = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

/// A record's headers: borrowed byte views of a host message (the sink's path: no copy, no
/// `String` per header), or Swift strings (tests and other callers).
public enum KafkaHeaders {
    case none
    case message(SinkMessage)
    case strings([(name: String, value: String)])

    var count: Int {
        switch self {
        case .none: 0
        case .message(let m): m.headerCount
        case .strings(let h): h.count
        }
    }

    /// Bytes of every name and value, as the size limit counts them.
    var byteCount: Int {
        switch self {
        case .none: return 0
        case .message(let m):
            var n = 0
            for i in 0..<m.headerCount { n += m.headerName(i).count + m.headerValue(i).count }
            return n
        case .strings(let h): return h.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        }
    }

    /// A librdkafka header list with every header (copied by librdkafka), or nil when there are none.
    func makeList() -> OpaquePointer? {
        let n = count
        guard n > 0, let list = rd_kafka_headers_new(n) else { return nil }
        switch self {
        case .none: break
        case .message(let m):
            for i in 0..<n {
                let name = m.headerName(i)
                let value = m.headerValue(i)
                // An empty value stays an empty header, not a null one (librdkafka's NULL value).
                _ = rd_kafka_header_add(
                    list, name.baseAddress?.assumingMemoryBound(to: CChar.self), name.count,
                    value.baseAddress ?? UnsafeRawPointer(emptyHeaderValue), value.count)
            }
        case .strings(let h):
            for (name, value) in h {
                var n = name
                var v = value
                n.withUTF8 { nu in
                    v.withUTF8 { vu in
                        nu.withMemoryRebound(to: CChar.self) { nc in
                            _ = rd_kafka_header_add(list, nc.baseAddress, nc.count, vu.baseAddress, vu.count)
                        }
                    }
                }
            }
        }
        return list
    }
}

/// What the producer tells its owner (the host, or a test).
public struct KafkaProducerEvents: Sendable {
    public var log: @Sendable (SinkHost.LogLevel, String) -> Void
    public var health: @Sendable (Bool, String) -> Void
    public var counter: @Sendable (String, UInt64) -> Void
    public var gauge: @Sendable (String, Double) -> Void

    public init(
        log: @escaping @Sendable (SinkHost.LogLevel, String) -> Void = { _, _ in },
        health: @escaping @Sendable (Bool, String) -> Void = { _, _ in },
        counter: @escaping @Sendable (String, UInt64) -> Void = { _, _ in },
        gauge: @escaping @Sendable (String, Double) -> Void = { _, _ in }
    ) {
        self.log = log
        self.health = health
        self.counter = counter
        self.gauge = gauge
    }
}

/// A batch waiting for its delivery reports.
///
/// Each message's librdkafka opaque points at its `Slot` (this batch, its index); the slots live
/// as long as the batch is registered with the producer: until every message has a report, or
/// until the producer is destroyed (after `rd_kafka_destroy`, no report can arrive).
final class PendingBatch {
    struct Slot {
        let batch: Unmanaged<PendingBatch>
        let index: Int
    }

    let serial: UInt64
    let count: Int
    let completion: ([SinkResult]) -> Void
    /// Messages without an outcome yet (neither a failed produce call nor a delivery report).
    var outstanding: Int
    var completed = false
    var delivered = 0
    var results: [SinkResult]
    let slots: UnsafeMutablePointer<Slot>

    init(serial: UInt64, count: Int, completion: @escaping ([SinkResult]) -> Void) {
        self.serial = serial
        self.count = count
        self.completion = completion
        outstanding = count
        results = Array(
            repeating: SinkResult(
                .retry, error: "no delivery report before the Kafka sink stopped (it may still be delivered)"),
            count: count)
        slots = .allocate(capacity: count)
        let me = Unmanaged.passUnretained(self)
        for i in 0..<count { (slots + i).initialize(to: Slot(batch: me, index: i)) }
    }

    func opaque(_ index: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(slots + index) }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }
}

/// A librdkafka producer with asynchronous, per-message completion.
///
/// - `send` produces every message of a batch with a per-message opaque and returns; a
///   dedicated poll thread serves librdkafka's events (`rd_kafka_poll`): delivery reports fill in
///   per-message results, and the report that finishes a batch completes it, exactly once.
/// - A full local queue (`QUEUE_FULL`) is back-pressure: `send` polls and tries again until the
///   message fits, for at most `queueFullWaitMs`; what still does not fit is RETRY, never dropped.
/// - `stop` stops the poll thread, flushes within the deadline (reports are then served on the
///   stopping thread), purges what is left and completes every batch still pending with RETRY for
///   its unreported messages — before it returns. Nothing is completed afterwards.
public final class KafkaProducer: @unchecked Sendable {
    public let config: KafkaConfig
    /// The effective `message.max.bytes` (librdkafka's default 1,000,000 unless configured).
    public private(set) var messageMaxBytes = KafkaConfig.defaultMessageMaxBytes
    /// The largest body + header names and values accepted (what the sink declares to Herald as
    /// `max_message_bytes`): `message.max.bytes` less room for the key and the record framing.
    public var maxMessageBytes: Int { max(1, messageMaxBytes - KafkaConfig.keyAndFramingReserve) }
    /// How long `send` waits for room in librdkafka's queue before giving a message RETRY.
    public let queueFullWaitMs: Int

    private var rk: OpaquePointer!
    private let events: KafkaProducerEvents
    private let lock = NSLock()
    /// Held while calling the owner's callbacks, never while calling librdkafka (which may log
    /// from its own threads while holding its locks).
    private let gate = NSLock()
    /// Guarded by `gate`: the owner's callbacks (log, health, metrics) may be called, between
    /// `start` and the end of `stop`.
    private var open = false
    private var earlyLogs: [(SinkHost.LogLevel, String)] = []
    private var everOpened = false
    private let running = Atomic<Bool>(false)
    private let pollExited = DispatchSemaphore(value: 0)
    private var pollStarted = false

    // Guarded by `lock`, which is never held while calling librdkafka or the owner.
    private var batches: [UInt64: PendingBatch] = [:]
    private var nextSerial: UInt64 = 1
    private var topics: [String: OpaquePointer] = [:]
    private var stopping = false
    private var closed = false
    private var healthy = true
    private var fatalReason: String?

    /// Creates the producer: every property goes through `rd_kafka_conf_set`, whose error text is
    /// thrown as is (`SinkError(.permanent, …)`), and `rd_kafka_new` checks their combination.
    public init(config: KafkaConfig, events: KafkaProducerEvents) throws {
        self.config = config
        self.events = events
        queueFullWaitMs = max(100, min(config.deliveryTimeoutMs / 2, 10_000))
        guard let conf = rd_kafka_conf_new() else { throw SinkError(.retry, "rd_kafka_conf_new failed") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (name, value) in config.librdkafkaProperties {
            if rd_kafka_conf_set(conf, name, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw SinkError(.permanent, "kafka sink: property \(name): \(cText(errstr))")
            }
        }
        var size = 32
        var text = [CChar](repeating: 0, count: size)
        if rd_kafka_conf_get(conf, "message.max.bytes", &text, &size) == RD_KAFKA_CONF_OK, let n = Int(cText(text)) {
            messageMaxBytes = n
        }
        rd_kafka_conf_set_dr_msg_cb(conf, kafkaDeliveryReport)
        rd_kafka_conf_set_error_cb(conf, kafkaError)
        rd_kafka_conf_set_log_cb(conf, kafkaLog)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw SinkError(.permanent, "kafka sink: cannot create the producer: \(cText(errstr))")
        }
        rk = handle
    }

    deinit {
        close()
    }

    /// The librdkafka handle (for tests and diagnostics).
    public var handle: OpaquePointer { rk }

    /// Set once librdkafka raised a fatal error (idempotence guarantees could not be kept): the
    /// producer fails every message from then on and must be replaced.
    public var fatalError: String? { lock.withLock { fatalReason } }

    /// Reports healthy again on the next delivered message (for a producer taking over from one
    /// that was reported unhealthy).
    public func reportHealthyOnNextDelivery() {
        lock.withLock { healthy = false }
    }

    /// Raises a fabricated fatal error (`rd_kafka_test_fatal_error`), to test the recovery from one.
    public func simulateFatalError(_ reason: String) {
        _ = rd_kafka_test_fatal_error(rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason)
    }

    /// Starts the poll thread and lets events reach the owner.
    public func start() {
        if lock.withLock({ stopping || closed }) { return }
        gate.withLock {
            open = true
            everOpened = true
            for (level, line) in earlyLogs { events.log(level, line) }
            earlyLogs = []
        }
        guard !pollStarted else { return }
        pollStarted = true
        running.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            // Named from the thread itself: on Linux, a name given before `start` does not reach the
            // OS thread, which keeps at most 15 characters anyway (top, perf and gdb show this name).
            Thread.current.name = "herald-kpoll"
            var lastGauge = ContinuousClock.now
            while running.load(ordering: .acquiring) {
                rd_kafka_poll(rk, 200)
                if ContinuousClock.now - lastGauge > .seconds(1) {
                    lastGauge = ContinuousClock.now
                    let queued = Double(rd_kafka_outq_len(rk))
                    emit { $0.gauge("queue_messages", queued) }
                }
            }
            pollExited.signal()
        }
        thread.name = "herald-kpoll"
        thread.start()
    }

    // MARK: sending

    /// Produces `count` messages to `topic` and returns; `completion` is called exactly once with
    /// one result per message, from the poll thread (or from this call when every message failed
    /// at once, or from `stop`).
    public func send(
        topic: String, count: Int, record: (Int) -> KafkaRecord, completion: @escaping ([SinkResult]) -> Void
    ) {
        if count == 0 {
            completion([])
            return
        }
        guard let rkt = topicHandle(topic) else {
            let why = KafkaResultMapping.describe(rd_kafka_last_error())
            completion(
                Array(repeating: SinkResult(.permanent, error: "cannot use topic '\(topic)': \(why)"), count: count))
            return
        }
        let registered = lock.withLock { () -> PendingBatch? in
            if stopping || closed { return nil }
            let batch = PendingBatch(serial: nextSerial, count: count, completion: completion)
            nextSerial += 1
            batches[batch.serial] = batch
            return batch
        }
        guard let batch = registered else {
            completion(Array(repeating: SinkResult(.retry, error: "the Kafka sink is stopping"), count: count))
            return
        }
        let queueDeadline = ContinuousClock.now + .milliseconds(queueFullWaitMs)
        var fullWaits: UInt64 = 0
        let limit = maxMessageBytes
        for i in 0..<count {
            let r = record(i)
            let size = r.value.count + r.headers.byteCount
            if size > limit {
                finish(
                    batch, index: i,
                    SinkResult(
                        .tooLarge,
                        error:
                            "message is \(size) bytes (body and headers); the limit is \(limit) (message.max.bytes \(messageMaxBytes) less \(KafkaConfig.keyAndFramingReserve) for the key and record framing)"
                    ))
                continue
            }
            let headers = r.headers.makeList()
            var err: rd_kafka_resp_err_t
            while true {
                err = herald_kafka_produce(
                    rk, rkt, r.key.count > 0 ? r.key.baseAddress : nil, r.key.count, r.value.baseAddress, r.value.count,
                    headers, batch.opaque(i))
                guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else { break }
                // Back-pressure: serve delivery reports (which frees room) and try again.
                if ContinuousClock.now >= queueDeadline || isStopping { break }
                fullWaits += 1
                rd_kafka_poll(rk, 10)
            }
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if let headers { rd_kafka_headers_destroy(headers) }
                let result: SinkResult
                if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                    result = SinkResult(
                        .retry,
                        error:
                            "\(KafkaResultMapping.describe(err)) (no room in librdkafka's queue within \(queueFullWaitMs) ms; see queue.buffering.max.messages/kbytes)"
                    )
                } else {
                    if err == RD_KAFKA_RESP_ERR__FATAL { noteFatal() }
                    result = KafkaResultMapping.result(for: err, detail: "produce to '\(topic)'")
                }
                finish(batch, index: i, result)
            }
        }
        if fullWaits > 0 { emit { $0.counter("queue_full_waits", fullWaits) } }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    /// The cached topic handle (created outside the lock: librdkafka takes its own locks).
    private func topicHandle(_ topic: String) -> OpaquePointer? {
        if let t = lock.withLock({ topics[topic] }) { return t }
        guard let created = rd_kafka_topic_new(rk, topic, nil) else { return nil }
        let (handle, extra) = lock.withLock { () -> (OpaquePointer, OpaquePointer?) in
            if let existing = topics[topic] { return (existing, created) }
            topics[topic] = created
            return (created, nil)
        }
        if let extra { rd_kafka_topic_destroy(extra) }
        return handle
    }

    /// Records one message's outcome; completes the batch when it was the last one.
    fileprivate func finish(_ batch: PendingBatch, index: Int, _ result: SinkResult) {
        var complete = false
        var recovered = false
        lock.lock()
        if !batch.completed { batch.results[index] = result }
        batch.outstanding -= 1
        if result.status == .ok {
            batch.delivered += 1
            if !healthy && fatalReason == nil {
                healthy = true
                recovered = true
            }
        }
        if batch.outstanding == 0 {
            batches.removeValue(forKey: batch.serial)
            if !batch.completed {
                batch.completed = true
                complete = true
            }
        }
        lock.unlock()
        if recovered { emit { $0.health(true, "") } }
        if complete {
            let delivered = UInt64(batch.delivered)
            let failed = UInt64(batch.count) - delivered
            emit {
                if delivered > 0 { $0.counter("messages_delivered", delivered) }
                if failed > 0 { $0.counter("messages_failed", failed) }
            }
            batch.completion(batch.results)
        }
    }

    fileprivate func deliveryReport(_ message: UnsafePointer<rd_kafka_message_t>) {
        guard let raw = herald_kafka_message_opaque(message) else { return }
        let slot = raw.assumingMemoryBound(to: PendingBatch.Slot.self).pointee
        let batch = slot.batch.takeUnretainedValue()
        let err = message.pointee.err
        if err == RD_KAFKA_RESP_ERR_NO_ERROR {
            finish(batch, index: slot.index, .ok)
            return
        }
        var detail: String
        switch rd_kafka_message_status(message) {
        case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED: detail = "possibly persisted: a retry may duplicate it"
        case RD_KAFKA_MSG_STATUS_PERSISTED: detail = "persisted"
        default: detail = "not persisted"
        }
        if err == RD_KAFKA_RESP_ERR__FATAL, let reason = fatalError { detail += "; fatal producer error: \(reason)" }
        if err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT {
            markUnhealthy(
                "messages time out after \(config.deliveryTimeoutMs) ms (deliveryTimeoutMs): \(KafkaResultMapping.describe(err))"
            )
        }
        finish(batch, index: slot.index, KafkaResultMapping.result(for: err, detail: detail))
    }

    fileprivate func brokerError(_ err: rd_kafka_resp_err_t, _ reason: String) {
        if err == RD_KAFKA_RESP_ERR__FATAL {
            noteFatal()
            return
        }
        let text = "\(String(cString: rd_kafka_err2name(err))): \(reason)"
        if KafkaResultMapping.isBrokerLevelOutage(err) {
            markUnhealthy(text)
        } else {
            emit { $0.log(.warning, "librdkafka: \(text)") }
        }
    }

    private func noteFatal() {
        var buffer = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(rk, &buffer, buffer.count)
        let reason = "\(String(cString: rd_kafka_err2name(err))): \(cText(buffer))"
        let first = lock.withLock { () -> Bool in
            defer { fatalReason = reason }
            return fatalReason == nil
        }
        if first { markUnhealthy("fatal producer error (the producer is replaced): \(reason)") }
    }

    private func markUnhealthy(_ reason: String) {
        lock.withLock { healthy = false }
        emit {
            $0.log(.warning, reason)
            $0.health(false, reason)
        }
    }

    /// Calls the owner's callbacks only while it may be called (between start and the end of stop).
    private func emit(_ body: (KafkaProducerEvents) -> Void) {
        gate.lock()
        defer { gate.unlock() }
        if open { body(events) }
    }

    fileprivate func librdkafkaLog(_ level: Int32, _ facility: String, _ line: String) {
        let mapped: SinkHost.LogLevel
        switch level {
        case ...3: mapped = .error
        case 4: mapped = .warning
        case 5, 6: mapped = .info
        default: mapped = .debug
        }
        let text = "librdkafka \(facility): \(line)"
        gate.lock()
        defer { gate.unlock() }
        if open {
            events.log(mapped, text)
        } else if !everOpened && earlyLogs.count < 50 {
            earlyLogs.append((mapped, text))
        }
    }

    // MARK: flush, stop, close

    /// Waits until everything produced so far is reported (or the timeout passes).
    public func flush(timeoutMs: UInt32) -> Bool {
        rd_kafka_flush(rk, Int32(clamping: timeoutMs)) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Messages produced and not reported yet (librdkafka's `rd_kafka_outq_len`).
    public var queueLength: Int { Int(rd_kafka_outq_len(rk)) }

    /// Batches not completed yet.
    public var pendingBatches: Int { lock.withLock { batches.values.filter { !$0.completed }.count } }

    /// Finishes within `deadlineMs`: flushes, then completes whatever is still unreported with
    /// RETRY. No completion and no event happen after it returns.
    public func stop(deadlineMs: UInt32) {
        let start = ContinuousClock.now
        let already = lock.withLock { () -> Bool in
            defer { stopping = true }
            return stopping
        }
        if already { return }
        if pollStarted {
            running.store(false, ordering: .releasing)
            rd_kafka_yield(rk)
            pollExited.wait()
        }
        // Delivery reports are served on this thread from now on.
        let budget = Duration.milliseconds(Int(deadlineMs))
        let left = budget - (ContinuousClock.now - start)
        let leftMs = max(
            0, Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
        if rd_kafka_flush(rk, leftMs) != RD_KAFKA_RESP_ERR_NO_ERROR {
            // Out of time: take back what was not sent (reported as _PURGE_QUEUE / _PURGE_INFLIGHT: RETRY).
            _ = rd_kafka_purge(rk, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
            rd_kafka_poll(rk, 0)
        }
        let leftover = lock.withLock { () -> [PendingBatch] in
            let waiting = batches.values.filter { !$0.completed }.sorted { $0.serial < $1.serial }
            for b in waiting { b.completed = true }
            return waiting
        }
        for b in leftover { b.completion(b.results) }
        if !leftover.isEmpty {
            emit {
                $0.log(
                    .warning,
                    "kafka sink stopped with \(leftover.count) batch(es) not fully reported; their unreported messages are RETRY"
                )
            }
        }
        gate.withLock { open = false }
    }

    /// Destroys the producer (stopping it first if needed). Reports that would still arrive are dropped.
    public func close() {
        let proceed = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed && rk != nil
        }
        guard proceed else { return }
        stop(deadlineMs: 0)
        let handles = lock.withLock { () -> [OpaquePointer] in
            defer { topics = [:] }
            return Array(topics.values)
        }
        for t in handles { rd_kafka_topic_destroy(t) }
        rd_kafka_destroy(rk)
        lock.withLock { batches.removeAll() }
    }
}

private func producer(_ opaque: UnsafeMutableRawPointer?) -> KafkaProducer? {
    guard let opaque else { return nil }
    return Unmanaged<KafkaProducer>.fromOpaque(opaque).takeUnretainedValue()
}

private let kafkaDeliveryReport:
    @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, message, opaque in
        guard let message else { return }
        producer(opaque)?.deliveryReport(message)
    }

private let kafkaError:
    @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
        _, err, reason, opaque in
        producer(opaque)?.brokerError(rd_kafka_resp_err_t(err), reason.map { String(cString: $0) } ?? "")
    }

private let kafkaLog: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
    rk, level, facility, line in
    guard let rk else { return }
    producer(rd_kafka_opaque(rk))?.librdkafkaLog(
        level, facility.map { String(cString: $0) } ?? "", line.map { String(cString: $0) } ?? "")
}

/// The NUL-terminated text in a C buffer.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
