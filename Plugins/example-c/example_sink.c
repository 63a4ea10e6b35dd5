/*
 * example_sink.c — the example Herald sink plugin: a starting point for your own.
 *
 * It appends every message as one line "<id>\t<key>\t<body>\n" to a file. Configuration:
 *     {"path": "/tmp/x.log", "fsync": false}
 * "path" is required; "fsync" (default false) makes it fsync the file after every batch.
 * In each field, backslash, tab, newline and carriage return are written as \\ \t \n \r, so a
 * message is always exactly one line.
 *
 * It is asynchronous (HERALD_SINK_CAP_ASYNC): on_send_batch only queues the batch (Herald keeps
 * the batch's memory valid until it is completed, so nothing is copied) and returns; a worker
 * thread writes the batch and completes it from that thread. on_stop drains the queue within
 * its deadline, fails what is left as RETRY and joins the thread.
 *
 * Read README.md beside this file for the walk-through.
 */
#define _POSIX_C_SOURCE 200809L

#include "herald_sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EX_MAX_MESSAGE_BYTES (1024u * 1024u)
#define EX_MAX_BATCH_MESSAGES 500u
#define EX_MAX_IN_FLIGHT 4u

/* ---- Configuration: a tiny parser for one flat JSON object ------------------------------- */

typedef struct ex_config {
    char path[4096];
    bool fsync;
} ex_config;

/** Writes a message into Herald's error buffer (NUL-terminated, truncated to fit); returns 1. */
__attribute__((format(printf, 3, 4))) static int ex_fail(char *error, size_t error_size, const char *fmt, ...) {
    if (error != NULL && error_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(error, error_size, fmt, ap);
        va_end(ap);
    }
    return 1;
}

static const char *ex_skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/**
 * Reads the JSON string at *p into out (NUL-terminated UTF-8) and moves *p past it.
 * Returns 0, or -1 if it is not a valid string, does not fit, or contains \u0000.
 */
static int ex_read_string(const char **p, const char *end, char *out, size_t out_size) {
    const char *s = *p;
    size_t n = 0;
    if (s >= end || *s != '"') return -1;
    for (s++; s < end && *s != '"'; s++) {
        unsigned char c = (unsigned char)*s;
        uint32_t cp = c;
        if (c < 0x20) return -1;
        if (c == '\\') {
            if (++s >= end) return -1;
            switch (*s) {
            case '"': case '\\': case '/': cp = (unsigned char)*s; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u': /* \uXXXX, Basic Multilingual Plane only: enough for an example */
                if (end - s < 5) return -1;
                cp = 0;
                for (int i = 1; i <= 4; i++) {
                    char h = s[i];
                    int v = (h >= '0' && h <= '9') ? h - '0'
                          : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                          : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                    if (v < 0) return -1;
                    cp = cp * 16 + (uint32_t)v;
                }
                s += 4;
                if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
                break;
            default: return -1;
            }
        }
        /* Append cp as UTF-8 (raw bytes >= 0x80 are copied as they are). */
        char u[3];
        size_t ulen;
        if (cp < 0x80 || c >= 0x80) {
            u[0] = (char)cp;
            ulen = 1;
        } else if (cp < 0x800) {
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            ulen = 2;
        } else {
            u[0] = (char)(0xE0 | (cp >> 12));
            u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (char)(0x80 | (cp & 0x3F));
            ulen = 3;
        }
        if (n + ulen >= out_size) return -1;
        memcpy(out + n, u, ulen);
        n += ulen;
    }
    if (s >= end) return -1;
    out[n] = '\0';
    *p = s + 1;
    return 0;
}

