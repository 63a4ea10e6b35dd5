/*
 * test_sink.c — "test", the configurable sink used by Herald's integration tests and by the
 * conformance suite (`herald plugins check`). It delivers nowhere: it decides each message's
 * result from its configuration, optionally records delivered messages in a file, and can
 * misbehave on purpose (retries, throttling, permanent failures, a stuck batch, failing start),
 * up to faults that a sink host must survive (crash, abort, exit, a spinning call, a memory leak,
 * callbacks after on_stop).
 *
 * Configuration (a JSON object; every key optional; unknown keys and wrong types are refused):
 *   "output"                 string   file where each message completed OK is appended as one
 *                                      JSON line {"id","key","attempt","sink","headers","body"}
 *                                      ("sink": the plugin's version, TS_VERSION),
 *                                      written (one write(2) per batch, O_APPEND) before the
 *                                      completion callback; a torn last line left by a process
 *                                      that died while writing is ended with a newline when an
 *                                      instance starts
 *   "retryEveryNth"          integer  N: the first attempt of messages N, 2N, … completes RETRY
 *   "throttleEveryNth"       integer  N: the first attempt of messages N, 2N, … completes THROTTLED
 *   "retryAfterMs"           integer  retry_after_ms of THROTTLED results (default 0)
 *   "permanentMarker"        string   a body containing it completes PERMANENT
 *   "maxMessageBytes"        integer  declared limit; a longer body completes TOO_LARGE (default 0: none)
 *   "maxBatchMessages"       integer  declared limit (default 100)
 *   "maxBatchBytes"          integer  declared limit (default 1048576)
 *   "maxInFlight"            integer  declared limit (default 4)
 *   "neverCompleteBatch"     integer  K: the K-th batch received is never completed
 *   "async"                  boolean  complete from a worker thread (default true) or inside on_send_batch
 *   "completionDelayMs"      integer  delay between receiving a batch and completing it (default 0)
 *   "failStart"              boolean  on_start fails
 *   "failCreate"             boolean  on_create fails
 *   "latencyFile"            string   benchmarks: for each message completed OK, appends one line
 *                                      "<updatedTime header> <completion time> <body bytes>" (epoch ms)
 *   "unhealthyAfterBatches"  integer  K: on receiving the K-th batch, report the instance unhealthy
 *                                      ("injected unhealthy"), once; it never reports healthy again
 *   "keyOrder"               boolean  declare HERALD_SINK_LIMIT_KEY_ORDER (the destination needs each key's
 *                                      messages in order, as a FIFO queue does)
 * Faults (see "Faults" below; for tests of sink isolation — they take the process down or break the ABI):
 *   "crashOnBatch"           integer  K: on receiving the K-th batch, on_send_batch dereferences a NULL
 *                                      pointer (the process dies of SIGSEGV)
 *   "abortOnBatch"           integer  K: on receiving the K-th batch, on_send_batch calls abort() (SIGABRT)
 *   "exitOnBatch"            integer  K: on receiving the K-th batch, on_send_batch calls _exit(7)
 *   "spinOnBatch"            integer  K: on receiving the K-th batch, on_send_batch never returns: it busy-loops
 *                                      on a volatile counter (burns a CPU, never sleeps, never completes)
 *   "allocateMbPerBatch"     integer  M (at most 1024): on receiving each batch, malloc M MiB, write a non-zero
 *                                      byte to every byte of it and never free it (a leak without bound)
 *   "crashMarker"            string   a batch with a message body containing it makes on_send_batch dereference
 *                                      a NULL pointer (SIGSEGV), each time such a batch is received: a poison
 *                                      message
 *   "callbacksAfterStop"     boolean  on_stop, before returning, starts a detached thread that keeps calling
 *                                      the host's callbacks after on_stop returned (forbidden by the ABI)
 * An integer 0 switches the corresponding behaviour off (for the limits: "no limit of my own").
 * An empty configuration text counts as {}. Output lines escape JSON properly; bytes that are not
 * valid UTF-8 become U+FFFD so that every line stays valid JSON.
 *
 * Counting. Each instance numbers, under its lock and in the order on_send_batch is called,
 * every batch it receives while running (1, 2, …) and every message of those batches (1, 2, …
 * across batches, retries included, the never-completed batch included). Results are decided
 * when the batch is received, checked in this order:
 *   1. maxMessageBytes > 0 and body_len > maxMessageBytes      → TOO_LARGE (text gives both sizes)
 *   2. retryEveryNth N and message number % N == 0, attempt 1  → RETRY "injected retry"
 *   3. throttleEveryNth N and number % N == 0, attempt 1       → THROTTLED, retry_after_ms = retryAfterMs
 *   4. the body contains permanentMarker                       → PERMANENT "body contains permanent marker"
 *   5. otherwise                                               → OK (written to "output" first; if that
 *                                                                 write fails: RETRY with the reason)
 *
 * Completion. A batch completes "completionDelayMs" after it was received: from the worker thread
 * (async) or by blocking inside on_send_batch (sync). The batch numbered neverCompleteBatch is
 * counted and then forgotten (its pointer is not kept). A batch received before on_start
 * succeeded is not counted and completes at once, all RETRY "instance not started"; one received
 * after on_stop began is neither counted nor completed (Herald counts it as RETRY).
 *
 * Stop. on_stop(deadline_ms) stops accepting batches, then waits up to deadline_ms for queued
 * batches to complete normally (each at its due time). At the deadline, the batches still waiting
 * complete RETRY "sink stopped before completion", from on_stop's thread; the worker is joined.
 * Nothing completes after on_stop returns (unless callbacksAfterStop says otherwise, see Faults);
 * the never-completed batch stays uncompleted.
 * on_destroy without on_stop stops silently (no callbacks) and frees everything.
 *
 * Faults. The batch-numbered faults use the numbering above (batches received before on_start
 * succeeded or after on_stop began are not counted and trigger nothing). When a batch is counted,
 * on_send_batch checks, in this order, before anything else it does with the batch (before
 * unhealthyAfterBatches, neverCompleteBatch and the results):
 *   1. crashOnBatch K and number == K             → writes through a volatile NULL pointer (SIGSEGV)
 *   2. abortOnBatch K and number == K             → abort() (SIGABRT)
 *   3. exitOnBatch K and number == K              → _exit(7): no atexit handlers, no stdio flush
 *   4. crashMarker and some message body of the batch contains it → as crashOnBatch (any attempt,
 *      so the batch crashes the process every time it is sent)
 *   5. spinOnBatch K and number == K              → loops forever incrementing a volatile counter;
 *      the batch stays counted as a send in progress, so on_flush and on_stop would wait for it
 *   6. allocateMbPerBatch M                       → malloc(M MiB), memset to 0xA5 (every page
 *      touched), kept on a chain that is never freed, not even by on_destroy; if malloc fails, an
 *      error is logged and the batch goes on. Then the batch proceeds normally.
 * Each of 1-5 first logs one WARNING line naming the key. callbacksAfterStop: on_stop does
 * everything described under Stop, then (only on the first on_stop, not on on_destroy without
 * on_stop) starts a detached thread that owns a copy of the host function table and of the id
 * and message count of the last batch on_send_batch was given (counted or not). The thread sleeps
 * 50 ms, then for about 200 ms, every ~10 ms, calls callback_log (WARNING "late callback after
 * on_stop"), callback_metric_counter("late", 1), callback_set_health(0, "late health") and, if a
 * batch was ever given, callback_complete_batch(that id, its message_count results, all OK). It
 * reads no batch memory and nothing of the instance, and frees its own state when it ends, so
 * on_destroy may run at any time meanwhile (the host keeps its callbacks callable for the life of
 * the process).
 */
