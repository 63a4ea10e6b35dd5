import Foundation

// The SQS scenario's peers: the local endpoint (a C program built with cc) and the boto3 script.

/// What the SQS scenario needs besides the build: python3 with boto3, cc with OpenSSL's headers
/// (for the endpoint), the built plugin; wrk if present (endpoint capacity).
struct SQSBenchTools {
    var python: String
    var boto3Version: String
    var endpoint: String
    var library: String
    var wrk: String?

    static func locate(binDirectory: String) throws -> SQSBenchTools {
        let library = binDirectory + "/libherald-sink-sqs.so"
        guard FileManager.default.fileExists(atPath: library) else {
            throw BenchError(
                "\(library) is not built: build everything first (swift build -c release), then run herald-bench from .build/release"
            )
        }
        guard let python = findExecutable("python3") else {
            throw BenchError(
                "the sqs scenario compares with boto3 and needs python3, which is not on PATH; install it (apt-get install -y python3 python3-pip) and then boto3 (python3 -m pip install boto3)"
            )
        }
        let probe = try runAndCapture(
            python,
            [
                "-c",
                "import boto3, botocore, sys; print(boto3.__version__, botocore.__version__, sys.version.split()[0])",
            ])
        guard probe.status == 0 else {
            throw BenchError(
                "the sqs scenario compares with boto3, which \(python) cannot import; install it with: python3 -m pip install boto3 (scripts/setup.sh --test does)\n\(probe.output.suffix(600))"
            )
        }
        let versions = probe.output.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let cc = findExecutable("cc") else {
            throw BenchError(
                "the sqs scenario builds its local SQS endpoint with cc, which is not on PATH; install a C compiler (apt-get install -y gcc)"
            )
        }
        guard FileManager.default.fileExists(atPath: "/usr/include/openssl/evp.h") else {
            throw BenchError(
                "the sqs scenario's endpoint computes MD5s with OpenSSL, whose headers are missing; install them with: apt-get install -y libssl-dev"
            )
        }
        return SQSBenchTools(
            python: python,
            boto3Version: versions.count >= 3
                ? "boto3 \(versions[0]), botocore \(versions[1]), Python \(versions[2])" : probe.output,
            endpoint: try buildEndpoint(cc: cc), library: library, wrk: findExecutable("wrk"))
    }

    /// `cc -O2 sqs_endpoint.c -lcrypto -lpthread`, once per version of the source (built under a
    /// unique name, then renamed: parallel runs never see half a binary).
    static func buildEndpoint(cc: String) throws -> String {
        try buildCProgramOnce(
            cc: cc, directory: "herald-bench-sqs-endpoint", name: "sqs_endpoint", suffix: "",
            source: Array(endpointSource.utf8), flags: ["-O2"], libraries: ["-lcrypto", "-lpthread"],
            failure: "cc could not build the sqs scenario's endpoint (is libssl-dev installed?)")
    }

    /// Runs the boto3 script with one JSON argument; returns the JSON object it prints last.
    func runPython(script: String, config: String, limit: Int) throws -> [String: Any] {
        let r = try runAndCapture("/usr/bin/timeout", [String(limit), python, script, config])
        let last = r.output.split(separator: "\n").last { $0.hasPrefix("{") }
        guard r.status == 0, let last,
            let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        else {
            if r.status == 124 { throw BenchError("the boto3 script did not finish within \(limit) s") }
            throw BenchError("the boto3 script failed (status \(r.status)): \(r.output.suffix(3000))")
        }
        return object
    }

    /// boto3's side. `send`: `send_message_batch(**body)` for `total` requests, cycling through the
    /// request bodies in the file (one JSON object per line: QueueUrl and Entries, as the sink sends
    /// them), from `threads` threads sharing one client (clients are thread-safe; each thread gets
    /// its own connection from the client's pool, 10 by default). First, untimed, one request per
    /// thread (imports, the service model, connections). Every answer must list every entry as
    /// Successful and none as Failed. `sign`: botocore's SigV4Auth over the same bodies on one thread.
    static let boto3Script = #"""
        import itertools, json, resource, sys, threading, time

        def cpu():
            r = resource.getrusage(resource.RUSAGE_SELF)
            return r.ru_utime + r.ru_stime

        started = time.monotonic()
        import boto3, botocore
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        cfg = json.loads(sys.argv[1])
        with open(cfg["requests"], "rb") as f:
            bodies = [line.rstrip(b"\n") for line in f]