/** Parses {"path": "...", "fsync": true|false}. Pure: no I/O. Returns 0 or 1 with a message. */
static int ex_parse_config(const char *json, size_t len, ex_config *cfg, char *error, size_t error_size) {
    memset(cfg, 0, sizeof *cfg);
    if (json == NULL) len = 0, json = "";
    const char *end = json + len;
    const char *p = ex_skip_ws(json, end);
    bool have_path = false, have_fsync = false;
    if (p >= end || *p != '{')
        return ex_fail(error, error_size, "the configuration must be a JSON object, e.g. {\"path\": \"/tmp/x.log\"}");
    p = ex_skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            char key[64];
            p = ex_skip_ws(p, end);
            if (ex_read_string(&p, end, key, sizeof key) != 0)
                return ex_fail(error, error_size, "expected a key in double quotes (known keys: \"path\", \"fsync\")");
            p = ex_skip_ws(p, end);
            if (p >= end || *p != ':') return ex_fail(error, error_size, "expected ':' after \"%s\"", key);
            p = ex_skip_ws(p + 1, end);
            if (strcmp(key, "path") == 0) {
                if (have_path) return ex_fail(error, error_size, "\"path\" is given twice");
                if (p >= end || *p != '"') return ex_fail(error, error_size, "\"path\" must be a string");
                if (ex_read_string(&p, end, cfg->path, sizeof cfg->path) != 0)
                    return ex_fail(error, error_size, "\"path\" is not a valid string (or longer than %zu bytes)",
                                   sizeof cfg->path - 1);
                have_path = true;
            } else if (strcmp(key, "fsync") == 0) {
                if (have_fsync) return ex_fail(error, error_size, "\"fsync\" is given twice");
                if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
                    cfg->fsync = true;
                    p += 4;
                } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
                    cfg->fsync = false;
                    p += 5;
                } else {
                    return ex_fail(error, error_size, "\"fsync\" must be true or false");
                }
                have_fsync = true;
            } else {
                return ex_fail(error, error_size, "unknown key \"%s\" (known keys: \"path\", \"fsync\")", key);
            }
            p = ex_skip_ws(p, end);
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                break;
            }
            return ex_fail(error, error_size, "expected ',' or '}' after the value of \"%s\"", key);
        }
    }
    if (ex_skip_ws(p, end) != end) return ex_fail(error, error_size, "unexpected text after the configuration object");
    if (!have_path || cfg->path[0] == '\0')
        return ex_fail(error, error_size, "\"path\" is required: the file to append messages to, e.g. "
                                          "{\"path\": \"/tmp/x.log\"}");
    return 0;
}

/* ---- The instance ------------------------------------------------------------------------- */

/** A queued batch. The batch itself stays Herald's: we keep only the pointer until completion. */
typedef struct ex_job {
    struct ex_job *next;
    const herald_sink_batch *batch;
} ex_job;

struct herald_sink_instance {
    const herald_sink_host_api *host; /* valid until on_destroy returns */
    ex_config cfg;
    FILE *file;        /* opened by on_start; written only by the worker */
    bool unhealthy;    /* worker only: whether we reported a write error */
    pthread_t worker;
    bool worker_started;

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t work_ready; /* to the worker: a job was queued, or quit */
    pthread_cond_t work_done;  /* to on_stop: the worker finished a job */
    ex_job *head, *tail;
    bool busy;      /* the worker is writing a job */
    bool accepting; /* between on_start and on_stop */
    bool quit;
};

__attribute__((format(printf, 3, 4))) static void ex_log(herald_sink_instance *inst, herald_sink_log_level level,
                                                         const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    inst->host->callback_log(inst->host->host, level, line, len); /* copied by Herald */
}

/** strerror, safe from any thread (glibc has two strerror_r flavours; this handles both). */
static const char *ex_strerror(int err, char *buf, size_t size) {
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(err, buf, size);
#else
    if (strerror_r(err, buf, size) != 0) snprintf(buf, size, "error %d", err);
    return buf;
#endif
}

static void ex_set_health(herald_sink_instance *inst, int healthy, const char *reason) {
    inst->host->callback_set_health(inst->host->host, healthy, reason, strlen(reason));
}

