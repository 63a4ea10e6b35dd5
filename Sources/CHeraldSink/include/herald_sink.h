/*
 * herald_sink.h — the Herald sink plugin ABI, version 1.0.
 *
 * A sink plugin is a shared library (.so) that Herald loads with
 * dlopen(RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) and never unloads. It exports
 * exactly one symbol, `herald_sink_entry`, which returns a static descriptor:
 * the plugin's identity and its table of entry points. Everything else the
 * plugin needs from Herald (logging, metrics, completing batches, reporting
 * health) arrives as a function table when an instance is created: a plugin
 * never resolves host symbols.
 *
 * NAMING. Functions Herald calls in the plugin are `on_*` (Herald tells the
 * plugin something happened: a batch to send, a stop). Functions the plugin
 * calls in Herald are `callback_*`. Types are `herald_sink_*`; the host's
 * table is `herald_sink_host_api`.
 *
 * VERSIONING. Herald accepts a plugin whose `abi_major` equals its own and
 * whose `abi_minor` is less than or equal to its own, and refuses any other
 * with a message naming both versions. Structs that may grow begin with
 * `struct_size`; fields are only ever appended, so a reader checks
 * `struct_size` before touching a field added in a later minor version.
 * Arrays of growable structs (the messages of a batch) are laid out with the
 * struct size of the plugin's own `abi_minor`, so plain indexing is correct.
 * herald_sink_header and herald_sink_result never grow: later data goes into
 * new structs. Enumerations (herald_sink_status, herald_sink_log_level) are
 * 32-bit integers.
 *
 * OWNERSHIP. Nothing is freed across the boundary.
 *   - Strings and buffers Herald passes are BORROWED: valid for the duration
 *     of the call, except a batch (see on_send_batch), which stays valid until
 *     the plugin completes it.
 *   - What the plugin passes back (results, error texts, log lines) is copied
 *     by Herald before the callback returns; the plugin may reuse or free it
 *     right after.
 *   - Errors are written by the plugin into caller-provided buffers
 *     (`error`, `error_size`; never NULL, at least 1 byte), NUL-terminated and
 *     truncated to fit.
 *   - A configuration is JSON text, NUL-terminated, `config_len` bytes long
 *     without the NUL; a provider without a "config" gets "{}".
 *   - Once callback_complete_batch has started for a batch, the plugin must not
 *     touch that batch's memory again.
 *   - The descriptor and the strings it points to are static: valid for the
 *     life of the process.
 *
 * THREADING.
 *   - on_validate_config is pure and may be called from any thread, at any
 *     time, concurrently with anything.
 *   - For one instance, every on_* call except on_validate_config is made
 *     one at a time, in this order: on_create, on_get_limits, on_start, then
 *     on_send_batch / on_flush, then on_stop, then on_destroy. They never run
 *     concurrently with each other; on_stop is called before on_destroy even
 *     when on_start failed; no on_send_batch follows on_stop.
 *   - Several batches (up to `max_in_flight`) may be outstanding at once; a
 *     plugin without HERALD_SINK_CAP_ASYNC must complete each batch before
 *     on_send_batch returns.
 *   - callback_log, callback_metric_* and callback_set_health may be called
 *     from any thread from the start of on_create until on_destroy returns;
 *     callback_complete_batch from any thread, for a batch it was given, until
 *     on_stop returns.
 *
 * COMPLETION. Every batch is completed exactly once, by calling
 * callback_complete_batch with one result per message, in the order of the
 * batch (a different count makes Herald treat every message as RETRY and log
 * an error). A batch not completed within the destination's send timeout
 * counts as RETRY for all its messages and the instance is reported
 * unhealthy; a later completion of it is ignored, and its memory stays valid
 * until that late completion or until on_destroy returns. After on_stop
 * returns the plugin must not complete any batch: Herald counts whatever was
 * still in flight as RETRY.
 */
#ifndef HERALD_SINK_H
#define HERALD_SINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERALD_SINK_ABI_MAJOR 1
#define HERALD_SINK_ABI_MINOR 1

/** The descriptor's `magic`: 0x48534E4B ("HSNK" read as a big-endian number). */
#define HERALD_SINK_MAGIC 0x48534E4Bu

/** The one symbol a plugin exports. */
#define HERALD_SINK_ENTRY_SYMBOL "herald_sink_entry"

/** Capability flags (`capabilities`). */
#define HERALD_SINK_CAP_ASYNC ((uint64_t)1 << 0)        /**< may complete batches after on_send_batch returns, from any thread */
#define HERALD_SINK_CAP_ORDERING_KEY ((uint64_t)1 << 1) /**< keeps messages with the same key in order (FIFO group, partition key, …) */
#define HERALD_SINK_CAP_FLUSH ((uint64_t)1 << 2)        /**< on_flush is implemented */