#define _POSIX_C_SOURCE 200809L

#include "herald_sink.h"

/* The plugin's version; tests of plugin upgrades build it twice with -DTS_VERSION='"2.0.0"'. */
#ifndef TS_VERSION
#define TS_VERSION "1.0.0"
#endif

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */
/* ------------------------------------------------------------------------------------------ */

#if defined(__GNUC__)
#define TS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TS_PRINTF(fmt, args)
#endif

/** Writes a formatted, NUL-terminated, truncated message into a caller-provided error buffer. */
TS_PRINTF(3, 4) static void ts_set_error(char *error, size_t error_size, const char *fmt, ...) {
    if (error == NULL || error_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error, error_size, fmt, ap);
    va_end(ap);
}

/** strerror, thread-safe (either strerror_r flavour). */
static const char *ts_strerror(int err, char *buf, size_t size) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, size);
#else
    if (strerror_r(err, buf, size) != 0) snprintf(buf, size, "error %d", err);
    return buf;
#endif
}

static uint64_t ts_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Waits on `cond` (which uses CLOCK_MONOTONIC) until `deadline_ns` at the latest. */
static void ts_wait_until(pthread_cond_t *cond, pthread_mutex_t *mu, uint64_t deadline_ns) {
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u), .tv_nsec = (long)(deadline_ns % 1000000000u)};
    pthread_cond_timedwait(cond, mu, &ts);
}