/** Completes `batch` with every message RETRY and `reason`. */
static void ex_complete_all_retry(herald_sink_instance *inst, const herald_sink_batch *batch, const char *reason) {
    herald_sink_result *results = calloc(batch->message_count ? batch->message_count : 1, sizeof *results);
    if (results == NULL) return; /* Herald will time the batch out and count it as RETRY anyway */
    for (size_t i = 0; i < batch->message_count; i++)
        results[i] = (herald_sink_result){.status = HERALD_SINK_RETRY, .error = reason, .error_len = strlen(reason)};
    inst->host->callback_complete_batch(inst->host->host, batch->batch_id, results, batch->message_count);
    free(results);
}

/** Writes `data` with \\, \t, \n and \r escaped, so that a field never breaks the line. */
static void ex_write_field(FILE *f, const void *data, size_t len) {
    const char *s = data;
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc = s[i] == '\\' ? "\\\\"
                        : s[i] == '\t' ? "\\t"
                        : s[i] == '\n' ? "\\n"
                        : s[i] == '\r' ? "\\r"
                                       : NULL;
        if (esc == NULL) continue;
        fwrite(s + start, 1, i - start, f);
        fputs(esc, f);
        start = i + 1;
    }
    if (len > start) fwrite(s + start, 1, len - start, f);
}

/** Writes one batch and completes it. Runs on the worker thread. */
static void ex_write_batch(herald_sink_instance *inst, const herald_sink_batch *batch) {
    size_t count = batch->message_count;
    herald_sink_result *results = calloc(count ? count : 1, sizeof *results);
    if (results == NULL) {
        ex_log(inst, HERALD_SINK_LOG_ERROR, "out of memory; batch %llu left to time out",
               (unsigned long long)batch->batch_id);
        return;
    }
    static const char too_large[] = "body over this sink's 1 MiB limit";
    for (size_t i = 0; i < count; i++) {
        const herald_sink_message *m = &batch->messages[i];
        if (m->body_len > EX_MAX_MESSAGE_BYTES) {
            results[i] = (herald_sink_result){.status = HERALD_SINK_TOO_LARGE, .error = too_large,
                                              .error_len = sizeof too_large - 1};
            continue;
        }
        ex_write_field(inst->file, m->id, m->id_len);
        fputc('\t', inst->file);
        ex_write_field(inst->file, m->key, m->key_len);
        fputc('\t', inst->file);
        ex_write_field(inst->file, m->body, m->body_len);
        fputc('\n', inst->file);
        results[i] = (herald_sink_result){.status = HERALD_SINK_OK};
    }

    /* A message is delivered once it is flushed (and fsync'ed when asked): check that. */
    char reason[320] = "", why[128];
    if (ferror(inst->file) || fflush(inst->file) != 0) {
        snprintf(reason, sizeof reason, "writing %.160s failed: %s", inst->cfg.path,
                 ex_strerror(errno, why, sizeof why));
        clearerr(inst->file);
    } else if (inst->cfg.fsync && fsync(fileno(inst->file)) != 0) {
        snprintf(reason, sizeof reason, "fsync of %.160s failed: %s", inst->cfg.path,
                 ex_strerror(errno, why, sizeof why));
    }
    if (reason[0] != '\0') {
        /* Some lines may have reached the file: retrying them can duplicate lines (at-least-once). */
        for (size_t i = 0; i < count; i++)
            if (results[i].status == HERALD_SINK_OK)
                results[i] = (herald_sink_result){.status = HERALD_SINK_RETRY, .error = reason,
                                                  .error_len = strlen(reason)};
        ex_log(inst, HERALD_SINK_LOG_ERROR, "%s", reason);
        ex_set_health(inst, 0, reason);
        inst->unhealthy = true;
    } else if (inst->unhealthy) {
        ex_set_health(inst, 1, "writing again");
        inst->unhealthy = false;
    }

    /* From this thread, not on_send_batch's: that is what HERALD_SINK_CAP_ASYNC allows. Herald
       copies the results (and their error texts) before this returns; after it returns the batch
       is no longer ours to read. */
    inst->host->callback_complete_batch(inst->host->host, batch->batch_id, results, count);
    free(results);
}

