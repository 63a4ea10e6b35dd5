/// The local OAuth2 token + Pub/Sub publish endpoint (Python 3 with `cryptography`), run by the tests.
enum TestScripts {
    static let authServer = #"""
"""A local Google OAuth2 token endpoint plus a Pub/Sub publish endpoint, for Herald's tests.

POST /token: RFC 7523 JWT-bearer grant. The assertion must be an RS256 JWT signed with the private
half of --public-key, with iss == --email, scope containing the Pub/Sub scope, aud == this token
URL, iat within 60 s of now, exp == iat + 3600 and in the future. Otherwise 400 invalid_grant.
Issues a random access token valid --expires-in seconds.

POST /v1/projects/P/topics/T:publish: needs "Authorization: Bearer <a token issued here, not
expired>" (else 401 UNAUTHENTICATED); checks the body as Pub/Sub does (messages array of 1..1000,
base64 data, non-empty messages, one ordering key per request, attribute limits) and records it;
a message with the attribute test-reject=yes makes it refuse the request (400).
Topics named status-NNN answer NNN (Retry-After: 7 for 429); "missing" answers 404; "slow" waits
3 s and answers 503; "revoke-first-token" revokes the first token issued and answers 401 to it.

GET /_test/state: {"tokens": [...issued...], "grants": n, "refused_grants": [...], "publishes": [...]}.
Prints "READY <port>" when listening.
"""
import argparse, base64, json, secrets, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import parse_qs
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.exceptions import InvalidSignature

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--public-key", required=True)
parser.add_argument("--email", required=True)
parser.add_argument("--expires-in", type=int, default=3600)
args = parser.parse_args()
PUBLIC = serialization.load_pem_public_key(open(args.public_key, "rb").read())
SCOPE = "https://www.googleapis.com/auth/pubsub"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
lock = threading.Lock()
tokens = {}          # token -> expiry
issued = []          # tokens in order
refused = []
publishes = []


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def google_error(self, code, status, message, headers=()):
        self.reply(code, {"error": {"code": code, "message": message, "status": status}}, headers)

    def do_GET(self):
        if self.path != "/_test/state":
            return self.google_error(404, "NOT_FOUND", "no such path")
        with lock:
            state = {"tokens": list(issued), "refused_grants": list(refused), "publishes": list(publishes)}
        self.reply(200, state)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/token":
            return self.token(body)
        if self.path.startswith("/v1/projects/") and self.path.endswith(":publish"):
            return self.publish(body)
        self.google_error(404, "NOT_FOUND", "no such path %s" % self.path)

    def token(self, body):
        problem = self.check_grant(body)
        if problem:
            with lock:
                refused.append(problem)
            return self.reply(400, {"error": "invalid_grant", "error_description": problem})
        token = "ya29.test-" + secrets.token_hex(12)
        with lock:
            tokens[token] = time.time() + args.expires_in
            issued.append(token)
        self.reply(200, {"access_token": token, "expires_in": args.expires_in, "token_type": "Bearer"})

    def check_grant(self, body):
        if self.headers.get("Content-Type", "").split(";")[0] != "application/x-www-form-urlencoded":
            return "content type must be application/x-www-form-urlencoded"
        form = parse_qs(body.decode(), strict_parsing=True)
        if form.get("grant_type") != [GRANT]:
            return "grant_type must be %s" % GRANT
        parts = form.get("assertion", [""])[0].split(".")
        if len(parts) != 3:
            return "assertion is not a JWT"
        header = json.loads(b64url(parts[0]))
        claims = json.loads(b64url(parts[1]))
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            return "JWT header must say alg RS256, typ JWT: %r" % header
        try:
            PUBLIC.verify(b64url(parts[2]), (parts[0] + "." + parts[1]).encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "Invalid JWT Signature."
        now = time.time()
        expected_aud = "http://%s/token" % self.headers.get("Host")
        if claims.get("iss") != args.email:
            return "iss %r is not the service account" % claims.get("iss")
        if SCOPE not in str(claims.get("scope", "")).split(" "):
            return "scope %r lacks %s" % (claims.get("scope"), SCOPE)
        if claims.get("aud") != expected_aud:
            return "aud %r is not %s" % (claims.get("aud"), expected_aud)
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or abs(iat - now) > 60:
            return "iat %r is not now" % iat
        if exp != iat + 3600 or exp <= now:
            return "exp %r must be iat + 3600" % exp
        return None

    def publish(self, body):
        auth = self.headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with lock:
            expiry = tokens.get(token)
        if expiry is None or expiry <= time.time():
            return self.google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        topic = self.path[len("/v1/"):-len(":publish")]
        name = topic.rsplit("/", 1)[-1]
        if name == "revoke-first-token" and issued and token == issued[0]:
            with lock:
                tokens.pop(token, None)
            return self.google_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if name == "missing":
            return self.google_error(404, "NOT_FOUND", "Resource not found (resource=missing).")
        if name == "slow":
            time.sleep(3)
            return self.google_error(503, "UNAVAILABLE", "too slow")
        if name.startswith("status-"):
            code = int(name.split("-", 1)[1])
            headers = [("Retry-After", "7")] if code == 429 else []
            return self.google_error(code, "TEST", "bad thing %d" % code, headers)
        try:
            request = json.loads(body)
        except ValueError:
            return self.google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        messages = request.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 1000:
            return self.google_error(400, "INVALID_ARGUMENT", "messages must hold 1 to 1000 messages")
        keys = {m.get("orderingKey", "") for m in messages}
        if len(keys) > 1:
            return self.google_error(400, "INVALID_ARGUMENT",
                                     "In a single publish request, all messages must have no ordering key or they must all have the same ordering key.")
        for m in messages:
            data = base64.b64decode(m.get("data", ""), validate=True)
            attrs = m.get("attributes", {})
            if not data and not attrs:
                return self.google_error(400, "INVALID_ARGUMENT", "Some messages are empty")
            if len(attrs) > 100 or any(len(k.encode()) > 256 or len(v.encode()) > 1024 for k, v in attrs.items()):
                return self.google_error(400, "INVALID_ARGUMENT", "attribute limits exceeded")
            if attrs.get("test-reject") == "yes":
                return self.google_error(400, "INVALID_ARGUMENT", "message rejected by the test endpoint")
        with lock:
            first = len(publishes)
            publishes.append({"topic": topic, "token": token, "messages": messages})
        self.reply(200, {"messageIds": [str(first * 1000 + i) for i in range(len(messages))]})


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print("READY %d" % server.server_address[1], flush=True)
server.serve_forever()
"""#
}
