#!/usr/bin/env bash
# Three Herald nodes on one PostgreSQL behind nginx: starts PostgreSQL (initdb in .demo-cluster/pg), three
# `herald serve` processes with the same configuration (examples/demo/herald.json on PostgreSQL), and nginx
# on http://127.0.0.1:8080 spreading requests over them; loads the sample people through nginx, waits until
# both destinations have caught up, and prints where to look. Ctrl-C stops everything.
#
# Needs Debian's postgresql and nginx (scripts/setup.sh --test installs postgresql; `apt-get install nginx`).
set -euo pipefail
HERALD="${1:-.build/debug/herald}"
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/.demo-cluster
NODES=3
LB_PORT=8080
mkdir -p "$DIR"

INITDB=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$INITDB" ]]; then
    echo "PostgreSQL is not installed: apt-get install postgresql (or scripts/setup.sh --test)" >&2; exit 1
fi
if ! command -v nginx >/dev/null; then
    echo "nginx is not installed: apt-get install nginx" >&2; exit 1
fi
PGBIN=$(dirname "$INITDB")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the package creates.
AS=()
if [[ $(id -u) -eq 0 ]]; then AS=(runuser -u postgres --); fi
PIDS=()
stop_all() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ -f "$DIR/nginx/nginx.pid" ]] && kill -TERM "$(cat "$DIR/nginx/nginx.pid")" 2>/dev/null || true
    [[ -d "$DIR/pg/data" ]] && "${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m fast stop >/dev/null 2>&1 || true
}
trap stop_all EXIT INT TERM

echo "==> PostgreSQL: a fresh cluster in $DIR/pg"
rm -rf "$DIR/pg" "$DIR/events" "$DIR/logs"
mkdir -p "$DIR/pg" "$DIR/events" "$DIR/logs" "$DIR/nginx"
[[ ${#AS[@]} -gt 0 ]] && chown postgres "$DIR/pg"
PG_PORT=$(free_port)
"${AS[@]}" "$INITDB" -D "$DIR/pg/data" -A trust -U herald >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $DIR/pg" start >/dev/null
"$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U herald -d postgres -qc "CREATE DATABASE herald" >/dev/null

if [[ ! -s "$DIR/sample.ndjson" ]]; then
    echo "==> generating sample data: 1,000 people from CRM, ERP and WEB, with duplicates"
    "$HERALD" sample-data --people 1000 --seed 42 --output "$DIR/sample.ndjson" --truth "$DIR/truth.csv"
fi

echo "==> configuration: examples/demo/herald.json on PostgreSQL ($DIR/herald.json)"
python3 - "$ROOT" "$DIR" "$PG_PORT" <<'EOF'
import json, sys
root, out, port = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(f"{root}/examples/demo/herald.json"))
c.pop("dataDirectory", None)
c["store"] = {"backend": "postgres", "url": f"postgres://herald@127.0.0.1:{port}/herald", "poolSize": 4}
c["cluster"] = {"leaseMs": 5000}
c["pluginDirectories"] = [f"{root}/plugins.d"]
for t in c["tenants"]:
    for p in t.get("streamingConfig", {}).get("messaging", {}).get("providers", {}).values():
        if p.get("plugin") == "file":
            p["config"]["path"] = f"{out}/events/{{destination}}.ndjson"
json.dump(c, open(f"{out}/herald.json", "w"), indent=2)
EOF

echo "==> $NODES nodes"
UPSTREAMS=""
PORTS=()
for i in $(seq 1 $NODES); do
    port=$(free_port)
    PORTS+=("$port")
    "$HERALD" serve --config "$DIR/herald.json" --port "$port" --node-id "node-$i" \
        > "$DIR/logs/node-$i.out" 2> "$DIR/logs/node-$i.log" &
    PIDS+=($!)
    UPSTREAMS+="        server 127.0.0.1:$port;"$'\n'
    for _ in $(seq 1 100); do
        grep -q "listening on" "$DIR/logs/node-$i.out" 2>/dev/null && break
        if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then echo "node-$i exited; its log:"; cat "$DIR/logs/node-$i.log"; exit 1; fi
        sleep 0.1
    done
    echo "    node-$i on http://127.0.0.1:$port (log: $DIR/logs/node-$i.log)"
done

echo "==> nginx on http://127.0.0.1:$LB_PORT, round robin over the nodes"
cat > "$DIR/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log;
events { worker_connections 256; }
http {
    log_format upstream '\$upstream_addr \$request';
    access_log $DIR/nginx/access.log upstream;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    client_max_body_size 64m;
    upstream herald {
$UPSTREAMS        keepalive 16;
    }
    server {
        listen 127.0.0.1:$LB_PORT;
        location / {
            proxy_pass http://herald;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout;
        }
    }
}
EOF
nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf"
URL=http://127.0.0.1:$LB_PORT
for _ in $(seq 1 50); do curl -sf "$URL/health" >/dev/null && break; sleep 0.1; done

echo "==> loading $DIR/sample.ndjson into tenant 'demo' through nginx"
"$HERALD" load "$DIR/sample.ndjson" --tenant demo --url "$URL" || true

for _ in $(seq 1 150); do
    STATUS=$(curl -s "$URL/api/demo/streaming/status")
    [[ "$STATUS" == *'"lagEvents":0'* && "$STATUS" != *'"lagEvents":'[1-9]* ]] && break
    sleep 0.2
done
echo
echo "==> writes per node (nginx's log) and each destination's holder:"
for i in $(seq 1 $NODES); do
    printf '    node-%d took %s POST requests\n' "$i" \
        "$(grep -c "^127.0.0.1:${PORTS[$((i - 1))]} POST /api/demo/entities" "$DIR/nginx/access.log" || true)"
done
curl -s "$URL/api/demo/streaming/status" | python3 -c '
import json, sys
for d in json.load(sys.stdin).get("destinations", []):
    print("    {:<28} holder {:<8} since {}  lag {} events".format(d.get("id", "?"), str(d.get("holder")), d.get("holderSince"), d.get("lagEvents")))
' || true
echo
echo "==> events streamed by the file sink:"
for f in "$DIR"/events/*.ndjson; do
    [[ -f "$f" ]] && printf '    %-50s %6d messages\n' "$f" "$(wc -l < "$f")"
done
cat <<EOT

Three nodes serve behind $URL. Try:
  curl -s $URL/api/cluster                        # the nodes and their last heartbeat
  curl -s $URL/api/demo/streaming/status          # each destination's holder and lag
  kill -9 \$(pgrep -f 'node-id node-1')            # a node dies: its destinations move within cluster.leaseMs (5 s)
  tail -f $DIR/logs/node-2.log                    # a node's log
Press Ctrl-C to stop everything (nodes, nginx, PostgreSQL).
EOT
wait "${PIDS[@]}"
