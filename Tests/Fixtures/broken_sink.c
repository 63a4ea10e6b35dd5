/*
 * broken_sink.c — a minimal sink plugin for the plugin loader's tests.
 *
 * The tests compile it once per variant:
 *     cc -shared -fPIC -I<dir of herald_sink.h> -D<VARIANT> broken_sink.c -o <VARIANT>.so
 *
 * Variants (at most one macro):
 *   (none)        a correct, working synchronous plugin named "broken-ok": every message of
 *                 every batch completes OK inside on_send_batch. It proves the good path with
 *                 the same file as the broken ones.
 *   BROKEN_MAGIC  descriptor magic is not HERALD_SINK_MAGIC            → the loader must refuse it
 *   BROKEN_MAJOR  abi_major = HERALD_SINK_ABI_MAJOR + 1                → refused (major must be equal)
 *   NEWER_MINOR   abi_minor = HERALD_SINK_ABI_MINOR + 1                → refused (minor newer than the host's)
 *   NO_ENTRY      does not export herald_sink_entry; exports
 *                 `herald_sink_entry_missing` instead                  → refused (no entry symbol)
 *   SMALL_STRUCT  struct_size = offsetof(herald_sink_descriptor, on_destroy), smaller than
 *                 sizeof(herald_sink_descriptor) for this ABI minor    → refused (truncated descriptor)
 *   METRIC_CLASH  a working plugin ("metric-clash") that, in on_start and again on every batch, reports
 *                 metrics that clash: a counter "clash" then a gauge "clash_total" (the same exported
 *                 name), a gauge "sent_total" and a counter "sent", a gauge "x" and a counter "x"
 *                 (which do not clash: x and x_total), an empty name, a 300-byte name; two good ones, the counter "ok" (+3 each time) and the
 *                 gauge "level" (42); then 250 distinct gauge names "many_0"…  → Herald keeps running,
 *                 refuses each clash with one log line, exports the good ones, and stops accepting
 *                 names at the per-plugin budget
 * Each broken variant is otherwise identical to "broken-ok" and has its own name
 * ("broken-magic", "broken-major", "newer-minor", "no-entry", "small-struct").
 */
#include "herald_sink.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(BROKEN_MAGIC)
#define BS_NAME "broken-magic"
#elif defined(BROKEN_MAJOR)
#define BS_NAME "broken-major"
#elif defined(NEWER_MINOR)
#define BS_NAME "newer-minor"
#elif defined(NO_ENTRY)
#define BS_NAME "no-entry"
#elif defined(SMALL_STRUCT)
#define BS_NAME "small-struct"
#elif defined(METRIC_CLASH)
#define BS_NAME "metric-clash"
#else
#define BS_NAME "broken-ok"
#endif

struct herald_sink_instance {
    const herald_sink_host_api *host;
};

static void bs_error(char *error, size_t error_size, const char *text) {
    if (error == NULL || error_size == 0) return;
    size_t n = strlen(text);
    if (n >= error_size) n = error_size - 1;
    memcpy(error, text, n);
    error[n] = '\0';
}

/** Accepts an empty configuration or an empty JSON object (blanks allowed); nothing else. */
static int bs_validate_config(const char *config_json, size_t config_len, char *error, size_t error_size) {
    char kept[3];
    size_t n = 0;
    for (size_t i = 0; i < config_len && n < sizeof kept; i++) {
        char c = config_json[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') kept[n++] = c;
    }
    if (n == 0 || (n == 2 && kept[0] == '{' && kept[1] == '}')) return 0;
    bs_error(error, error_size, BS_NAME " takes no configuration: expected {}");
    return 1;
}

static herald_sink_instance *bs_create(const herald_sink_host_api *host, const char *config_json, size_t config_len,
                                       char *error, size_t error_size) {
    if (bs_validate_config(config_json, config_len, error, error_size) != 0) return NULL;
    if (host == NULL || host->abi_major != HERALD_SINK_ABI_MAJOR || host->callback_complete_batch == NULL) {
        bs_error(error, error_size, "incompatible host function table");
        return NULL;
    }
    herald_sink_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        bs_error(error, error_size, "out of memory");
        return NULL;
    }
    inst->host = host;
    return inst;
}

static void bs_get_limits(herald_sink_instance *inst, herald_sink_limits *limits) {
    (void)inst;
    if (limits->struct_size >= offsetof(herald_sink_limits, max_in_flight) + sizeof limits->max_in_flight)
        limits->max_in_flight = 1; /* synchronous */
}

#if defined(METRIC_CLASH)
static void bs_counter(herald_sink_instance *inst, const char *name, size_t len, uint64_t delta) {
    inst->host->callback_metric_counter(inst->host->host, name, len, delta);
}