        if cfg["mode"] == "sign":
            auth = SigV4Auth(Credentials(cfg["accessKeyId"], cfg["secretAccessKey"]), "sqs", cfg["region"])
            url = cfg["endpoint"] + "/"
            count = 0
            t0 = time.monotonic()
            while time.monotonic() - t0 < cfg["seconds"]:
                for _ in range(20):
                    req = AWSRequest(method="POST", url=url, data=bodies[count % len(bodies)], headers={
                        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.SendMessageBatch"})
                    auth.add_auth(req)
                    count += 1
            print(json.dumps({"signaturesPerSecond": count / (time.monotonic() - t0)}))
            sys.exit(0)

        client = boto3.client(
            "sqs", region_name=cfg["region"], endpoint_url=cfg["endpoint"],
            aws_access_key_id=cfg["accessKeyId"], aws_secret_access_key=cfg["secretAccessKey"])
        requests = [json.loads(b) for b in bodies]
        threads = cfg["threads"]
        total = cfg["total"]

        class Tally:
            def __init__(self):
                self.ok = 0
                self.failed = 0
                self.first_error = None

        def send(entries_request, tally):
            try:
                r = client.send_message_batch(**entries_request)
            except Exception as e:
                tally.failed += len(entries_request["Entries"])
                tally.first_error = tally.first_error or repr(e)
                return
            ids = {s["Id"] for s in r.get("Successful", [])}
            failed = r.get("Failed", [])
            for e in entries_request["Entries"]:
                if e["Id"] in ids:
                    tally.ok += 1
                else:
                    tally.failed += 1
            if failed and not tally.first_error:
                tally.first_error = json.dumps(failed[0])

        def run_threads(target):
            tallies = [Tally() for _ in range(threads)]
            ts = [threading.Thread(target=target, args=(t,)) for t in tallies]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return tallies

        warmup_index = itertools.count()
        warmup = run_threads(lambda tally: send(requests[next(warmup_index) % len(requests)], tally))
        if any(t.failed for t in warmup):
            print(json.dumps({"error": "warm-up failed: " + str([t.first_error for t in warmup if t.first_error])}))
            sys.exit(1)
        startup = time.monotonic() - started

        index = itertools.count()
        def loop(tally):
            while True:
                i = next(index)
                if i >= total:
                    return
                send(requests[i % len(requests)], tally)

        cpu0 = cpu()
        t0 = time.monotonic()
        tallies = run_threads(loop)
        seconds = time.monotonic() - t0
        used = cpu() - cpu0
        print(json.dumps({
            "seconds": seconds, "cpuSeconds": used, "requests": total,
            "messages": sum(t.ok for t in tallies), "failed": sum(t.failed for t in tallies),
            "firstError": next((t.first_error for t in tallies if t.first_error), None),
            "warmupMessages": sum(t.ok for t in warmup), "startupSeconds": startup}))
        """#
}

/// The local SQS endpoint as a child process: prints its port, answers `stats` on stdin, exits
/// when its stdin closes (so it never outlives herald-bench).
final class SQSBenchEndpoint {
    let peer: BenchPeerProcess
    let port: Int
    var cpuSeconds: Double { peer.cpuSeconds }

    struct Stats {
        var requests: Int
        var entries: Int
        var errors: Int
        var bodyBytes: Int
        var connections: Int
    }

    /// `mode`: sqs (SendMessageBatch), pubsub (topics.publish) or servicebus (batch send); in the
    /// last two, entries are messages.
    init(binary: String, threads: Int, mode: String = "sqs") throws {
        peer = try BenchPeerProcess(
            name: "\(mode) endpoint", binary: binary,
            arguments: ["--port", "0", "--threads", String(threads), "--mode", mode],
            standardError: .standardError)
        guard let port = Int(peer.ready), port > 0 else {
            peer.stop(grace: 1, terminateAtOnce: true)
            throw BenchError("the \(mode) endpoint printed '\(peer.ready)' instead of its port")
        }
        self.port = port
    }

    /// Requests and entries answered with success, requests refused, body bytes received and
    /// connections accepted, so far.
    func stats() throws -> Stats {
        let answer = try peer.ask("stats")
        let f = answer.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard answer.hasPrefix("ok "), f.count == 5 else { throw BenchError("sqs endpoint: stats → \(answer)") }
        return Stats(requests: f[0], entries: f[1], errors: f[2], bodyBytes: f[3], connections: f[4])
    }

    func stop() { peer.stop(grace: 2) }
}

extension SQSBenchTools {
    /// The endpoint's source: an epoll HTTP/1.1 server answering SendMessageBatch with real MD5s.
    static let endpointSource = #"""
        /* herald-bench's SQS endpoint: answers every SendMessageBatch (AWS JSON 1.0) at once, with the
         * success body SQS sends (an Id, a MessageId, MD5OfMessageBody and MD5OfMessageAttributes per entry).
         *
         * It measures clients, so it does as little as it can and never waits: HTTP/1.1 with keep-alive on
         * 127.0.0.1, one epoll loop per thread, no logging. It checks the request's shape (POST, the
         * X-Amz-Target, a QueueUrl, 1 to 10 entries each with an Id and a MessageBody, an Authorization
         * header of the AWS4-HMAC-SHA256 kind) but not the signature: the SQS sink's signatures are checked
         * by its tests against moto with signature checking on.
         *
         *   sqs_endpoint [--port N] [--threads N] [--mode sqs|pubsub|servicebus]
         *
         * --mode pubsub answers every POST .../topics/NAME:publish ({"messages":[{"data": non-empty string, ...}, ...]})
         * with 200 and {"messageIds":[...]}, one id per message, as Pub/Sub does; --mode servicebus answers every
         * POST .../messages carrying a SharedAccessSignature and a JSON array of objects with a string Body (a
         * Service Bus batch send) with 201 and an empty body. Neither checks signatures; "entries" counts messages.
         *
         * Prints the port it listens on, then takes commands on stdin: "stats" answers
         * "ok REQUESTS ENTRIES ERRORS BODY_BYTES CONNECTIONS" (answered, refused, accepted so far); end of
         * input (the parent exited) makes it exit. */
        #define _GNU_SOURCE
        #include <errno.h>
        #include <netinet/in.h>
        #include <netinet/tcp.h>
        #include <openssl/evp.h>
        #include <pthread.h>
        #include <signal.h>
        #include <stdatomic.h>
        #include <stdint.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <strings.h>
        #include <sys/epoll.h>
        #include <sys/socket.h>
        #include <unistd.h>

        static atomic_ullong n_requests, n_entries, n_errors, n_body_bytes, n_connections;
        enum { MODE_SQS, MODE_PUBSUB, MODE_SERVICEBUS };
        static int mode = MODE_SQS;
        static int listener;
        static EVP_MD *md5;

        /* ---- growable buffers ---- */

        typedef struct {
            char *p;
            size_t len, cap;
        } buf;

        static void reserve(buf *b, size_t extra) {
            if (b->len + extra <= b->cap) return;
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + extra) cap *= 2;
            b->p = realloc(b->p, cap);
            if (!b->p) abort();
            b->cap = cap;
        }
        static void put(buf *b, const void *d, size_t n) {
            reserve(b, n);
            memcpy(b->p + b->len, d, n);
            b->len += n;
        }
        static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

        /* ---- a small JSON parser: a tree of nodes, strings decoded into one arena ---- */

        enum { J_OBJ, J_ARR, J_STR, J_NUM, J_LIT };
        typedef struct {
            int type;
            const char *key; /* member of an object: its name (decoded) */
            size_t klen;
            const char *s; /* string: decoded value */
            size_t slen;
            int child, last, next; /* first child, last child, next sibling (-1: none) */
        } jnode;

        typedef struct {
            jnode *n;
            int count, cap;
            char *out; /* decoded strings; never longer than the input */
            size_t outlen;
            const char *p, *end;
        } jparser;

        static int node(jparser *j, int type) {
            if (j->count == j->cap) {
                j->cap = j->cap ? j->cap * 2 : 256;
                j->n = realloc(j->n, sizeof(jnode) * (size_t)j->cap);
                if (!j->n) abort();
            }
            jnode *x = &j->n[j->count];
            memset(x, 0, sizeof *x);
            x->type = type;
            x->child = x->last = x->next = -1;
            return j->count++;
        }

        static void ws(jparser *j) {
            while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
        }

        static int hex4(const char *p, unsigned *v) {
            *v = 0;
            for (int i = 0; i < 4; i++) {
                char c = p[i];
                *v <<= 4;
                if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
                else return 0;
            }
            return 1;
        }

        /* Decodes the string at j->p (after its opening quote) into the arena. */
        static int string(jparser *j, const char **s, size_t *len) {
            char *o = j->out + j->outlen;
            *s = o;
            for (;;) {
                if (j->p >= j->end) return 0;
                const char *q = j->p;
                while (q < j->end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20) q++;
                memcpy(o, j->p, (size_t)(q - j->p));
                o += q - j->p;
                j->p = q;
                if (q >= j->end || (unsigned char)*q < 0x20) return 0;
                if (*q == '"') {
                    j->p++;
                    break;
                }
                if (j->end - q < 2) return 0;
                char c = q[1];
                j->p = q + 2;
                switch (c) {
                case '"': *o++ = '"'; break;
                case '\\': *o++ = '\\'; break;
                case '/': *o++ = '/'; break;
                case 'b': *o++ = '\b'; break;
                case 'f': *o++ = '\f'; break;
                case 'n': *o++ = '\n'; break;
                case 'r': *o++ = '\r'; break;
                case 't': *o++ = '\t'; break;
                case 'u': {
                    unsigned cp;
                    if (j->end - j->p < 4 || !hex4(j->p, &cp)) return 0;
                    j->p += 4;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        unsigned lo;
                        if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, &lo) || lo < 0xDC00 ||
                            lo > 0xDFFF)
                            return 0;
                        j->p += 6;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return 0;
                    }
                    if (cp < 0x80) {
                        *o++ = (char)cp;
                    } else if (cp < 0x800) {
                        *o++ = (char)(0xC0 | (cp >> 6));
                        *o++ = (char)(0x80 | (cp & 0x3F));
                    } else if (cp < 0x10000) {
                        *o++ = (char)(0xE0 | (cp >> 12));
                        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                        *o++ = (char)(0x80 | (cp & 0x3F));
                    } else {
                        *o++ = (char)(0xF0 | (cp >> 18));
                        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                        *o++ = (char)(0x80 | (cp & 0x3F));
                    }
                    break;
                }
                default: return 0;
                }
            }
            *len = (size_t)(o - *s);
            j->outlen += *len;
            return 1;
        }

        static void append_child(jparser *j, int parent, int child) {
            if (j->n[parent].last < 0) j->n[parent].child = child;
            else j->n[j->n[parent].last].next = child;
            j->n[parent].last = child;
        }

        static int value(jparser *j, int depth) {
            if (depth > 64) return -1;
            ws(j);
            if (j->p >= j->end) return -1;
            char c = *j->p;
            if (c == '{' || c == '[') {
                int obj = c == '{';
                int me = node(j, obj ? J_OBJ : J_ARR);
                j->p++;
                ws(j);
                if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
                    j->p++;
                    return me;
                }
                for (;;) {
                    const char *k = NULL;
                    size_t klen = 0;
                    if (obj) {
                        ws(j);
                        if (j->p >= j->end || *j->p != '"') return -1;
                        j->p++;
                        if (!string(j, &k, &klen)) return -1;
                        ws(j);
                        if (j->p >= j->end || *j->p != ':') return -1;
                        j->p++;
                    }
                    int child = value(j, depth + 1);
                    if (child < 0) return -1;
                    j->n[child].key = k;
                    j->n[child].klen = klen;
                    append_child(j, me, child);
                    ws(j);
                    if (j->p >= j->end) return -1;
                    if (*j->p == ',') {
                        j->p++;
                        continue;
                    }
                    if (*j->p == (obj ? '}' : ']')) {
                        j->p++;
                        return me;
                    }
                    return -1;
                }
            }
            if (c == '"') {
                int me = node(j, J_STR);
                j->p++;
                const char *s;
                size_t len;
                if (!string(j, &s, &len)) return -1;
                j->n[me].s = s;
                j->n[me].slen = len;
                return me;
            }
            const char *start = j->p;
            while (j->p < j->end && strchr("+-.0123456789eEtruefalsn", *j->p)) j->p++;
            if (j->p == start) return -1;
            int me = node(j, (c == '-' || (c >= '0' && c <= '9')) ? J_NUM : J_LIT);
            j->n[me].s = start;
            j->n[me].slen = (size_t)(j->p - start);
            return me;
        }

        static int member(jparser *j, int obj, const char *name) {
            if (obj < 0 || j->n[obj].type != J_OBJ) return -1;
            size_t len = strlen(name);
            for (int c = j->n[obj].child; c >= 0; c = j->n[c].next)
                if (j->n[c].klen == len && memcmp(j->n[c].key, name, len) == 0) return c;
            return -1;
        }

        /* ---- MD5s as SQS computes them ---- */

        static void md5_hex(EVP_MD_CTX *ctx, const buf *data, char out[33]) {
            unsigned char d[16];
            unsigned int n = 0;
            EVP_DigestInit_ex(ctx, md5, NULL);
            EVP_DigestUpdate(ctx, data->p, data->len);
            EVP_DigestFinal_ex(ctx, d, &n);
            static const char hex[] = "0123456789abcdef";
            for (int i = 0; i < 16; i++) {
                out[2 * i] = hex[d[i] >> 4];
                out[2 * i + 1] = hex[d[i] & 15];
            }
            out[32] = 0;
        }

        static void put_field(buf *b, const char *s, size_t len) {
            unsigned char l[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                                  (unsigned char)len};
            put(b, l, 4);
            put(b, s, len);
        }

        static int by_name(const jparser *j, int a, int b) {
            size_t la = j->n[a].klen, lb = j->n[b].klen;
            int c = memcmp(j->n[a].key, j->n[b].key, la < lb ? la : lb);
            return c ? c : (la < lb ? -1 : la > lb);
        }

        /* MD5OfMessageAttributes: for each attribute by name, length-prefixed name and data type, a transport
         * byte (1: String/Number), the length-prefixed value. 0 when there is nothing to hash (or a Binary
         * attribute, which the benchmark never sends). */
        static int attributes_md5(jparser *j, int attrs, EVP_MD_CTX *ctx, buf *scratch, char out[33]) {
            if (attrs < 0 || j->n[attrs].type != J_OBJ || j->n[attrs].child < 0) return 0;
            int sorted[64];
            int count = 0;
            for (int c = j->n[attrs].child; c >= 0; c = j->n[c].next) {
                if (count == 64) return 0;
                int i = count++;
                while (i > 0 && by_name(j, sorted[i - 1], c) > 0) {
                    sorted[i] = sorted[i - 1];
                    i--;
                }
                sorted[i] = c;
            }
            scratch->len = 0;
            for (int i = 0; i < count; i++) {
                int a = sorted[i];
                int type = member(j, a, "DataType"), value = member(j, a, "StringValue");
                if (type < 0 || value < 0 || j->n[type].type != J_STR || j->n[value].type != J_STR) return 0;
                put_field(scratch, j->n[a].key, j->n[a].klen);
                put_field(scratch, j->n[type].s, j->n[type].slen);
                put(scratch, "\1", 1);
                put_field(scratch, j->n[value].s, j->n[value].slen);
            }
            md5_hex(ctx, scratch, out);
            return 1;
        }

        /* ---- HTTP ---- */

        typedef struct {
            int fd;
            buf in, out;
            size_t out_sent;
            int want_out, close_after, sent_continue;
        } conn;

        typedef struct {
            int index;
            int epoll;
            jparser json;
            buf body_scratch, attr_scratch, answer;
            EVP_MD_CTX *md;
            unsigned long long message_ids;
        } worker;

        static void json_string(buf *b, const char *s, size_t len) {
            put(b, "\"", 1);
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                    put(b, "\\", 1);
                    put(b, &s[i], 1);
                } else if (c < 0x20) {
                    char e[8];
                    snprintf(e, sizeof e, "\\u%04x", c);
                    puts_(b, e);
                } else {
                    put(b, &s[i], 1);
                }
            }
            put(b, "\"", 1);
        }

        static void respond(worker *w, conn *c, int status, const char *reason, const char *query_error, const buf *body) {
            char head[512];
            int n = snprintf(head, sizeof head,
                             "HTTP/1.1 %d %s\r\nx-amzn-RequestId: %08x-0000-4000-8000-%012llx\r\n%s%s%s"
                             "Content-Type: application/x-amz-json-1.0\r\nContent-Length: %zu\r\n%s\r\n",
                             status, reason, (unsigned)w->index, w->message_ids++, query_error ? "x-amzn-query-error: " : "",
                             query_error ? query_error : "", query_error ? "\r\n" : "", body->len,
                             c->close_after ? "Connection: close\r\n" : "");
            put(&c->out, head, (size_t)n);
            put(&c->out, body->p, body->len);
        }

        static void fail(worker *w, conn *c, int status, const char *reason, const char *code, const char *query, const char *message) {
            atomic_fetch_add(&n_errors, 1);
            w->answer.len = 0;
            puts_(&w->answer, "{\"__type\":\"com.amazonaws.sqs#");
            puts_(&w->answer, code);
            puts_(&w->answer, "\",\"message\":");
            json_string(&w->answer, message, strlen(message));
            puts_(&w->answer, "}");
            char q[160];
            snprintf(q, sizeof q, "AWS.SimpleQueueService.%s;Sender", query);
            respond(w, c, status, reason, q, &w->answer);
        }

        /* Parses a request body into w->json: the root node, or -1 when the body is not one JSON value. */
        static int parse_body(worker *w, const char *body, size_t body_len) {
            jparser *j = &w->json;
            j->count = 0;
            j->outlen = 0;
            j->out = realloc(j->out, body_len + 1);
            if (!j->out) abort();
            j->p = body;
            j->end = body + body_len;
            int root = value(j, 0);
            ws(j);
            return root >= 0 && j->p == j->end ? root : -1;
        }

        /* Answers one complete request. */
        static void handle(worker *w, conn *c, const char *target, size_t target_len, int authorized, const char *body,
                           size_t body_len) {
            static const char want[] = "AmazonSQS.SendMessageBatch";
            if (target_len != sizeof want - 1 || memcmp(target, want, sizeof want - 1) != 0) {
                fail(w, c, 400, "Bad Request", "InvalidAction", "InvalidAction",
                     "this endpoint answers X-Amz-Target: AmazonSQS.SendMessageBatch only");
                return;
            }
            if (!authorized) {
                fail(w, c, 403, "Forbidden", "MissingAuthenticationTokenException", "MissingAuthenticationToken",
                     "no Authorization: AWS4-HMAC-SHA256 header");
                return;
            }
            jparser *j = &w->json;
            int root = parse_body(w, body, body_len);
            if (root < 0 || j->n[root].type != J_OBJ) {
                fail(w, c, 400, "Bad Request", "SerializationException", "SerializationException", "the body is not a JSON object");
                return;
            }
            int queue = member(j, root, "QueueUrl"), entries = member(j, root, "Entries");
            if (queue < 0 || j->n[queue].type != J_STR || j->n[queue].slen == 0) {
                fail(w, c, 400, "Bad Request", "MissingParameter", "MissingParameter", "QueueUrl is missing");
                return;
            }
            int count = 0;
            if (entries >= 0 && j->n[entries].type == J_ARR)
                for (int e = j->n[entries].child; e >= 0; e = j->n[e].next) count++;
            if (count == 0) {
                fail(w, c, 400, "Bad Request", "EmptyBatchRequest", "EmptyBatchRequest", "no entries");
                return;
            }
            if (count > 10) {
                fail(w, c, 400, "Bad Request", "TooManyEntriesInBatchRequest", "TooManyEntriesInBatchRequest",
                     "more than 10 entries");
                return;
            }
            buf *a = &w->answer;
            a->len = 0;
            puts_(a, "{\"Successful\":[");
            int first = 1;
            for (int e = j->n[entries].child; e >= 0; e = j->n[e].next) {
                int id = member(j, e, "Id"), text = member(j, e, "MessageBody");
                if (id < 0 || text < 0 || j->n[id].type != J_STR || j->n[text].type != J_STR || j->n[text].slen == 0) {
                    fail(w, c, 400, "Bad Request", "MissingParameter", "MissingParameter", "an entry lacks Id or MessageBody");
                    return;
                }
                char body_md5[33], attrs_md5[33];
                w->body_scratch.len = 0;
                put(&w->body_scratch, j->n[text].s, j->n[text].slen);
                md5_hex(w->md, &w->body_scratch, body_md5);
                int has_attrs = attributes_md5(j, member(j, e, "MessageAttributes"), w->md, &w->attr_scratch, attrs_md5);
                if (!first) puts_(a, ",");
                first = 0;
                puts_(a, "{\"Id\":");
                json_string(a, j->n[id].s, j->n[id].slen);
                char rest[200];
                int n = snprintf(rest, sizeof rest, ",\"MessageId\":\"%08x-0000-4000-8000-%012llx\",\"MD5OfMessageBody\":\"%s\"",
                                 (unsigned)w->index, w->message_ids++, body_md5);
                put(a, rest, (size_t)n);
                if (has_attrs) {
                    puts_(a, ",\"MD5OfMessageAttributes\":\"");
                    put(a, attrs_md5, 32);
                    puts_(a, "\"");
                }
                puts_(a, "}");
            }
            puts_(a, "],\"Failed\":[]}");
            atomic_fetch_add(&n_requests, 1);
            atomic_fetch_add(&n_entries, (unsigned long long)count);
            atomic_fetch_add(&n_body_bytes, (unsigned long long)body_len);
            respond(w, c, 200, "OK", NULL, a);
        }

        /* ---- Pub/Sub and Service Bus modes ---- */

        static void respond_plain(conn *c, int status, const char *reason, const buf *body) {
            char head[256];
            int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\n%s\r\n", status, reason,
                             body->len ? "Content-Type: application/json\r\n" : "", body->len,
                             c->close_after ? "Connection: close\r\n" : "");
            put(&c->out, head, (size_t)n);
            put(&c->out, body->p, body->len);
        }

        static void fail_plain(worker *w, conn *c, int status, const char *reason, const char *message) {
            atomic_fetch_add(&n_errors, 1);
            w->answer.len = 0;
            puts_(&w->answer, "{\"error\":{\"code\":");
            char code[16];
            snprintf(code, sizeof code, "%d", status);
            puts_(&w->answer, code);
            puts_(&w->answer, ",\"message\":");
            json_string(&w->answer, message, strlen(message));
            puts_(&w->answer, "}}");
            respond_plain(c, status, reason, &w->answer);
        }

        static int ends_with(const char *s, size_t len, const char *suffix) {
            size_t n = strlen(suffix);
            return len >= n && memcmp(s + len - n, suffix, n) == 0;
        }

        /* Answers one complete Pub/Sub publish or Service Bus batch send. */
        static void handle_cloud(worker *w, conn *c, const char *path, size_t path_len, const char *auth, size_t auth_len,
                                 const char *body, size_t body_len) {
            int pubsub = mode == MODE_PUBSUB;
            if (pubsub ? !(ends_with(path, path_len, ":publish") && memmem(path, path_len, "/topics/", 8))
                       : !ends_with(path, path_len, "/messages")) {
                fail_plain(w, c, 404, "Not Found", pubsub ? "POST .../topics/NAME:publish only" : "POST /{entity}/messages only");
                return;
            }
            if (!pubsub && !(auth_len > 22 && memcmp(auth, "SharedAccessSignature ", 22) == 0)) {
                fail_plain(w, c, 401, "Unauthorized", "no Authorization: SharedAccessSignature header");
                return;
            }
            jparser *j = &w->json;
            int root = parse_body(w, body, body_len);
            int list = -1;
            if (root >= 0) {
                if (pubsub && j->n[root].type == J_OBJ) list = member(j, root, "messages");
                else if (!pubsub) list = root;
            }
            if (list < 0 || j->n[list].type != J_ARR) {
                fail_plain(w, c, 400, "Bad Request", pubsub ? "the body is not {\"messages\":[...]}" : "the body is not a JSON array");
                return;
            }
            int count = 0;
            for (int m = j->n[list].child; m >= 0; m = j->n[m].next) {
                int field = j->n[m].type == J_OBJ ? member(j, m, pubsub ? "data" : "Body") : -1;
                if (field < 0 || j->n[field].type != J_STR || (pubsub && j->n[field].slen == 0)) {
                    fail_plain(w, c, 400, "Bad Request", pubsub ? "a message lacks data" : "a message lacks a string Body");
                    return;
                }
                count++;
            }
            if (count == 0 || (pubsub && count > 1000)) {
                fail_plain(w, c, 400, "Bad Request", count ? "more than 1000 messages" : "no messages");
                return;
            }
            buf *a = &w->answer;
            a->len = 0;
            if (pubsub) {
                puts_(a, "{\"messageIds\":[");
                for (int i = 0; i < count; i++) {
                    char id[32];
                    int n = snprintf(id, sizeof id, "%s\"%llu\"", i ? "," : "", ++w->message_ids);
                    put(a, id, (size_t)n);
                }
                puts_(a, "]}");
            }
            atomic_fetch_add(&n_requests, 1);
            atomic_fetch_add(&n_entries, (unsigned long long)count);
            atomic_fetch_add(&n_body_bytes, (unsigned long long)body_len);
            if (pubsub) respond_plain(c, 200, "OK", a);
            else respond_plain(c, 201, "Created", a);
        }

        static int header_is(const char *line, size_t len, const char *name, const char **value, size_t *vlen) {
            size_t n = strlen(name);
            if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0) return 0;
            const char *v = line + n + 1, *end = line + len;
            while (v < end && (*v == ' ' || *v == '\t')) v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
            *value = v;
            *vlen = (size_t)(end - v);
            return 1;
        }

        /* Handles every complete request in c->in; returns 0 when the connection must close at once. */
        static int process(worker *w, conn *c) {
            size_t done = 0;
            while (!c->close_after) {
                char *start = c->in.p + done;
                size_t avail = c->in.len - done;
                char *eoh = avail >= 4 ? memmem(start, avail, "\r\n\r\n", 4) : NULL;
                if (!eoh) {
                    if (avail > 65536) return 0;
                    break;
                }
                size_t head_len = (size_t)(eoh - start) + 4;
                const char *line = start, *head_end = eoh + 2;
                const char *nl = memchr(line, '\n', (size_t)(head_end - line));
                int is_post = avail > 5 && memcmp(start, "POST ", 5) == 0;
                int http10 = nl && nl - line >= 9 && memcmp(nl - 9, "HTTP/1.0", 8) == 0;
                size_t content_length = 0;
                int expect = 0, chunked = 0, authorized = 0, close_requested = http10;
                const char *target = "", *auth = "";
                size_t auth_len = 0;
                size_t target_len = 0;
                for (line = nl ? nl + 1 : head_end; line < head_end;) {
                    const char *e = memchr(line, '\n', (size_t)(head_end - line));
                    size_t len = (size_t)((e ? e : head_end) - line);
                    if (len && line[len - 1] == '\r') len--;
                    const char *v;
                    size_t vl;
                    if (header_is(line, len, "content-length", &v, &vl)) content_length = strtoull(v, NULL, 10);
                    else if (header_is(line, len, "expect", &v, &vl)) expect = vl >= 3 && strncasecmp(v, "100", 3) == 0;
                    else if (header_is(line, len, "transfer-encoding", &v, &vl)) chunked = 1;
                    else if (header_is(line, len, "x-amz-target", &v, &vl)) target = v, target_len = vl;
                    else if (header_is(line, len, "authorization", &v, &vl)) {
                        authorized = vl > 16 && memcmp(v, "AWS4-HMAC-SHA256", 16) == 0;
                        auth = v, auth_len = vl;
                    }
                    else if (header_is(line, len, "connection", &v, &vl)) {
                        if (vl == 5 && strncasecmp(v, "close", 5) == 0) close_requested = 1;
                        if (vl == 10 && strncasecmp(v, "keep-alive", 10) == 0) close_requested = 0;
                    }
                    line = e ? e + 1 : head_end;
                }
                if (chunked || !is_post) {
                    c->close_after = 1;
                    fail(w, c, chunked ? 411 : 405, chunked ? "Length Required" : "Method Not Allowed", "InvalidRequest",
                         "InvalidRequest", chunked ? "send a Content-Length" : "POST only");
                    done = c->in.len;
                    break;
                }
                if (avail < head_len + content_length) {
                    if (expect && !c->sent_continue) {
                        puts_(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                        c->sent_continue = 1;
                    }
                    break;
                }
                c->close_after = close_requested;
                if (mode == MODE_SQS) {
                    handle(w, c, target, target_len, authorized, start + head_len, content_length);
                } else {
                    const char *path = start + 5, *sp = memchr(path, ' ', (size_t)(eoh - path));
                    handle_cloud(w, c, path, sp ? (size_t)(sp - path) : 0, auth, auth_len, start + head_len, content_length);
                }
                c->sent_continue = 0;
                done += head_len + content_length;
            }
            memmove(c->in.p, c->in.p + done, c->in.len - done);
            c->in.len -= done;
            return 1;
        }

        static void drop(worker *w, conn *c) {
            epoll_ctl(w->epoll, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            free(c->in.p);
            free(c->out.p);
            free(c);
        }

        /* Writes what it can; returns 0 when the connection is gone. */
        static int flush_out(worker *w, conn *c) {
            while (c->out_sent < c->out.len) {
                ssize_t n = write(c->fd, c->out.p + c->out_sent, c->out.len - c->out_sent);
                if (n > 0) {
                    c->out_sent += (size_t)n;
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    if (!c->want_out) {
                        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                        epoll_ctl(w->epoll, EPOLL_CTL_MOD, c->fd, &ev);
                        c->want_out = 1;
                    }
                    return 1;
                }
                return 0;
            }
            c->out.len = c->out_sent = 0;
            if (c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(w->epoll, EPOLL_CTL_MOD, c->fd, &ev);
                c->want_out = 0;
            }
            return !c->close_after;
        }

        static void *run(void *arg) {
            worker *w = arg;
            w->md = EVP_MD_CTX_new();
            w->epoll = epoll_create1(0);
            struct epoll_event lev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
            if (epoll_ctl(w->epoll, EPOLL_CTL_ADD, listener, &lev) != 0) {
                perror("epoll_ctl");
                exit(1);
            }
            struct epoll_event events[64];
            for (;;) {
                int n = epoll_wait(w->epoll, events, 64, -1);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    perror("epoll_wait");
                    exit(1);
                }
                for (int i = 0; i < n; i++) {
                    conn *c = events[i].data.ptr;
                    if (!c) {
                        int fd;
                        while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                            int one = 1;
                            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                            atomic_fetch_add(&n_connections, 1);
                            conn *nc = calloc(1, sizeof *nc);
                            if (!nc) abort();
                            nc->fd = fd;
                            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                            epoll_ctl(w->epoll, EPOLL_CTL_ADD, fd, &ev);
                        }
                        continue;
                    }
                    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                        int open = 1;
                        for (;;) {
                            reserve(&c->in, 65536);
                            ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
                            if (r > 0) {
                                c->in.len += (size_t)r;
                                if (c->in.len < c->in.cap) break; /* drained the socket (level-triggered: more wakes us) */
                                continue;
                            }
                            if (r < 0 && errno == EINTR) continue;
                            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                            open = 0; /* closed by the peer, or an error */
                            break;
                        }
                        if (!open || !process(w, c)) {
                            drop(w, c);
                            continue;
                        }
                    }
                    if (!flush_out(w, c)) drop(w, c);
                }
            }
            return NULL;
        }

        int main(int argc, char **argv) {
            int port = 0, threads = 1;
            for (int i = 1; i + 1 < argc; i += 2) {
                if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
                else if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
                else if (strcmp(argv[i], "--mode") == 0) {
                    if (strcmp(argv[i + 1], "pubsub") == 0) mode = MODE_PUBSUB;
                    else if (strcmp(argv[i + 1], "servicebus") == 0) mode = MODE_SERVICEBUS;
                    else if (strcmp(argv[i + 1], "sqs") != 0) {
                        fprintf(stderr, "unknown --mode %s\n", argv[i + 1]);
                        return 2;
                    }
                }
            }
            if (threads < 1 || threads > 64) threads = 1;
            signal(SIGPIPE, SIG_IGN);
            md5 = EVP_MD_fetch(NULL, "MD5", NULL);
            if (!md5) {
                fprintf(stderr, "OpenSSL has no MD5\n");
                return 1;
            }
            listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int one = 1;
            setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1024) != 0) {
                perror("bind/listen on 127.0.0.1");
                return 1;
            }
            socklen_t alen = sizeof addr;
            getsockname(listener, (struct sockaddr *)&addr, &alen);
            for (int i = 0; i < threads; i++) {
                worker *w = calloc(1, sizeof *w);
                w->index = i;
                pthread_t t;
                pthread_create(&t, NULL, run, w);
            }
            printf("%d\n", ntohs(addr.sin_port));
            fflush(stdout);
            char line[256];
            while (fgets(line, sizeof line, stdin)) {
                if (strncmp(line, "stats", 5) == 0) {
                    printf("ok %llu %llu %llu %llu %llu\n", (unsigned long long)n_requests, (unsigned long long)n_entries,
                           (unsigned long long)n_errors, (unsigned long long)n_body_bytes, (unsigned long long)n_connections);
                    fflush(stdout);
                } else {
                    printf("error unknown command\n");
                    fflush(stdout);
                }
            }
            return 0; /* end of input: the parent is gone */
        }

        """#
}