static void *ex_worker_main(void *arg) {
    herald_sink_instance *inst = arg;
    pthread_mutex_lock(&inst->lock);
    for (;;) {
        while (inst->head == NULL && !inst->quit) pthread_cond_wait(&inst->work_ready, &inst->lock);
        if (inst->quit) break; /* on_stop fails whatever is still queued */
        ex_job *job = inst->head;
        inst->head = job->next;
        if (inst->head == NULL) inst->tail = NULL;
        inst->busy = true;
        pthread_mutex_unlock(&inst->lock);

        ex_write_batch(inst, job->batch);
        free(job);

        pthread_mutex_lock(&inst->lock);
        inst->busy = false;
        pthread_cond_broadcast(&inst->work_done);
    }
    pthread_mutex_unlock(&inst->lock);
    return NULL;
}

/* ---- The entry points (on_*) ----------------------------------------------------------------- */

static int ex_validate_config(const char *config_json, size_t config_len, char *error, size_t error_size) {
    ex_config cfg;
    return ex_parse_config(config_json, config_len, &cfg, error, error_size);
}

static herald_sink_instance *ex_create(const herald_sink_host_api *host, const char *config_json, size_t config_len,
                                       char *error, size_t error_size) {
    if (host->abi_major != HERALD_SINK_ABI_MAJOR) {
        ex_fail(error, error_size, "host ABI %u.x, this plugin was built for %u.x", (unsigned)host->abi_major,
                (unsigned)HERALD_SINK_ABI_MAJOR);
        return NULL;
    }
    herald_sink_instance *inst = calloc(1, sizeof *inst);
    if (inst == NULL) {
        ex_fail(error, error_size, "out of memory");
        return NULL;
    }
    if (ex_parse_config(config_json, config_len, &inst->cfg, error, error_size) != 0) {
        free(inst);
        return NULL;
    }
    /* The condition variables time out on the monotonic clock (used by on_stop's deadline). */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&inst->lock, NULL);
    pthread_cond_init(&inst->work_ready, &attr);
    pthread_cond_init(&inst->work_done, &attr);
    pthread_condattr_destroy(&attr);
    inst->host = host; /* keep the pointer: the table stays valid until on_destroy returns */
    return inst;
}

static void ex_get_limits(herald_sink_instance *inst, herald_sink_limits *limits) {
    (void)inst;
    /* Herald sets limits->struct_size; a later ABI minor may have more fields, an older host fewer. */
#define EX_FITS(field) (limits->struct_size >= offsetof(herald_sink_limits, field) + sizeof limits->field)
    if (EX_FITS(max_message_bytes)) limits->max_message_bytes = EX_MAX_MESSAGE_BYTES;
    if (EX_FITS(max_batch_messages)) limits->max_batch_messages = EX_MAX_BATCH_MESSAGES;
    if (EX_FITS(max_batch_bytes)) limits->max_batch_bytes = 0; /* no limit of our own */
    if (EX_FITS(max_in_flight)) limits->max_in_flight = EX_MAX_IN_FLIGHT;
#undef EX_FITS
}

static int ex_start(herald_sink_instance *inst, char *error, size_t error_size) {
    char why[128];
    inst->file = fopen(inst->cfg.path, "a");
    if (inst->file == NULL)
        return ex_fail(error, error_size, "cannot open %s: %s", inst->cfg.path, ex_strerror(errno, why, sizeof why));
    inst->accepting = true;
    if (pthread_create(&inst->worker, NULL, ex_worker_main, inst) != 0) {
        fclose(inst->file);
        inst->file = NULL;
        inst->accepting = false;
        return ex_fail(error, error_size, "cannot start the worker thread");
    }
    inst->worker_started = true;
    ex_log(inst, HERALD_SINK_LOG_INFO, "example sink started: appending to %s%s", inst->cfg.path,
           inst->cfg.fsync ? " (fsync after each batch)" : "");
    return 0;
}