/** The outcome of one message. */
typedef enum herald_sink_status {
    HERALD_SINK_OK = 0,        /**< delivered */
    HERALD_SINK_RETRY = 1,     /**< transient failure: send again later */
    HERALD_SINK_THROTTLED = 2, /**< the destination asks to slow down; see retry_after_ms */
    HERALD_SINK_PERMANENT = 3, /**< will never succeed as is: dead-letter it */
    HERALD_SINK_TOO_LARGE = 4  /**< over the destination's size limit */
} herald_sink_status;

typedef enum herald_sink_log_level {
    HERALD_SINK_LOG_TRACE = 0,
    HERALD_SINK_LOG_DEBUG = 1,
    HERALD_SINK_LOG_INFO = 2,
    HERALD_SINK_LOG_WARNING = 3,
    HERALD_SINK_LOG_ERROR = 4
} herald_sink_log_level;

/** A message header: a name/value pair (both UTF-8, not NUL-terminated). */
typedef struct herald_sink_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} herald_sink_header;

/** One message of a batch. Borrowed until the batch is completed. */
typedef struct herald_sink_message {
    size_t struct_size;
    /** Stable across retries: use it for de-duplication (SQS MessageDeduplicationId, Service Bus MessageId…). */
    const char *id;
    size_t id_len;
    /** The entity URI: Kafka key, SQS FIFO MessageGroupId, and with HERALD_SINK_BATCH_ORDERED the Pub/Sub orderingKey or Service Bus SessionId. */
    const char *key;
    size_t key_len;
    const uint8_t *body;
    size_t body_len;
    const herald_sink_header *headers;
    size_t header_count;
    /**
     * 1 on the first attempt, 2 on the first retry, … A message replayed from the dead-letter queue continues
     * the count (a message dead-lettered after 3 attempts is replayed as attempt 4), so a plugin never sees
     * attempt 1 twice for one message.
     */
    uint32_t attempt;
} herald_sink_message;

/** Batch flags (`flags`). */
#define HERALD_SINK_BATCH_ORDERED ((uint32_t)1 << 0) /**< the destination asked for per-key order (`ordering: perEntity`) */

/** A batch to send. Borrowed until callback_complete_batch is called for `batch_id`. */
typedef struct herald_sink_batch {
    size_t struct_size;
    /** Pass it back to callback_complete_batch. */
    uint64_t batch_id;
    /** The destination's `name` (queue, topic…), UTF-8, not NUL-terminated. */
    const char *destination;
    size_t destination_len;
    const herald_sink_message *messages;
    size_t message_count;
    /**
     * HERALD_SINK_BATCH_* flags. With HERALD_SINK_BATCH_ORDERED, use each message's key as the
     * destination's ordering unit (Pub/Sub orderingKey, Service Bus SessionId); Herald then never
     * puts two messages with the same key in one batch and holds later ones back while an
     * earlier one is retried. Keys are always set (the entity URI), ordered or not.
     */
    uint32_t flags;
} herald_sink_batch;

/** The result of one message, passed to callback_complete_batch. */
typedef struct herald_sink_result {
    herald_sink_status status;
    /** For HERALD_SINK_THROTTLED (or RETRY): the destination's hint, 0 when it gave none. */
    uint32_t retry_after_ms;
    /** Optional error text (copied by Herald), NULL when none. */
    const char *error;
    size_t error_len;
} herald_sink_result;

/** What the plugin can take; filled in by on_get_limits. 0 means "no limit of my own". */
typedef struct herald_sink_limits {
    size_t struct_size;
    /** Largest message body (plus headers, if the destination counts them), in bytes. */
    uint64_t max_message_bytes;
    uint32_t max_batch_messages;
    uint64_t max_batch_bytes;
    /** Batches outstanding at once (1 for a plugin without HERALD_SINK_CAP_ASYNC). */
    uint32_t max_in_flight;
    /** Since ABI 1.1: HERALD_SINK_LIMIT_* flags (a 1.0 plugin leaves the host's 0). */
    uint32_t flags;
} herald_sink_limits;

/**
 * Since ABI 1.1, in herald_sink_limits.flags: this instance's destination keeps each key's messages in the
 * order they are sent, and needs them in Herald's order (an SQS FIFO queue, Kafka partitions by key, …).
 * Herald then delivers the destination as with `ordering: perEntity` whatever its configuration says: one
 * message per key in flight, later messages of a key held while an earlier one waits for a retry, and
 * HERALD_SINK_BATCH_ORDERED on every batch.
 */
#define HERALD_SINK_LIMIT_KEY_ORDER ((uint32_t)1 << 0)

