/*
 * mock_cluster — librdkafka's mock Kafka cluster as a stand-alone process, for the Kafka sink's
 * tests (Tests/HeraldKafkaSinkTests) and for trying the sink by hand.
 *
 *   cc -O1 -o mock_cluster mock_cluster.c -lrdkafka
 *   ./mock_cluster [--brokers N] [--exit-on-eof] [TOPIC:PARTITIONS ...]
 *
 * Prints the bootstrap servers ("127.0.0.1:port,…") as its first line on stdout, then serves
 * until SIGTERM/SIGINT (or, with --exit-on-eof, until its standard input closes, so a crashed
 * test run leaves no process behind). Listens on 127.0.0.1 only.
 *
 * Commands, one per line on standard input; each is answered with one line, "ok …" or "error …":
 *   down BROKER_ID                   rd_kafka_mock_broker_set_down
 *   up BROKER_ID                     rd_kafka_mock_broker_set_up
 *   rtt BROKER_ID MS                 rd_kafka_mock_broker_set_rtt
 *   error API COUNT ERR [ERR …]      the next COUNT requests of API (Produce, Metadata, InitProducerId
 *                                    or a number) fail with the errors, in order: an error is a
 *                                    librdkafka name without the RD_KAFKA_RESP_ERR_ prefix
 *                                    (NOT_ENOUGH_REPLICAS, MSG_SIZE_TOO_LARGE, …) or a number;
 *                                    COUNT repeats the last error when the list is shorter
 *   clear API                        rd_kafka_mock_clear_request_errors
 *   topic NAME PARTITIONS            rd_kafka_mock_topic_create
 *   topicerror NAME ERR              rd_kafka_mock_topic_set_error (NO_ERROR clears it)
 *   ping                             answers "ok pong"
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int parse_api(const char *s) {
    if (!strcasecmp(s, "Produce")) return 0;
    if (!strcasecmp(s, "Fetch")) return 1;
    if (!strcasecmp(s, "ListOffsets")) return 2;
    if (!strcasecmp(s, "Metadata")) return 3;
    if (!strcasecmp(s, "FindCoordinator")) return 10;
    if (!strcasecmp(s, "InitProducerId")) return 22;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end && *end == '\0' && v >= 0 && v < 1000) return (int)v;
    return -1;
}

static int parse_error(const char *s, rd_kafka_resp_err_t *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (end && *end == '\0' && end != s) {
        *out = (rd_kafka_resp_err_t)v;
        return 0;
    }
    if (!strncmp(s, "RD_KAFKA_RESP_ERR_", 18)) s += 18;
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++) {
        if (descs[i].name && !strcmp(descs[i].name, s)) {
            *out = descs[i].code;
            return 0;
        }
    }
    return -1;
}

static void answer(const char *fmt, const char *a, const char *b) {
    printf(fmt, a ? a : "", b ? b : "");
    fputc('\n', stdout);
    fflush(stdout);
}

static void handle(rd_kafka_mock_cluster_t *mc, char *line) {
    char *argv[64];
    int argc = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && argc < 64; tok = strtok(NULL, " \t\r\n")) argv[argc++] = tok;
    if (argc == 0) return;
    const char *cmd = argv[0];
    rd_kafka_resp_err_t err;
    if (!strcmp(cmd, "ping")) {
        answer("ok pong%s%s", NULL, NULL);
    } else if ((!strcmp(cmd, "down") || !strcmp(cmd, "up")) && argc == 2) {
        int id = atoi(argv[1]);
        err = !strcmp(cmd, "down") ? rd_kafka_mock_broker_set_down(mc, id) : rd_kafka_mock_broker_set_up(mc, id);
        if (err) answer("error %s: %s", cmd, rd_kafka_err2str(err));
        else answer("ok %s %s", cmd, argv[1]);
    } else if (!strcmp(cmd, "rtt") && argc == 3) {
        err = rd_kafka_mock_broker_set_rtt(mc, atoi(argv[1]), atoi(argv[2]));
        if (err) answer("error rtt: %s%s", rd_kafka_err2str(err), NULL);
        else answer("ok rtt %s %s", argv[1], argv[2]);
    } else if (!strcmp(cmd, "error") && argc >= 4) {
        int api = parse_api(argv[1]);
        long count = atol(argv[2]);
        if (api < 0 || count <= 0 || count > 100000) {
            answer("error bad api or count: %s %s", argv[1], argv[2]);
            return;
        }
        rd_kafka_resp_err_t *errors = calloc((size_t)count, sizeof(*errors));
        int given = argc - 3;
        for (long i = 0; i < count; i++) {
            const char *name = argv[3 + (i < given ? i : given - 1)];
            if (parse_error(name, &errors[i]) != 0) {
                answer("error unknown error name: %s%s", name, NULL);
                free(errors);
                return;
            }
        }
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)api, (size_t)count, errors);
        free(errors);
        answer("ok error %s %s", argv[1], argv[2]);
    } else if (!strcmp(cmd, "clear") && argc == 2) {
        int api = parse_api(argv[1]);
        if (api < 0) {
            answer("error bad api: %s%s", argv[1], NULL);
            return;
        }
        rd_kafka_mock_clear_request_errors(mc, (int16_t)api);
        answer("ok clear %s%s", argv[1], NULL);
    } else if (!strcmp(cmd, "topic") && argc == 3) {
        err = rd_kafka_mock_topic_create(mc, argv[1], atoi(argv[2]), 1);
        if (err) answer("error topic: %s%s", rd_kafka_err2str(err), NULL);
        else answer("ok topic %s %s", argv[1], argv[2]);
    } else if (!strcmp(cmd, "topicerror") && argc == 3) {
        if (parse_error(argv[2], &err) != 0) {
            answer("error unknown error name: %s%s", argv[2], NULL);
            return;
        }
        rd_kafka_mock_topic_set_error(mc, argv[1], err);
        answer("ok topicerror %s %s", argv[1], argv[2]);
    } else {
        answer("error unknown or malformed command: %s%s", cmd, NULL);
    }
}

int main(int argc, char **argv) {
    int brokers = 1;
    int exit_on_eof = 0;
    int first_topic = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            brokers = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--exit-on-eof")) {
            exit_on_eof = 1;
        } else {
            first_topic = i;
            break;
        }
    }
    if (brokers < 1) brokers = 1;

    /* A parent may start us with signals blocked (threads of Swift/Dispatch programs block them,
     * and children inherit the mask): unblock what stops us. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; it never connects anywhere. */
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "mock_cluster: rd_kafka_new: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "mock_cluster: rd_kafka_mock_cluster_new failed\n");
        return 1;
    }
    for (int i = first_topic; i < argc; i++) {
        char name[256];
        int partitions = 1;
        const char *colon = strrchr(argv[i], ':');
        size_t len = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
        if (len == 0 || len >= sizeof(name)) {
            fprintf(stderr, "mock_cluster: bad topic argument '%s' (TOPIC:PARTITIONS)\n", argv[i]);
            return 2;
        }
        memcpy(name, argv[i], len);
        name[len] = '\0';
        if (colon) partitions = atoi(colon + 1);
        if (partitions < 1) partitions = 1;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, partitions, 1);
        if (err) {
            fprintf(stderr, "mock_cluster: topic %s: %s\n", name, rd_kafka_err2str(err));
            return 2;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[4096];
    size_t used = 0;
    int stdin_open = 1;
    while (!stop_requested) {
        if (!stdin_open) {
            if (exit_on_eof) break;
            usleep(200 * 1000);
            continue;
        }
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        int r = poll(&pfd, 1, 200);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (r == 0) continue;
        ssize_t n = read(0, line + used, sizeof(line) - 1 - used);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            stdin_open = 0;
            continue;
        }
        used += (size_t)n;
        line[used] = '\0';
        char *start = line;
        char *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            handle(mc, start);
            start = nl + 1;
        }
        used = strlen(start);
        memmove(line, start, used + 1);
        if (used >= sizeof(line) - 1) used = 0; /* an over-long line is dropped */
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
