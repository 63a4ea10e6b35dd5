import CRdKafka
import HeraldSinkSDK

/// How a librdkafka error code becomes a per-message result for Herald.
///
/// With `enable.idempotence=true` librdkafka already retries transient broker errors itself (in
/// order, without duplicates) until `message.timeout.ms`; an error in a delivery report is
/// therefore final for this attempt, and the question is only whether sending it again later
/// can succeed:
/// - RETRY: timeouts, brokers down or unreachable, leadership changes, not enough replicas,
///   purged or queue-full messages, fatal producer errors (the sink makes a new producer);
/// - THROTTLED: a broker quota (`THROTTLING_QUOTA_EXCEEDED`);
/// - TOO_LARGE: `MSG_SIZE_TOO_LARGE`, `RECORD_LIST_TOO_LARGE` (over `message.max.bytes` or the
///   broker's / topic's `max.message.bytes`);
/// - PERMANENT: everything else (authorization, invalid records, unknown topic, …), with
///   librdkafka's error name and text.
public enum KafkaResultMapping {
    /// The Herald status of a librdkafka error code (`RD_KAFKA_RESP_ERR_NO_ERROR` is OK).
    public static func status(of err: rd_kafka_resp_err_t) -> SinkStatus {
        switch err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            return .ok
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
            return .tooLarge
        case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
            return .throttled
        default:
            return isRetriable(err) ? .retry : .permanent
        }
    }

    /// Transient errors: sending the same message again later may succeed.
    public static func isRetriable(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        // librdkafka's local errors that describe the path to the broker, not the message.
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE,
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__RESOLVE,
            RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT,
            RD_KAFKA_RESP_ERR__DESTROY, RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR__WAIT_COORD,
            RD_KAFKA_RESP_ERR__OUTDATED, RD_KAFKA_RESP_ERR__INTR, RD_KAFKA_RESP_ERR__RETRY,
            RD_KAFKA_RESP_ERR__NODE_UPDATE,
            RD_KAFKA_RESP_ERR__STATE, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
            RD_KAFKA_RESP_ERR__IN_PROGRESS, RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS, RD_KAFKA_RESP_ERR__WAIT_CACHE,
            RD_KAFKA_RESP_ERR__FAIL:
            return true
        // Broker errors that Kafka's protocol marks retriable.
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
            RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_NOT_CONTROLLER,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RD_KAFKA_RESP_ERR_INVALID_MSG, RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH,
            RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
            RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
            RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED,
            RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
            return true
        default:
            return false
        }
    }

    /// "NAME: text", e.g. "MSG_SIZE_TOO_LARGE: Broker: Message size too large".
    public static func describe(_ err: rd_kafka_resp_err_t) -> String {
        "\(String(cString: rd_kafka_err2name(err))): \(String(cString: rd_kafka_err2str(err)))"
    }

    /// The result of one message whose delivery (or produce call) failed with `err`.
    public static func result(for err: rd_kafka_resp_err_t, detail: String? = nil) -> SinkResult {
        let status = status(of: err)
        if status == .ok { return .ok }
        var text = describe(err)
        if let detail, !detail.isEmpty { text += " (\(detail))" }
        return SinkResult(status, retryAfterMs: status == .throttled ? 1000 : 0, error: text)
    }

    /// Errors from librdkafka's error callback that mean the instance cannot deliver right now
    /// (reported as unhealthy until a message is delivered again).
    public static func isBrokerLevelOutage(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__AUTHENTICATION,
            RD_KAFKA_RESP_ERR__SSL, RD_KAFKA_RESP_ERR__FATAL, RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
            RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED,
            RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__INVALID_ARG, RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
            return true
        default:
            return false
        }
    }
}