/**
 * Herald's functions, given to on_create. Valid until on_destroy returns.
 * Each takes `host`, the opaque pointer from this table.
 */
typedef struct herald_sink_host_api {
    size_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;
    /** Opaque; pass it as the first argument of every callback. */
    void *host;

    /** Writes a log line (copied) under the instance's name. Any thread. */
    void (*callback_log)(void *host, herald_sink_log_level level, const char *message, size_t message_len);

    /**
     * Adds `delta` to the counter `name`, exported as herald_plugin_<plugin>_<name>_total with the
     * destination's labels. A name of 1 to 100 bytes; at most 200 names per plugin; a name the plugin
     * already holds as a gauge (also after the `_total` suffix) is refused: logged once, dropped. Any thread.
     */
    void (*callback_metric_counter)(void *host, const char *name, size_t name_len, uint64_t delta);

    /** Sets the gauge `name`, exported as herald_plugin_<plugin>_<name> (same rules as counters). Any thread. */
    void (*callback_metric_gauge)(void *host, const char *name, size_t name_len, double value);

    /**
     * Completes a batch: exactly once per batch, with `result_count` equal to the batch's
     * message_count, results in message order. `results` and their error texts are copied
     * before this returns. Any thread, including from inside on_send_batch.
     */
    void (*callback_complete_batch)(void *host, uint64_t batch_id, const herald_sink_result *results,
                                    size_t result_count);

    /** Reports the instance's health (healthy = 1 or 0) and a reason (copied). Any thread. */
    void (*callback_set_health)(void *host, int healthy, const char *reason, size_t reason_len);

    /**
     * Since ABI 1.1 (check struct_size): the `name` of the destination this instance serves, the same text
     * every batch carries in `destination`, so that on_create and on_get_limits can know it (an SQS sink
     * learns whether its queue is FIFO). Not NUL-terminated; valid until on_destroy returns.
     */
    const char *destination_name;
    size_t destination_name_len;
} herald_sink_host_api;

/** A plugin's instance; its layout is the plugin's own. */
typedef struct herald_sink_instance herald_sink_instance;

/** The static descriptor returned by herald_sink_entry(). */
typedef struct herald_sink_descriptor {
    /** HERALD_SINK_MAGIC. */
    uint32_t magic;
    /** sizeof(herald_sink_descriptor) as the plugin was compiled. */
    uint32_t struct_size;
    /** HERALD_SINK_ABI_MAJOR / HERALD_SINK_ABI_MINOR as the plugin was compiled. */
    uint16_t abi_major;
    uint16_t abi_minor;
    /** Short name used in configurations ("file", "sqs"), NUL-terminated. */
    const char *name;
    /** The plugin's own version ("1.4.2"), NUL-terminated. */
    const char *version;
    /** One line for `herald plugins list`, NUL-terminated. */
    const char *description;
    /** JSON Schema of the instance configuration, or NULL. */
    const char *config_schema;
    /** HERALD_SINK_CAP_* flags. */
    uint64_t capabilities;

    /**
     * Checks a configuration without side effects (no I/O, no connections).
     * Returns 0 when valid; otherwise non-zero with a message in `error`.
     */
    int (*on_validate_config)(const char *config_json, size_t config_len, char *error, size_t error_size);

    /**
     * Creates an instance from a JSON configuration. `host` stays valid until on_destroy returns.
     * Returns NULL on failure with a message in `error`.
     */
    herald_sink_instance *(*on_create)(const herald_sink_host_api *host, const char *config_json, size_t config_len,
                                       char *error, size_t error_size);

    /** Fills `limits` (its struct_size is set by Herald; write only fields that fit). */
    void (*on_get_limits)(herald_sink_instance *instance, herald_sink_limits *limits);

    /** Connects or opens what the instance needs. Returns 0, or non-zero with a message in `error`. */
    int (*on_start)(herald_sink_instance *instance, char *error, size_t error_size);

    /** Sends a batch; see COMPLETION above. */
    void (*on_send_batch)(herald_sink_instance *instance, const herald_sink_batch *batch);

    /** Optional (HERALD_SINK_CAP_FLUSH; may be NULL): pushes out buffered data. Returns 0 when done in time. */
    int (*on_flush)(herald_sink_instance *instance, uint32_t timeout_ms);

    /** Stops within `deadline_ms`: finishes or fails what is in flight. No completions after it returns. */
    void (*on_stop)(herald_sink_instance *instance, uint32_t deadline_ms);

    /** Frees the instance. */
    void (*on_destroy)(herald_sink_instance *instance);
} herald_sink_descriptor;

/** The entry point's type. A plugin defines: const herald_sink_descriptor *herald_sink_entry(void); */
typedef const herald_sink_descriptor *(*herald_sink_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* HERALD_SINK_H */