static int ts_init_monotonic_cond(pthread_cond_t *cond) {
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

/** Whether `hay` contains `needle` (byte strings, not NUL-terminated; needle non-empty). */
static bool ts_contains(const uint8_t *hay, size_t hay_len, const char *needle, size_t needle_len) {
    if (needle_len == 0 || hay_len < needle_len) return false;
    const uint8_t *last = hay + (hay_len - needle_len);
    for (const uint8_t *p = hay; p <= last; p++) {
        p = memchr(p, (unsigned char)needle[0], (size_t)(last - p) + 1);
        if (p == NULL) return false;
        if (memcmp(p, needle, needle_len) == 0) return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Configuration                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct ts_config {
    char *output;           /* NULL: none */
    char *permanent_marker; /* NULL: none */
    size_t permanent_marker_len;
    uint64_t retry_every_nth;
    uint64_t throttle_every_nth;
    uint64_t retry_after_ms;
    uint64_t max_message_bytes;
    uint64_t max_batch_messages;
    uint64_t max_batch_bytes;
    uint64_t max_in_flight;
    uint64_t never_complete_batch;
    bool async;
    uint64_t completion_delay_ms;
    bool fail_start;
    bool fail_create;
    uint64_t unhealthy_after_batches;
    char *latency_file; /* NULL: none */
    bool key_order;
    /* Faults */
    uint64_t crash_on_batch;
    uint64_t abort_on_batch;
    uint64_t exit_on_batch;
    uint64_t spin_on_batch;
    uint64_t allocate_mb_per_batch;
    char *crash_marker; /* NULL: none */
    size_t crash_marker_len;
    bool callbacks_after_stop;
} ts_config;

typedef enum ts_kind { TS_STRING, TS_UINT, TS_BOOL } ts_kind;

typedef struct ts_key {
    const char *name;
    ts_kind kind;
    size_t offset; /* in ts_config */
    uint64_t max;  /* TS_UINT only */
} ts_key;

#define TS_U32 UINT64_C(4294967295)
#define TS_U53 UINT64_C(9007199254740991) /* exact in a JSON double */
#define TS_MAX_ALLOCATE_MB UINT64_C(1024)    /* allocateMbPerBatch */

static const ts_key ts_keys[] = {
    {"output", TS_STRING, offsetof(ts_config, output), 0},
    {"retryEveryNth", TS_UINT, offsetof(ts_config, retry_every_nth), TS_U53},
    {"throttleEveryNth", TS_UINT, offsetof(ts_config, throttle_every_nth), TS_U53},
    {"retryAfterMs", TS_UINT, offsetof(ts_config, retry_after_ms), TS_U32},
    {"permanentMarker", TS_STRING, offsetof(ts_config, permanent_marker), 0},
    {"maxMessageBytes", TS_UINT, offsetof(ts_config, max_message_bytes), TS_U53},
    {"maxBatchMessages", TS_UINT, offsetof(ts_config, max_batch_messages), TS_U32},
    {"maxBatchBytes", TS_UINT, offsetof(ts_config, max_batch_bytes), TS_U53},
    {"maxInFlight", TS_UINT, offsetof(ts_config, max_in_flight), TS_U32},
    {"neverCompleteBatch", TS_UINT, offsetof(ts_config, never_complete_batch), TS_U53},
    {"async", TS_BOOL, offsetof(ts_config, async), 0},
    {"completionDelayMs", TS_UINT, offsetof(ts_config, completion_delay_ms), TS_U32},
    {"failStart", TS_BOOL, offsetof(ts_config, fail_start), 0},
    {"failCreate", TS_BOOL, offsetof(ts_config, fail_create), 0},
    {"unhealthyAfterBatches", TS_UINT, offsetof(ts_config, unhealthy_after_batches), TS_U53},
    {"latencyFile", TS_STRING, offsetof(ts_config, latency_file), 0},
    {"keyOrder", TS_BOOL, offsetof(ts_config, key_order), 0},
    {"crashOnBatch", TS_UINT, offsetof(ts_config, crash_on_batch), TS_U53},
    {"abortOnBatch", TS_UINT, offsetof(ts_config, abort_on_batch), TS_U53},
    {"exitOnBatch", TS_UINT, offsetof(ts_config, exit_on_batch), TS_U53},
    {"spinOnBatch", TS_UINT, offsetof(ts_config, spin_on_batch), TS_U53},
    {"allocateMbPerBatch", TS_UINT, offsetof(ts_config, allocate_mb_per_batch), TS_MAX_ALLOCATE_MB},
    {"crashMarker", TS_STRING, offsetof(ts_config, crash_marker), 0},
    {"callbacksAfterStop", TS_BOOL, offsetof(ts_config, callbacks_after_stop), 0},
};
#define TS_KEY_COUNT (sizeof ts_keys / sizeof ts_keys[0])
/* ts_parse_config tracks the keys seen in a uint32_t. */
_Static_assert(sizeof ts_keys / sizeof ts_keys[0] <= 32, "too many configuration keys for the duplicate check");

static void ts_config_defaults(ts_config *c) {
    memset(c, 0, sizeof *c);
    c->max_batch_messages = 100;
    c->max_batch_bytes = 1048576;
    c->max_in_flight = 4;
    c->async = true;
}

static void ts_config_free(ts_config *c) {
    free(c->output);
    free(c->permanent_marker);
    free(c->latency_file);
    free(c->crash_marker);
    c->output = NULL;
    c->permanent_marker = NULL;
    c->latency_file = NULL;
    c->crash_marker = NULL;
}

/** A cursor over the configuration text; the first error wins. */
typedef struct ts_parser {
    const char *p;
    const char *end;
    char *error;
    size_t error_size;
} ts_parser;

TS_PRINTF(2, 3) static int ts_fail(ts_parser *ps, const char *fmt, ...) {
    if (ps->error != NULL && ps->error_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->error, ps->error_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void ts_skip_ws(ts_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static const char *ts_json_type_name(char c) {
    switch (c) {
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    case '{': return "an object";
    case '[': return "an array";
    default: return (c == '-' || (c >= '0' && c <= '9')) ? "a number" : "an invalid value";
    }
}

static int ts_hex4(const char *p, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/**
 * Parses a JSON string at the cursor into a new NUL-terminated UTF-8 buffer (`*out`, freed by
 * the caller, also on error: it is NULL then). `what` names the string in error messages.
 */
static int ts_parse_string(ts_parser *ps, char **out, size_t *out_len, const char *what) {
    *out = NULL;
    if (ps->p >= ps->end || *ps->p != '"') return ts_fail(ps, "%s: expected a string", what);
    ps->p++;
    /* Decoded UTF-8 is never longer than the escaped text. */
    char *buf = malloc((size_t)(ps->end - ps->p) + 1);
    if (buf == NULL) return ts_fail(ps, "out of memory");
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end) {
            free(buf);
            return ts_fail(ps, "%s: unterminated string", what);
        }
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"') break;
        if (c < 0x20) {
            free(buf);
            return ts_fail(ps, "%s: control character in string (escape it)", what);
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            continue;
        }
        if (ps->p >= ps->end) continue; /* reported as unterminated */
        char e = *ps->p++;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (ps->end - ps->p < 4 || ts_hex4(ps->p, &cp) != 0) {
                free(buf);
                return ts_fail(ps, "%s: invalid \\u escape", what);
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || ts_hex4(ps->p + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return ts_fail(ps, "%s: unpaired surrogate in \\u escape", what);
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return ts_fail(ps, "%s: unpaired surrogate in \\u escape", what);
            }
            if (cp < 0x80) {
                buf[n++] = (char)cp;
            } else if (cp < 0x800) {
                buf[n++] = (char)(0xC0 | (cp >> 6));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                buf[n++] = (char)(0xE0 | (cp >> 12));
                buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            } else {
                buf[n++] = (char)(0xF0 | (cp >> 18));
                buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                buf[n++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default:
            free(buf);
            return ts_fail(ps, "%s: invalid escape \\%c", what, e);
        }
    }
    buf[n] = '\0';
    *out = buf;
    if (out_len != NULL) *out_len = n;
    return 0;
}

/** Parses a non-negative JSON integer no larger than `max` for key `key`. */
static int ts_parse_uint(ts_parser *ps, const char *key, uint64_t max, uint64_t *out) {
    const char *start = ps->p;
    if (ps->p < ps->end && *ps->p == '-') ps->p++;
    const char *digits = ps->p;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    size_t ndigits = (size_t)(ps->p - digits);
    bool fraction = ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E');
    if (ndigits == 0) return ts_fail(ps, "\"%s\" must be a non-negative integer: invalid number", key);
    if (ndigits > 1 && digits[0] == '0') return ts_fail(ps, "\"%s\": invalid number (leading zero)", key);
    if (*start == '-' || fraction) return ts_fail(ps, "\"%s\" must be a non-negative integer", key);
    uint64_t v = 0;
    for (const char *d = digits; d < ps->p; d++) {
        uint64_t digit = (uint64_t)(*d - '0');
        if (v > (max - digit) / 10) return ts_fail(ps, "\"%s\" must be at most %llu", key, (unsigned long long)max);
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

static int ts_parse_bool(ts_parser *ps, const char *key, bool *out) {
    size_t left = (size_t)(ps->end - ps->p);
    if (left >= 4 && memcmp(ps->p, "true", 4) == 0) {
        ps->p += 4;
        *out = true;
        return 0;
    }
    if (left >= 5 && memcmp(ps->p, "false", 5) == 0) {
        ps->p += 5;
        *out = false;
        return 0;
    }
    return ts_fail(ps, "\"%s\": invalid literal", key);
}

/** Copies `key` into `dst` for messages, replacing non-printable bytes. */
static void ts_printable(char *dst, size_t dst_size, const char *key) {
    size_t i = 0;
    for (; key[i] != '\0' && i + 1 < dst_size; i++) dst[i] = (key[i] >= 0x20 && key[i] < 0x7F) ? key[i] : '?';
    dst[i] = '\0';
}

/**
 * Parses the configuration into `c` (defaults first). Returns 0, or -1 with a message in `error`;
 * `c` owns its strings either way (ts_config_free). An empty or all-blank text counts as {}.
 */
static int ts_parse_config(const char *json, size_t len, ts_config *c, char *error, size_t error_size) {
    ts_config_defaults(c);
    ts_parser ps = {.p = json, .end = json + len, .error = error, .error_size = error_size};
    if (json == NULL) ps.p = ps.end = NULL;
    ts_skip_ws(&ps);
    if (ps.p == ps.end) return 0;
    if (*ps.p != '{') return ts_fail(&ps, "configuration must be a JSON object");
    ps.p++;
    uint32_t seen = 0;
    ts_skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}') {
        ps.p++;
    } else {
        for (;;) {
            ts_skip_ws(&ps);
            char *name = NULL;
            if (ts_parse_string(&ps, &name, NULL, "configuration key") != 0) return -1;
            char shown[64];
            ts_printable(shown, sizeof shown, name);
            size_t k = 0;
            while (k < TS_KEY_COUNT && strcmp(ts_keys[k].name, name) != 0) k++;
            free(name);
            if (k == TS_KEY_COUNT) {
                return ts_fail(&ps,
                               "unknown key \"%s\" (known keys: output, retryEveryNth, throttleEveryNth, "
                               "retryAfterMs, permanentMarker, maxMessageBytes, maxBatchMessages, maxBatchBytes, "
                               "maxInFlight, neverCompleteBatch, async, completionDelayMs, failStart, failCreate, "
                               "unhealthyAfterBatches, latencyFile, keyOrder, crashOnBatch, abortOnBatch, "
                               "exitOnBatch, spinOnBatch, allocateMbPerBatch, crashMarker, callbacksAfterStop)",
                               shown);
            }
            if (seen & (UINT32_C(1) << k)) return ts_fail(&ps, "duplicate key \"%s\"", shown);
            seen |= UINT32_C(1) << k;
            ts_skip_ws(&ps);
            if (ps.p >= ps.end || *ps.p != ':') return ts_fail(&ps, "expected ':' after key \"%s\"", shown);
            ps.p++;
            ts_skip_ws(&ps);
            if (ps.p >= ps.end) return ts_fail(&ps, "\"%s\": missing value", shown);
            const ts_key *spec = &ts_keys[k];
            void *field = (char *)c + spec->offset;
            char first = *ps.p;
            switch (spec->kind) {
            case TS_STRING: {
                if (first != '"')
                    return ts_fail(&ps, "\"%s\" must be a string, not %s", shown, ts_json_type_name(first));
                char *value = NULL;
                size_t value_len = 0;
                if (ts_parse_string(&ps, &value, &value_len, shown) != 0) return -1;
                char **slot = field;
                free(*slot);
                *slot = value;
                if (value_len == 0) return ts_fail(&ps, "\"%s\" must not be empty", shown);
                if (strlen(value) != value_len && slot == &c->output)
                    return ts_fail(&ps, "\"%s\" must not contain NUL characters", shown);
                if (slot == &c->permanent_marker) c->permanent_marker_len = value_len;
                if (slot == &c->crash_marker) c->crash_marker_len = value_len;
                break;
            }
            case TS_UINT:
                if (first != '-' && (first < '0' || first > '9'))
                    return ts_fail(&ps, "\"%s\" must be a non-negative integer, not %s", shown,
                                   ts_json_type_name(first));
                if (ts_parse_uint(&ps, shown, spec->max, field) != 0) return -1;
                break;
            case TS_BOOL:
                if (first != 't' && first != 'f')
                    return ts_fail(&ps, "\"%s\" must be true or false, not %s", shown, ts_json_type_name(first));
                if (ts_parse_bool(&ps, shown, field) != 0) return -1;
                break;
            }
            ts_skip_ws(&ps);
            if (ps.p < ps.end && *ps.p == ',') {
                ps.p++;
                continue;
            }
            if (ps.p < ps.end && *ps.p == '}') {
                ps.p++;
                break;
            }
            return ts_fail(&ps, "expected ',' or '}' after the value of \"%s\"", shown);
        }
    }
    ts_skip_ws(&ps);
    if (ps.p != ps.end) return ts_fail(&ps, "unexpected text after the configuration object");
    return 0;
}

static int ts_validate_config(const char *config_json, size_t config_len, char *error, size_t error_size) {
    ts_config c;
    int rc = ts_parse_config(config_json, config_len, &c, error, error_size);
    ts_config_free(&c);
    return rc == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The output file: one JSON line per message completed OK                                     */
/* ------------------------------------------------------------------------------------------ */

typedef struct ts_buf {
    char *p;
    size_t len;
    size_t cap;
    bool failed; /* out of memory */
} ts_buf;

static void ts_buf_add(ts_buf *b, const char *s, size_t n) {
    if (b->failed || n == 0) return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                b->failed = true;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void ts_buf_str(ts_buf *b, const char *s) { ts_buf_add(b, s, strlen(s)); }

/** Length of the valid UTF-8 sequence at s[0..n), or 0 when it is not one. */
static size_t ts_utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/** Appends `s` as a JSON string; invalid UTF-8 bytes become U+FFFD so that every line stays valid JSON. */
static void ts_buf_json(ts_buf *b, const void *data, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = data;
    ts_buf_add(b, "\"", 1);
    if (n == 0) {
        ts_buf_add(b, "\"", 1);
        return;
    }
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') run++;
        ts_buf_add(b, (const char *)s + i, run - i);
        i = run;
        if (i >= n) break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t len = ts_utf8_len(s + i, n - i);
            if (len == 0) {
                ts_buf_str(b, "\\ufffd");
                i++;
            } else {
                ts_buf_add(b, (const char *)s + i, len);
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"': ts_buf_str(b, "\\\""); break;
        case '\\': ts_buf_str(b, "\\\\"); break;
        case '\n': ts_buf_str(b, "\\n"); break;
        case '\r': ts_buf_str(b, "\\r"); break;
        case '\t': ts_buf_str(b, "\\t"); break;
        case '\b': ts_buf_str(b, "\\b"); break;
        case '\f': ts_buf_str(b, "\\f"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF], '\0'};
            ts_buf_add(b, u, 6);
        }
        }
        i++;
    }
    ts_buf_add(b, "\"", 1);
}

static void ts_buf_message(ts_buf *b, const herald_sink_message *m) {
    char attempt[16];
    ts_buf_str(b, "{\"id\":");
    ts_buf_json(b, m->id, m->id_len);
    ts_buf_str(b, ",\"key\":");
    ts_buf_json(b, m->key, m->key_len);
    snprintf(attempt, sizeof attempt, "%u", (unsigned)m->attempt);
    ts_buf_str(b, ",\"attempt\":");
    ts_buf_str(b, attempt);
    ts_buf_str(b, ",\"sink\":\"" TS_VERSION "\"");
    ts_buf_str(b, ",\"headers\":{");
    for (size_t h = 0; h < m->header_count; h++) {
        if (h > 0) ts_buf_add(b, ",", 1);
        ts_buf_json(b, m->headers[h].name, m->headers[h].name_len);
        ts_buf_add(b, ":", 1);
        ts_buf_json(b, m->headers[h].value, m->headers[h].value_len);
    }
    ts_buf_str(b, "},\"body\":");
    ts_buf_json(b, m->body, m->body_len);
    ts_buf_str(b, "}\n");
}

/* ------------------------------------------------------------------------------------------ */
/* The instance                                                                                */
/* ------------------------------------------------------------------------------------------ */

enum { TS_TEXT_SLOT = 128 }; /* room for one per-message error text */

/** A received batch, its results decided, waiting for its due time (async mode). */
typedef struct ts_pending {
    struct ts_pending *next;
    const herald_sink_batch *batch; /* borrowed from Herald until completion */
    herald_sink_result *results;    /* one per message, texts in the same allocation */
    uint64_t due_ns;
} ts_pending;

typedef enum ts_state { TS_CREATED, TS_RUNNING, TS_STOPPING, TS_STOPPED } ts_state;

struct herald_sink_instance {
    const herald_sink_host_api *host;
    ts_config cfg;

    pthread_mutex_t mu;   /* guards everything below up to `out_mu` */
    pthread_cond_t wake;  /* worker and sync senders: work queued, or stop aborted */
    pthread_cond_t idle;  /* on_flush and on_stop: a batch completed or a send returned */
    ts_state state;
    bool worker_running;
    bool worker_exit;     /* the worker leaves once its queue is empty */
    bool abort_waits;     /* on_stop's deadline passed: stop waiting for due times */
    pthread_t worker;
    ts_pending *head;
    ts_pending *tail;
    bool worker_busy;     /* the worker is completing a batch it popped */
    unsigned sends;       /* on_send_batch calls in progress */
    uint64_t batches_seen;
    uint64_t messages_seen;
    uint64_t batches_completed;
    uint64_t batches_failed_at_stop;
    bool have_last_batch;       /* callbacksAfterStop: the last batch on_send_batch was given */
    uint64_t last_batch_id;
    size_t last_batch_count;
    bool late_thread_started;   /* callbacksAfterStop: only the first on_stop starts it */
    void *leaked;               /* allocateMbPerBatch: the chain of blocks, never freed */

    pthread_mutex_t out_mu; /* guards `out` */
    FILE *out;
    FILE *latency; /* latencyFile, guarded by out_mu */
};

TS_PRINTF(3, 4) static void ts_log(herald_sink_instance *inst, herald_sink_log_level level, const char *fmt, ...) {
    const herald_sink_host_api *h = inst->host;
    if (h->callback_log == NULL) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    h->callback_log(h->host, level, line, len);
}

static void ts_set_health(herald_sink_instance *inst, int healthy, const char *reason) {
    const herald_sink_host_api *h = inst->host;
    if (h->callback_set_health != NULL) h->callback_set_health(h->host, healthy, reason, strlen(reason));
}

static void ts_complete(herald_sink_instance *inst, const herald_sink_batch *batch, const herald_sink_result *results) {
    const herald_sink_host_api *h = inst->host;
    h->callback_complete_batch(h->host, batch->batch_id, results, batch->message_count);
}

static herald_sink_result *ts_alloc_results(size_t count) {
    size_t n = count ? count : 1;
    if (n > SIZE_MAX / (sizeof(herald_sink_result) + TS_TEXT_SLOT)) return NULL;
    return calloc(n, sizeof(herald_sink_result) + TS_TEXT_SLOT);
}

static char *ts_text_slot(herald_sink_result *results, size_t count, size_t i) {
    return (char *)(results + (count ? count : 1)) + i * TS_TEXT_SLOT;
}

static void ts_set_result(herald_sink_result *r, herald_sink_status status, uint32_t retry_after_ms, const char *text) {
    r->status = status;
    r->retry_after_ms = retry_after_ms;
    r->error = text;
    r->error_len = text ? strlen(text) : 0;
}

/** Completes `batch` with every message RETRY and `reason` (static text). */
static void ts_complete_all_retry(herald_sink_instance *inst, const herald_sink_batch *batch, const char *reason) {
    herald_sink_result *results = ts_alloc_results(batch->message_count);
    if (results == NULL) {
        ts_log(inst, HERALD_SINK_LOG_ERROR, "out of memory: batch %llu left uncompleted",
               (unsigned long long)batch->batch_id);
        return;
    }
    for (size_t i = 0; i < batch->message_count; i++) ts_set_result(&results[i], HERALD_SINK_RETRY, 0, reason);
    ts_complete(inst, batch, results);
    free(results);
}

/** Decides every message's result; `first_number` is the instance-wide number of message 0. */
static void ts_decide(const ts_config *c, const herald_sink_batch *batch, uint64_t first_number,
                      herald_sink_result *results) {
    size_t count = batch->message_count;
    for (size_t i = 0; i < count; i++) {
        const herald_sink_message *m = &batch->messages[i];
        uint64_t number = first_number + i;
        bool first_attempt = m->attempt == 1;
        herald_sink_result *r = &results[i];
        if (c->max_message_bytes > 0 && m->body_len > c->max_message_bytes) {
            char *text = ts_text_slot(results, count, i);
            snprintf(text, TS_TEXT_SLOT, "body is %zu bytes, over the limit of %llu bytes (maxMessageBytes)",
                     m->body_len, (unsigned long long)c->max_message_bytes);
            ts_set_result(r, HERALD_SINK_TOO_LARGE, 0, text);
        } else if (c->retry_every_nth > 0 && number % c->retry_every_nth == 0 && first_attempt) {
            ts_set_result(r, HERALD_SINK_RETRY, 0, "injected retry");
        } else if (c->throttle_every_nth > 0 && number % c->throttle_every_nth == 0 && first_attempt) {
            ts_set_result(r, HERALD_SINK_THROTTLED, (uint32_t)c->retry_after_ms, "injected throttle");
        } else if (c->permanent_marker != NULL &&
                   ts_contains(m->body, m->body_len, c->permanent_marker, c->permanent_marker_len)) {
            ts_set_result(r, HERALD_SINK_PERMANENT, 0, "body contains permanent marker");
        } else {
            ts_set_result(r, HERALD_SINK_OK, 0, NULL);
        }
    }
}

/** latencyFile: "<updatedTime header> <now> <body bytes>" per OK message (epoch ms), for benchmarks. */
static void ts_record_latency(herald_sink_instance *inst, const herald_sink_batch *batch,
                              const herald_sink_result *results) {
    pthread_mutex_lock(&inst->out_mu);
    if (inst->latency != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long now = (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
        for (size_t i = 0; i < batch->message_count; i++) {
            if (results[i].status != HERALD_SINK_OK) continue;
            const herald_sink_message *m = &batch->messages[i];
            for (size_t h = 0; h < m->header_count; h++) {
                const herald_sink_header *hd = &m->headers[h];
                if (hd->name_len == 11 && memcmp(hd->name, "updatedTime", 11) == 0) {
                    fprintf(inst->latency, "%.*s %llu %zu\n", (int)hd->value_len, hd->value, now, m->body_len);
                    break;
                }
            }
        }
        fflush(inst->latency);
    }
    pthread_mutex_unlock(&inst->out_mu);
}

/**
 * Records the OK messages in the output file (written and flushed), then completes the batch.
 * Called without `mu` held. After the completion the batch must not be touched.
 */
static void ts_finish(herald_sink_instance *inst, const herald_sink_batch *batch, herald_sink_result *results) {
    size_t count = batch->message_count;
    pthread_mutex_lock(&inst->out_mu);
    if (inst->out != NULL) {
        ts_buf b = {0};
        for (size_t i = 0; i < count; i++)
            if (results[i].status == HERALD_SINK_OK) ts_buf_message(&b, &batch->messages[i]);
        const char *failure = NULL;
        char reason[96];
        if (b.failed) {
            failure = "out of memory rendering the output line";
        } else if (b.len > 0) {
            errno = 0;
            if (fwrite(b.p, 1, b.len, inst->out) != b.len || fflush(inst->out) != 0) {
                failure = errno ? ts_strerror(errno, reason, sizeof reason) : "write error";
                clearerr(inst->out);
            }
        }
        free(b.p);
        if (failure != NULL) {
            for (size_t i = 0; i < count; i++) {
                if (results[i].status != HERALD_SINK_OK) continue;
                char *text = ts_text_slot(results, count, i);
                snprintf(text, TS_TEXT_SLOT, "output write failed: %s", failure);
                ts_set_result(&results[i], HERALD_SINK_RETRY, 0, text);
            }
        }
        pthread_mutex_unlock(&inst->out_mu);
        if (failure != NULL)
            ts_log(inst, HERALD_SINK_LOG_ERROR, "writing \"%s\" failed: %s", inst->cfg.output, failure);
    } else {
        pthread_mutex_unlock(&inst->out_mu);
    }
    ts_record_latency(inst, batch, results);
    ts_complete(inst, batch, results);
}

/** The async worker: completes queued batches in order, each at its due time. */
static void *ts_worker(void *arg) {
    herald_sink_instance *inst = arg;
    pthread_mutex_lock(&inst->mu);
    for (;;) {
        ts_pending *p = inst->head;
        if (p == NULL) {
            if (inst->worker_exit) break;
            pthread_cond_wait(&inst->wake, &inst->mu);
            continue;
        }
        if (p->due_ns > ts_now_ns()) {
            if (inst->abort_waits) {
                /* on_stop passed its deadline and takes the rest; wait for it to do so. */
                if (inst->worker_exit) break;
                pthread_cond_wait(&inst->wake, &inst->mu);
            } else {
                ts_wait_until(&inst->wake, &inst->mu, p->due_ns);
            }
            continue;
        }
        inst->head = p->next;
        if (inst->head == NULL) inst->tail = NULL;
        inst->worker_busy = true;
        pthread_mutex_unlock(&inst->mu);

        ts_finish(inst, p->batch, p->results);
        free(p->results);
        free(p);

        pthread_mutex_lock(&inst->mu);
        inst->worker_busy = false;
        inst->batches_completed++;
        pthread_cond_broadcast(&inst->idle);
    }
    pthread_mutex_unlock(&inst->mu);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Faults                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/** Writes through a NULL pointer the compiler cannot see through: the process dies of SIGSEGV. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void ts_crash_now(void) {
    volatile int *volatile target = NULL;
    *target = 42;
    /* Not reached; should the write somehow not fault, do not go on as if nothing happened. */
    abort();
}

/** Busy-loops forever on a volatile counter (accessing a volatile object: the loop cannot be removed). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void ts_spin_forever(void) {
    volatile uint64_t counter = 0;
    for (;;) counter = counter + 1;
}

/** Whether some message body of `batch` contains crashMarker. */
static bool ts_has_crash_marker(const ts_config *c, const herald_sink_batch *batch) {
    if (c->crash_marker == NULL) return false;
    for (size_t i = 0; i < batch->message_count; i++) {
        const herald_sink_message *m = &batch->messages[i];
        if (ts_contains(m->body, m->body_len, c->crash_marker, c->crash_marker_len)) return true;
    }
    return false;
}

/**
 * The faults checked when batch `number` is received and counted (see "Faults" in the header).
 * Returns only when none of them ends the call (after leaking allocateMbPerBatch, if set).
 */
static void ts_inject_faults(herald_sink_instance *inst, const herald_sink_batch *batch, uint64_t number) {
    const ts_config *c = &inst->cfg;
    if (c->crash_on_batch > 0 && number == c->crash_on_batch) {
        ts_log(inst, HERALD_SINK_LOG_WARNING, "batch %llu received: dereferencing NULL (crashOnBatch)",
               (unsigned long long)number);
        ts_crash_now();
    }
    if (c->abort_on_batch > 0 && number == c->abort_on_batch) {
        ts_log(inst, HERALD_SINK_LOG_WARNING, "batch %llu received: calling abort() (abortOnBatch)",
               (unsigned long long)number);
        abort();
    }
    if (c->exit_on_batch > 0 && number == c->exit_on_batch) {
        ts_log(inst, HERALD_SINK_LOG_WARNING, "batch %llu received: calling _exit(7) (exitOnBatch)",
               (unsigned long long)number);
        _exit(7);
    }
    if (ts_has_crash_marker(c, batch)) {
        ts_log(inst, HERALD_SINK_LOG_WARNING,
               "batch %llu (id %llu) has a body containing the crash marker: dereferencing NULL (crashMarker)",
               (unsigned long long)number, (unsigned long long)batch->batch_id);
        ts_crash_now();
    }
    if (c->spin_on_batch > 0 && number == c->spin_on_batch) {
        ts_log(inst, HERALD_SINK_LOG_WARNING, "batch %llu received: spinning forever (spinOnBatch)",
               (unsigned long long)number);
        ts_spin_forever();
    }
    if (c->allocate_mb_per_batch > 0) {
        size_t size = (size_t)c->allocate_mb_per_batch * (size_t)1048576u; /* at most 1 GiB */
        void **block = malloc(size);
        if (block == NULL) {
            ts_log(inst, HERALD_SINK_LOG_ERROR, "batch %llu: cannot allocate %llu MiB (allocateMbPerBatch)",
                   (unsigned long long)number, (unsigned long long)c->allocate_mb_per_batch);
            return;
        }
        memset(block, 0xA5, size); /* every page touched: resident, not just reserved */
        /* Chained from the instance so the allocation escapes and cannot be optimised away. */
        pthread_mutex_lock(&inst->mu);
        block[0] = inst->leaked;
        inst->leaked = block;
        pthread_mutex_unlock(&inst->mu);
    }
}

/** callbacksAfterStop: what the late thread uses, all of it its own (copied at on_stop time). */
typedef struct ts_late {
    herald_sink_host_api host; /* a copy of the host's table (the fields this plugin knows) */
    bool have_batch;
    uint64_t batch_id;
    size_t batch_count;
} ts_late;

static void ts_sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000u), .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/** callbacksAfterStop: calls the host's callbacks after on_stop returned (forbidden by the ABI). */
static void *ts_late_callbacks(void *arg) {
    ts_late *late = arg;
    const herald_sink_host_api *h = &late->host;
    size_t n = late->batch_count ? late->batch_count : 1;
    herald_sink_result *results = calloc(n, sizeof *results); /* all OK, no text */
    static const char line[] = "late callback after on_stop (callbacksAfterStop)";
    static const char health[] = "late health";
    ts_sleep_ms(50);
    uint64_t end = ts_now_ns() + UINT64_C(200) * 1000000u;
    do {
        if (h->callback_log != NULL) h->callback_log(h->host, HERALD_SINK_LOG_WARNING, line, sizeof line - 1);
        if (h->callback_metric_counter != NULL) h->callback_metric_counter(h->host, "late", 4, 1);
        if (h->callback_set_health != NULL) h->callback_set_health(h->host, 0, health, sizeof health - 1);
        if (late->have_batch && results != NULL && h->callback_complete_batch != NULL)
            h->callback_complete_batch(h->host, late->batch_id, results, late->batch_count);
        ts_sleep_ms(10);
    } while (ts_now_ns() < end);
    free(results);
    free(late);
    return NULL;
}

/** callbacksAfterStop: starts the detached late thread (from on_stop, after the stop is done). */
static void ts_start_late_callbacks(herald_sink_instance *inst) {
    ts_late *late = calloc(1, sizeof *late);
    if (late == NULL) {
        ts_log(inst, HERALD_SINK_LOG_ERROR, "out of memory: no late callbacks (callbacksAfterStop)");
        return;
    }
    const herald_sink_host_api *h = inst->host;
    size_t copy = h->struct_size < sizeof late->host ? h->struct_size : sizeof late->host;
    memcpy(&late->host, h, copy);
    pthread_mutex_lock(&inst->mu);
    late->have_batch = inst->have_last_batch;
    late->batch_id = inst->last_batch_id;
    late->batch_count = inst->last_batch_count;
    pthread_mutex_unlock(&inst->mu);

    pthread_attr_t attr;
    pthread_t thread;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        rc = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (rc == 0) rc = pthread_create(&thread, &attr, ts_late_callbacks, late);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        free(late);
        ts_log(inst, HERALD_SINK_LOG_ERROR, "cannot start the late-callback thread (callbacksAfterStop)");
        return;
    }
    ts_log(inst, HERALD_SINK_LOG_WARNING,
           "on_stop: a detached thread will call host callbacks for ~250 ms after on_stop (callbacksAfterStop)");
}

/* ------------------------------------------------------------------------------------------ */
/* Entry points                                                                                */
/* ------------------------------------------------------------------------------------------ */

static herald_sink_instance *ts_create(const herald_sink_host_api *host, const char *config_json, size_t config_len,
                                       char *error, size_t error_size) {
    if (host == NULL ||
        host->struct_size < offsetof(herald_sink_host_api, callback_set_health) + sizeof(host->callback_set_health) ||
        host->abi_major != HERALD_SINK_ABI_MAJOR || host->callback_complete_batch == NULL) {
        ts_set_error(error, error_size, "incompatible host function table");
        return NULL;
    }
    herald_sink_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        ts_set_error(error, error_size, "out of memory");
        return NULL;
    }
    if (ts_parse_config(config_json, config_len, &inst->cfg, error, error_size) != 0) {
        ts_config_free(&inst->cfg);
        free(inst);
        return NULL;
    }
    if (inst->cfg.fail_create) {
        ts_set_error(error, error_size, "create failed on purpose");
        ts_config_free(&inst->cfg);
        free(inst);
        return NULL;
    }
    if (pthread_mutex_init(&inst->mu, NULL) != 0) goto fail_mu;
    if (pthread_mutex_init(&inst->out_mu, NULL) != 0) goto fail_out_mu;
    if (ts_init_monotonic_cond(&inst->wake) != 0) goto fail_wake;
    if (ts_init_monotonic_cond(&inst->idle) != 0) goto fail_idle;
    inst->host = host;
    inst->state = TS_CREATED;
    return inst;

fail_idle:
    pthread_cond_destroy(&inst->wake);
fail_wake:
    pthread_mutex_destroy(&inst->out_mu);
fail_out_mu:
    pthread_mutex_destroy(&inst->mu);
fail_mu:
    ts_set_error(error, error_size, "cannot initialise the instance's locks");
    ts_config_free(&inst->cfg);
    free(inst);
    return NULL;
}

#define TS_FITS(limits, field) \
    ((limits)->struct_size >= offsetof(herald_sink_limits, field) + sizeof((limits)->field))

static void ts_get_limits(herald_sink_instance *inst, herald_sink_limits *limits) {
    if (TS_FITS(limits, max_message_bytes)) limits->max_message_bytes = inst->cfg.max_message_bytes;
    if (TS_FITS(limits, max_batch_messages)) limits->max_batch_messages = (uint32_t)inst->cfg.max_batch_messages;
    if (TS_FITS(limits, max_batch_bytes)) limits->max_batch_bytes = inst->cfg.max_batch_bytes;
    if (TS_FITS(limits, max_in_flight)) limits->max_in_flight = (uint32_t)inst->cfg.max_in_flight;
    if (TS_FITS(limits, flags) && inst->cfg.key_order) limits->flags |= HERALD_SINK_LIMIT_KEY_ORDER;
}

static int ts_start(herald_sink_instance *inst, char *error, size_t error_size) {
    if (inst->state != TS_CREATED) {
        ts_set_error(error, error_size, "instance already started or stopped");
        return 1;
    }
    if (inst->cfg.fail_start) {
        ts_set_error(error, error_size, "start failed on purpose");
        ts_log(inst, HERALD_SINK_LOG_ERROR, "start failed on purpose (failStart)");
        return 1;
    }
    if (inst->cfg.output != NULL) {
        FILE *f = fopen(inst->cfg.output, "a+");
        if (f == NULL) {
            char reason[96];
            ts_set_error(error, error_size, "cannot open output \"%s\": %s", inst->cfg.output,
                         ts_strerror(errno, reason, sizeof reason));
            return 1;
        }
        /* Unbuffered: each batch's lines reach the file in one write(2), which O_APPEND keeps whole against other
           instances appending to the same file. */
        setvbuf(f, NULL, _IONBF, 0);
        /* A process that died while writing (the crash and exit faults, under isolation "process") can leave a
           torn last line. End it, so that this instance's first line does not run into it: readers skip the
           torn line, and every line written from here on stays whole. */
        if (fseek(f, -1, SEEK_END) == 0) {
            int last = fgetc(f);
            fseek(f, 0, SEEK_END);
            if (last != '\n' && last != EOF) {
                fputc('\n', f);
                fflush(f);
            }
        }
        fseek(f, 0, SEEK_END);
        pthread_mutex_lock(&inst->out_mu);
        inst->out = f;
        pthread_mutex_unlock(&inst->out_mu);
    }
    if (inst->cfg.latency_file != NULL) {
        FILE *f = fopen(inst->cfg.latency_file, "a");
        if (f == NULL) {
            char reason[96];
            ts_set_error(error, error_size, "cannot open latencyFile \"%s\": %s", inst->cfg.latency_file,
                         ts_strerror(errno, reason, sizeof reason));
            return 1;
        }
        pthread_mutex_lock(&inst->out_mu);
        inst->latency = f;
        pthread_mutex_unlock(&inst->out_mu);
    }
    if (inst->cfg.async) {
        if (pthread_create(&inst->worker, NULL, ts_worker, inst) != 0) {
            ts_set_error(error, error_size, "cannot start the worker thread");
            pthread_mutex_lock(&inst->out_mu);
            if (inst->out != NULL) fclose(inst->out);
            inst->out = NULL;
            pthread_mutex_unlock(&inst->out_mu);
            return 1;
        }
        inst->worker_running = true;
    }
    pthread_mutex_lock(&inst->mu);
    inst->state = TS_RUNNING;
    pthread_mutex_unlock(&inst->mu);
    ts_log(inst, HERALD_SINK_LOG_INFO, "test sink started (%s, completion delay %llu ms%s%s)",
           inst->cfg.async ? "async" : "sync", (unsigned long long)inst->cfg.completion_delay_ms,
           inst->cfg.output ? ", output " : "", inst->cfg.output ? inst->cfg.output : "");
    return 0;
}

static void ts_send_batch(herald_sink_instance *inst, const herald_sink_batch *batch) {
    const ts_config *c = &inst->cfg;
    pthread_mutex_lock(&inst->mu);
    inst->have_last_batch = true; /* callbacksAfterStop; on_send_batch never follows on_stop */
    inst->last_batch_id = batch->batch_id;
    inst->last_batch_count = batch->message_count;
    ts_state state = inst->state;
    if (state != TS_RUNNING) {
        pthread_mutex_unlock(&inst->mu);
        /* Before start: fail it now. During or after stop: no completion (Herald counts RETRY). */
        if (state == TS_CREATED) ts_complete_all_retry(inst, batch, "instance not started");
        return;
    }
    uint64_t number = ++inst->batches_seen;
    uint64_t first_message = inst->messages_seen + 1;
    inst->messages_seen += batch->message_count;
    inst->sends++;
    pthread_mutex_unlock(&inst->mu);

    ts_inject_faults(inst, batch, number);

    if (c->unhealthy_after_batches > 0 && number == c->unhealthy_after_batches) {
        ts_log(inst, HERALD_SINK_LOG_WARNING, "batch %llu received: reporting unhealthy (unhealthyAfterBatches)",
               (unsigned long long)number);
        ts_set_health(inst, 0, "injected unhealthy");
    }

    herald_sink_result *results = NULL;
    if (c->never_complete_batch > 0 && number == c->never_complete_batch) {
        ts_log(inst, HERALD_SINK_LOG_WARNING, "batch %llu (id %llu) will never be completed (neverCompleteBatch)",
               (unsigned long long)number, (unsigned long long)batch->batch_id);
        goto done;
    }
    results = ts_alloc_results(batch->message_count);
    if (results == NULL) {
        ts_log(inst, HERALD_SINK_LOG_ERROR, "out of memory: batch %llu left uncompleted",
               (unsigned long long)batch->batch_id);
        goto done;
    }
    ts_decide(c, batch, first_message, results);
    uint64_t due = ts_now_ns() + c->completion_delay_ms * UINT64_C(1000000);

    if (c->async) {
        ts_pending *p = malloc(sizeof *p);
        if (p == NULL) {
            free(results);
            ts_complete_all_retry(inst, batch, "out of memory");
            goto done;
        }
        *p = (ts_pending){.next = NULL, .batch = batch, .results = results, .due_ns = due};
        pthread_mutex_lock(&inst->mu);
        if (inst->tail) inst->tail->next = p;
        else inst->head = p;
        inst->tail = p;
        pthread_cond_broadcast(&inst->wake);
        pthread_mutex_unlock(&inst->mu);
        results = NULL; /* owned by the queue */
        goto done;
    }

    /* Synchronous: block until the due time (or until on_stop gives up waiting). */
    pthread_mutex_lock(&inst->mu);
    while (!inst->abort_waits && ts_now_ns() < due) ts_wait_until(&inst->wake, &inst->mu, due);
    bool aborted = inst->abort_waits && ts_now_ns() < due;
    pthread_mutex_unlock(&inst->mu);
    if (aborted) {
        ts_complete_all_retry(inst, batch, "sink stopped before completion");
    } else {
        ts_finish(inst, batch, results);
    }
    pthread_mutex_lock(&inst->mu);
    inst->batches_completed += aborted ? 0 : 1;
    inst->batches_failed_at_stop += aborted ? 1 : 0;
    pthread_mutex_unlock(&inst->mu);

done:
    free(results);
    pthread_mutex_lock(&inst->mu);
    inst->sends--;
    pthread_cond_broadcast(&inst->idle);
    pthread_mutex_unlock(&inst->mu);
}

static int ts_flush(herald_sink_instance *inst, uint32_t timeout_ms) {
    uint64_t deadline = ts_now_ns() + (uint64_t)timeout_ms * 1000000u;
    pthread_mutex_lock(&inst->mu);
    while ((inst->head != NULL || inst->worker_busy || inst->sends > 0) && ts_now_ns() < deadline)
        ts_wait_until(&inst->idle, &inst->mu, deadline);
    int pending = inst->head != NULL || inst->worker_busy || inst->sends > 0;
    pthread_mutex_unlock(&inst->mu);
    return pending ? 1 : 0;
}

/**
 * Stops the instance. `quiet`: from on_destroy without on_stop — no callbacks at all, what is
 * queued is dropped uncompleted.
 */
static void ts_stop_internal(herald_sink_instance *inst, uint32_t deadline_ms, bool quiet) {
    uint64_t deadline = ts_now_ns() + (uint64_t)deadline_ms * 1000000u;
    pthread_mutex_lock(&inst->mu);
    if (inst->state == TS_STOPPED || inst->state == TS_STOPPING) {
        pthread_mutex_unlock(&inst->mu);
        return;
    }
    bool was_running = inst->state == TS_RUNNING;
    inst->state = TS_STOPPING; /* on_send_batch refuses new batches from here on */
    while ((inst->head != NULL || inst->worker_busy || inst->sends > 0) && ts_now_ns() < deadline)
        ts_wait_until(&inst->idle, &inst->mu, deadline);
    /* Deadline reached (or all done): stop waiting for due times; let sends in progress return. */
    inst->abort_waits = true;
    pthread_cond_broadcast(&inst->wake);
    while (inst->sends > 0) pthread_cond_wait(&inst->idle, &inst->mu);
    ts_pending *rest = inst->head;
    inst->head = inst->tail = NULL;
    inst->worker_exit = true;
    pthread_cond_broadcast(&inst->wake);
    pthread_mutex_unlock(&inst->mu);

    if (inst->worker_running) {
        pthread_join(inst->worker, NULL);
        inst->worker_running = false;
    }
    uint64_t failed = 0;
    while (rest != NULL) {
        ts_pending *next = rest->next;
        if (!quiet) {
            for (size_t i = 0; i < rest->batch->message_count; i++)
                ts_set_result(&rest->results[i], HERALD_SINK_RETRY, 0, "sink stopped before completion");
            ts_complete(inst, rest->batch, rest->results);
        }
        free(rest->results);
        free(rest);
        rest = next;
        failed++;
    }
    pthread_mutex_lock(&inst->out_mu);
    if (inst->out != NULL) fclose(inst->out);
    inst->out = NULL;
    if (inst->latency != NULL) fclose(inst->latency);
    inst->latency = NULL;
    pthread_mutex_unlock(&inst->out_mu);

    pthread_mutex_lock(&inst->mu);
    inst->state = TS_STOPPED;
    inst->batches_failed_at_stop += failed;
    uint64_t batches = inst->batches_seen, messages = inst->messages_seen, completed = inst->batches_completed,
             failed_total = inst->batches_failed_at_stop;
    pthread_mutex_unlock(&inst->mu);
    if (!quiet) {
        if (was_running) {
            ts_log(inst, HERALD_SINK_LOG_INFO,
                   "test sink stopped: %llu batches (%llu messages) received, %llu completed normally, "
                   "%llu failed at stop",
                   (unsigned long long)batches, (unsigned long long)messages, (unsigned long long)completed,
                   (unsigned long long)failed_total);
        } else {
            ts_log(inst, HERALD_SINK_LOG_INFO, "test sink stopped (it was never started)");
        }
    }
}

static void ts_stop(herald_sink_instance *inst, uint32_t deadline_ms) {
    ts_stop_internal(inst, deadline_ms, false);
    if (!inst->cfg.callbacks_after_stop) return;
    pthread_mutex_lock(&inst->mu);
    bool first = !inst->late_thread_started;
    inst->late_thread_started = true;
    pthread_mutex_unlock(&inst->mu);
    if (first) ts_start_late_callbacks(inst);
}

static void ts_destroy(herald_sink_instance *inst) {
    if (inst == NULL) return;
    ts_stop_internal(inst, 0, true);
    pthread_cond_destroy(&inst->idle);
    pthread_cond_destroy(&inst->wake);
    pthread_mutex_destroy(&inst->out_mu);
    pthread_mutex_destroy(&inst->mu);
    ts_config_free(&inst->cfg);
    free(inst);
}

static const char ts_schema[] =
    "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"title\":\"test sink\",\"type\":\"object\","
    "\"additionalProperties\":false,\"properties\":{"
    "\"output\":{\"type\":\"string\",\"minLength\":1,\"description\":\"file receiving one JSON line per message "
    "completed OK\"},"
    "\"retryEveryNth\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"first attempt of every Nth message "
    "completes RETRY\"},"
    "\"throttleEveryNth\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"first attempt of every Nth message "
    "completes THROTTLED\"},"
    "\"retryAfterMs\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4294967295,\"default\":0},"
    "\"permanentMarker\":{\"type\":\"string\",\"minLength\":1,\"description\":\"a body containing it completes "
    "PERMANENT\"},"
    "\"maxMessageBytes\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},"
    "\"maxBatchMessages\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4294967295,\"default\":100},"
    "\"maxBatchBytes\":{\"type\":\"integer\",\"minimum\":0,\"default\":1048576},"
    "\"maxInFlight\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4294967295,\"default\":4},"
    "\"neverCompleteBatch\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"the K-th batch is never "
    "completed\"},"
    "\"async\":{\"type\":\"boolean\",\"default\":true},"
    "\"completionDelayMs\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":4294967295,\"default\":0},"
    "\"failStart\":{\"type\":\"boolean\",\"default\":false},"
    "\"failCreate\":{\"type\":\"boolean\",\"default\":false},"
    "\"unhealthyAfterBatches\":{\"type\":\"integer\",\"minimum\":0},"
    "\"latencyFile\":{\"type\":\"string\",\"minLength\":1},"
    "\"keyOrder\":{\"type\":\"boolean\",\"default\":false},"
    "\"crashOnBatch\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"fault: the K-th batch makes "
    "on_send_batch dereference NULL (SIGSEGV)\"},"
    "\"abortOnBatch\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"fault: the K-th batch makes "
    "on_send_batch call abort()\"},"
    "\"exitOnBatch\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"fault: the K-th batch makes "
    "on_send_batch call _exit(7)\"},"
    "\"spinOnBatch\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"fault: on the K-th batch "
    "on_send_batch busy-loops forever\"},"
    "\"allocateMbPerBatch\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1024,\"description\":\"fault: "
    "every batch leaks M MiB of touched memory\"},"
    "\"crashMarker\":{\"type\":\"string\",\"minLength\":1,\"description\":\"fault: a batch with a body "
    "containing it makes on_send_batch dereference NULL (SIGSEGV)\"},"
    "\"callbacksAfterStop\":{\"type\":\"boolean\",\"default\":false,\"description\":\"fault: a thread "
    "started by on_stop calls host callbacks for ~250 ms after on_stop returns\"}"
    "}}";

static const herald_sink_descriptor ts_descriptor = {
    .magic = HERALD_SINK_MAGIC,
    .struct_size = (uint32_t)sizeof(herald_sink_descriptor),
    .abi_major = HERALD_SINK_ABI_MAJOR,
    .abi_minor = HERALD_SINK_ABI_MINOR,
    .name = "test",
    .version = TS_VERSION,
    .description = "Configurable test sink: injected retries, throttling, failures and stuck batches",
    .config_schema = ts_schema,
    .capabilities = HERALD_SINK_CAP_ASYNC | HERALD_SINK_CAP_ORDERING_KEY | HERALD_SINK_CAP_FLUSH,
    .on_validate_config = ts_validate_config,
    .on_create = ts_create,
    .on_get_limits = ts_get_limits,
    .on_start = ts_start,
    .on_send_batch = ts_send_batch,
    .on_flush = ts_flush,
    .on_stop = ts_stop,
    .on_destroy = ts_destroy,
};

const herald_sink_descriptor *herald_sink_entry(void);

const herald_sink_descriptor *herald_sink_entry(void) { return &ts_descriptor; }
