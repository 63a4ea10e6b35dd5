/// The protocol-faithful local Service Bus endpoint (Python 3 standard library), run by the tests.
enum TestScripts {
    static let endpoint = #"""
"""A protocol-faithful local Azure Service Bus REST endpoint for Herald's tests.

Checks what Service Bus checks on a send (see docs/sinks/servicebus.md and PEERS.md):
 1. Authorization: SharedAccessSignature sr=..&sig=..&se=..&skn=.., all four present   (else 401)
 2. skn is a known key name, se is in the future                                       (else 401)
 3. the URL-decoded sr is a case-insensitive prefix of the target URL                  (else 401)
 4. sig == base64(HMAC-SHA256(key bytes as written, sr as sent + "\n" + se)), constant time (else 401)
 5. path /{entity}/messages; unknown entity                                             (410)
 6. batch: Content-Type application/vnd.microsoft.servicebus.json, a JSON array of objects with a
    string Body and object BrokerProperties / UserProperties; single: a BrokerProperties header,
    when present, is a JSON object                                                      (else 400)
 7. a message, or a batch in all, over the size limit                                   (403)
 8. success                                                                             (201, empty body)
Sizes: a message counts its UTF-8 Body, its user property names and values, and its broker
property names and values.

Test-only: GET /_test/received lists what was accepted; GET /_test/rejected what was refused.
Entities named status-NNN answer NNN (Retry-After: 3 for 429 and 503) after the checks; an entity
named "full" answers 403 quota exceeded (the entity is at its maximum size).
Prints "READY <port>" when listening.
"""
import argparse, base64, hashlib, hmac, json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import unquote_plus, urlsplit

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--key", action="append", default=[], help="NAME=KEY")
parser.add_argument("--entity", action="append", default=[])
parser.add_argument("--max-bytes", type=int, default=262144)
args = parser.parse_args()
KEYS = dict(k.split("=", 1) for k in args.key)
ENTITIES = {e.lower() for e in args.entity}
lock = threading.Lock()
received, rejected = [], []
BATCH_TYPE = "application/vnd.microsoft.servicebus.json"


def error_xml(code, detail):
    return ("<Error><Code>%d</Code><Detail>%s TrackingId:test</Detail></Error>" % (code, detail)).encode()


def props_size(d):
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in (d or {}).items())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", ctype="application/xml; charset=utf-8", headers=()):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def refuse(self, status, detail, headers=()):
        with lock:
            rejected.append({"status": status, "detail": detail, "path": self.path})
        self.reply(status, error_xml(status, detail), headers=headers)

    def do_GET(self):
        if self.path == "/_test/received":
            with lock:
                body = json.dumps(received).encode()
        elif self.path == "/_test/rejected":
            with lock:
                body = json.dumps(rejected).encode()
        else:
            return self.reply(404, error_xml(404, "no such test path"))
        self.reply(200, body, "application/json")

    def check_auth(self, target):
        auth = self.headers.get("Authorization", "")
        prefix = "SharedAccessSignature "
        if not auth.startswith(prefix):
            return "missing SharedAccessSignature authorization"
        fields = {}
        for part in auth[len(prefix):].split("&"):
            if "=" not in part:
                return "malformed token part %r" % part
            k, v = part.split("=", 1)
            fields[k] = v
        for name in ("sr", "sig", "se", "skn"):
            if name not in fields:
                return "token has no %s" % name
        skn = unquote_plus(fields["skn"])
        if skn not in KEYS:
            return "unknown key name %r" % skn
        try:
            se = int(fields["se"])
        except ValueError:
            return "se is not a number"
        if se <= time.time():
            return "token expired at %d" % se
        sr = unquote_plus(fields["sr"])
        if not target.lower().startswith(sr.lower()):
            return "token audience %r does not cover %r" % (sr, target)
        expected = base64.b64encode(hmac.new(KEYS[skn].encode(), (fields["sr"] + "\n" + fields["se"]).encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, unquote_plus(fields["sig"]).encode()):
            return "signature does not match"
        return None

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        target = "http://%s%s" % (self.headers.get("Host", ""), path)
        problem = self.check_auth(target)
        if problem:
            return self.refuse(401, "InvalidSignature: " + problem)
        parts = path.strip("/").split("/")
        if len(parts) < 2 or parts[-1] != "messages":
            return self.refuse(400, "path must be /{entity}/messages, got %s" % path)
        entity = "/".join(parts[:-1])
        if entity.lower() not in ENTITIES:
            return self.refuse(410, "The messaging entity '%s' could not be found." % entity)
        ctype = self.headers.get("Content-Type", "")
        messages = []
        if ctype.split(";")[0].strip() == BATCH_TYPE:
            try:
                batch = json.loads(body.decode("utf-8"))
            except Exception as e:
                return self.refuse(400, "batch body is not JSON: %s" % e)
            if not isinstance(batch, list) or not batch:
                return self.refuse(400, "batch body must be a non-empty JSON array")
            for m in batch:
                if not isinstance(m, dict) or not isinstance(m.get("Body"), str):
                    return self.refuse(400, "each batch message needs a string Body")
                for key in ("BrokerProperties", "UserProperties"):
                    if key in m and not isinstance(m[key], dict):
                        return self.refuse(400, "%s must be an object" % key)
                unknown = set(m) - {"Body", "BrokerProperties", "UserProperties"}
                if unknown:
                    return self.refuse(400, "unknown batch message fields %s" % sorted(unknown))
                messages.append({"Body": m["Body"], "BrokerProperties": m.get("BrokerProperties", {}),
                                 "UserProperties": m.get("UserProperties", {})})
        else:
            broker = {}
            if "BrokerProperties" in self.headers:
                try:
                    broker = json.loads(self.headers["BrokerProperties"])
                except Exception as e:
                    return self.refuse(400, "BrokerProperties header is not JSON: %s" % e)
                if not isinstance(broker, dict):
                    return self.refuse(400, "BrokerProperties header must be a JSON object")
            messages.append({"Body": body.decode("utf-8", "replace"), "BrokerProperties": broker, "UserProperties": {}})
        total = 0
        for m in messages:
            size = len(m["Body"].encode()) + props_size(m["UserProperties"]) + props_size(m["BrokerProperties"])
            if size > args.max_bytes:
                return self.refuse(403, "The message size %d exceeds the limit of %d bytes." % (size, args.max_bytes))
            total += size
        if total > args.max_bytes:
            return self.refuse(403, "The batch size %d exceeds the limit of %d bytes." % (total, args.max_bytes))
        if entity.lower() == "full":
            return self.refuse(403, "SubCode=40300. The maximum entity size has been reached or exceeded for Queue: 'full'.")
        if entity.lower().startswith("status-"):
            code = int(entity.split("-", 1)[1])
            return self.refuse(code, "test status %d" % code, headers=[("Retry-After", "3")] if code in (429, 503) else [])
        skn = unquote_plus(dict(p.split("=", 1) for p in self.headers["Authorization"].split(" ", 1)[1].split("&"))["skn"])
        with lock:
            for m in messages:
                received.append(dict(m, entity=entity, contentType=ctype, keyName=skn, batchSize=len(messages)))
        self.reply(201)


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("READY %d" % server.server_address[1], flush=True)
server.serve_forever()
"""#
}