static void ex_send_batch(herald_sink_instance *inst, const herald_sink_batch *batch) {
    ex_job *job = malloc(sizeof *job);
    if (job == NULL) {
        ex_complete_all_retry(inst, batch, "out of memory"); /* completing inside on_send_batch is fine too */
        return;
    }
    *job = (ex_job){.next = NULL, .batch = batch}; /* no copy: Herald keeps `batch` valid until we complete it */
    pthread_mutex_lock(&inst->lock);
    if (!inst->accepting) {
        /* Not between on_start and on_stop: Herald does not do this; the batch would time out as RETRY. */
        pthread_mutex_unlock(&inst->lock);
        free(job);
        return;
    }
    if (inst->tail != NULL) inst->tail->next = job;
    else inst->head = job;
    inst->tail = job;
    pthread_cond_signal(&inst->work_ready);
    pthread_mutex_unlock(&inst->lock);
}

static void ex_stop(herald_sink_instance *inst, uint32_t deadline_ms) {
    if (!inst->worker_started) return; /* on_start failed or was not called */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += deadline_ms / 1000;
    deadline.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&inst->lock);
    inst->accepting = false;
    /* Let the worker write what is queued, until the deadline. */
    while ((inst->head != NULL || inst->busy) &&
           pthread_cond_timedwait(&inst->work_done, &inst->lock, &deadline) != ETIMEDOUT) {
    }
    ex_job *left = inst->head; /* not written in time */
    inst->head = inst->tail = NULL;
    inst->quit = true;
    pthread_cond_signal(&inst->work_ready);
    pthread_mutex_unlock(&inst->lock);

    /* The worker finishes (and completes) the batch it is writing, if any, then exits. */
    pthread_join(inst->worker, NULL);
    inst->worker_started = false;

    size_t failed = 0;
    while (left != NULL) {
        ex_job *next = left->next;
        ex_complete_all_retry(inst, left->batch, "sink stopped before the batch was written");
        free(left);
        left = next;
        failed++;
    }
    fclose(inst->file);
    inst->file = NULL;
    /* The last callbacks: none may come after on_stop returns. */
    ex_log(inst, HERALD_SINK_LOG_INFO, "example sink stopped (%zu queued batches failed as RETRY)", failed);
}

static void ex_destroy(herald_sink_instance *inst) {
    ex_stop(inst, 0); /* only does something if Herald skipped on_stop */
    pthread_cond_destroy(&inst->work_done);
    pthread_cond_destroy(&inst->work_ready);
    pthread_mutex_destroy(&inst->lock);
    free(inst);
}

/* ---- The descriptor and the one exported symbol --------------------------------------------- */

static const herald_sink_descriptor ex_descriptor = {
    .magic = HERALD_SINK_MAGIC,
    .struct_size = sizeof(herald_sink_descriptor),
    .abi_major = HERALD_SINK_ABI_MAJOR,
    .abi_minor = HERALD_SINK_ABI_MINOR,
    .name = "example",
    .version = "1.0.0",
    .description = "Example sink: appends each message as a line <id> TAB <key> TAB <body> to a file",
    .config_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"path\"],"
                     "\"properties\":{\"path\":{\"type\":\"string\",\"minLength\":1},"
                     "\"fsync\":{\"type\":\"boolean\",\"default\":false}}}",
    .capabilities = HERALD_SINK_CAP_ASYNC,
    .on_validate_config = ex_validate_config,
    .on_create = ex_create,
    .on_get_limits = ex_get_limits,
    .on_start = ex_start,
    .on_send_batch = ex_send_batch,
    .on_flush = NULL, /* no HERALD_SINK_CAP_FLUSH */
    .on_stop = ex_stop,
    .on_destroy = ex_destroy,
};

const herald_sink_descriptor *herald_sink_entry(void);

const herald_sink_descriptor *herald_sink_entry(void) { return &ex_descriptor; }