static void bs_gauge(herald_sink_instance *inst, const char *name, size_t len, double value) {
    inst->host->callback_metric_gauge(inst->host->host, name, len, value);
}

/** Every clash a plugin can make with metric names, and two metrics that are fine. */
static void bs_report_metrics(herald_sink_instance *inst) {
    char name[300];
    bs_counter(inst, "clash", 5, 1);
    bs_gauge(inst, "clash_total", 11, 2);
    bs_gauge(inst, "sent_total", 10, 7);
    bs_counter(inst, "sent", 4, 1);
    bs_gauge(inst, "x", 1, 1);
    bs_counter(inst, "x", 1, 1);
    bs_counter(inst, "", 0, 1);
    memset(name, 'n', sizeof name);
    bs_gauge(inst, name, sizeof name, 1);
    bs_counter(inst, "ok", 2, 3);
    bs_gauge(inst, "level", 5, 42);
    for (int i = 0; i < 250; i++) {
        int n = snprintf(name, sizeof name, "many_%d", i);
        bs_gauge(inst, name, (size_t)n, (double)i);
    }
}
#endif

static int bs_start(herald_sink_instance *inst, char *error, size_t error_size) {
    (void)error;
    (void)error_size;
    static const char line[] = BS_NAME " started";
    if (inst->host->callback_log != NULL)
        inst->host->callback_log(inst->host->host, HERALD_SINK_LOG_INFO, line, sizeof line - 1);
#if defined(METRIC_CLASH)
    bs_report_metrics(inst);
#endif
    return 0;
}

/** Completes every message OK before returning (no HERALD_SINK_CAP_ASYNC). */
static void bs_send_batch(herald_sink_instance *inst, const herald_sink_batch *batch) {
    size_t count = batch->message_count;
    herald_sink_result *results = calloc(count ? count : 1, sizeof *results); /* zero = HERALD_SINK_OK */
    if (results == NULL) return; /* Herald times the batch out and retries it */
    for (size_t i = 0; i < count; i++) results[i].status = HERALD_SINK_OK;
#if defined(METRIC_CLASH)
    bs_report_metrics(inst);
#endif
    inst->host->callback_complete_batch(inst->host->host, batch->batch_id, results, count);
    free(results);
}

static void bs_stop(herald_sink_instance *inst, uint32_t deadline_ms) {
    (void)deadline_ms; /* nothing in flight: every batch completes inside on_send_batch */
    static const char line[] = BS_NAME " stopped";
    if (inst->host->callback_log != NULL)
        inst->host->callback_log(inst->host->host, HERALD_SINK_LOG_INFO, line, sizeof line - 1);
}

static void bs_destroy(herald_sink_instance *inst) { free(inst); }

static const herald_sink_descriptor bs_descriptor = {
#if defined(BROKEN_MAGIC)
    .magic = 0x4B4E5348u, /* "HSNK" byte-swapped */
#else
    .magic = HERALD_SINK_MAGIC,
#endif
#if defined(SMALL_STRUCT)
    .struct_size = (uint32_t)offsetof(herald_sink_descriptor, on_destroy),
#else
    .struct_size = (uint32_t)sizeof(herald_sink_descriptor),
#endif
#if defined(BROKEN_MAJOR)
    .abi_major = HERALD_SINK_ABI_MAJOR + 1,
#else
    .abi_major = HERALD_SINK_ABI_MAJOR,
#endif
#if defined(NEWER_MINOR)
    .abi_minor = HERALD_SINK_ABI_MINOR + 1,
#else
    .abi_minor = HERALD_SINK_ABI_MINOR,
#endif
    .name = BS_NAME,
    .version = "0.0.1",
    .description = "Loader test fixture (" BS_NAME ")",
    .config_schema = NULL,
    .capabilities = 0,
    .on_validate_config = bs_validate_config,
    .on_create = bs_create,
    .on_get_limits = bs_get_limits,
    .on_start = bs_start,
    .on_send_batch = bs_send_batch,
    .on_flush = NULL,
    .on_stop = bs_stop,
    .on_destroy = bs_destroy,
};

#if defined(NO_ENTRY)
/* Deliberately not herald_sink_entry: the loader must report the missing symbol. */
const herald_sink_descriptor *herald_sink_entry_missing(void);
const herald_sink_descriptor *herald_sink_entry_missing(void) { return &bs_descriptor; }
#else
const herald_sink_descriptor *herald_sink_entry(void);
const herald_sink_descriptor *herald_sink_entry(void) { return &bs_descriptor; }
#endif
