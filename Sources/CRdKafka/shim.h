#include <librdkafka/rdkafka.h>

/*
 * Helpers for the Kafka sink (Plugins/kafka). rd_kafka_producev is variadic and cannot be called
 * from Swift; these wrappers are not.
 */

/**
 * Produces one message: key, value and headers are copied by librdkafka (RD_KAFKA_MSG_F_COPY), so
 * the caller's buffers may be released as soon as this returns. `headers` (may be NULL) is taken
 * over by librdkafka on success only; on failure the caller still owns it (and may retry with it,
 * e.g. after RD_KAFKA_RESP_ERR__QUEUE_FULL).
 */
static inline rd_kafka_resp_err_t herald_kafka_produce(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const void *key,
                                                       size_t key_len, const void *value, size_t value_len,
                                                       rd_kafka_headers_t *headers, void *opaque) {
    if (headers) {
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                                 RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_HEADERS(headers),
                                 RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
}

/** The per-message opaque given at produce time (rkmessage->_private). */
static inline void *herald_kafka_message_opaque(const rd_kafka_message_t *rkmessage) {
    return rkmessage->_private;
}
