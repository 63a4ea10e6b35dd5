#!/usr/bin/env bash
# Starts Herald with examples/demo/herald.json, loads generated sample people, and keeps serving.
set -euo pipefail
HERALD="${1:-.build/debug/herald}"
cd "$(dirname "$0")/.."
DEMO=.demo
mkdir -p "$DEMO"

if [[ ! -s "$DEMO/sample.ndjson" ]]; then
    echo "==> generating sample data: 1,000 people from CRM, ERP and WEB, with duplicates"
    "$HERALD" sample-data --people 1000 --seed 42 --output "$DEMO/sample.ndjson" --truth "$DEMO/truth.csv"
fi

echo "==> starting herald serve (data in $DEMO/data)"
"$HERALD" serve --config examples/demo/herald.json > "$DEMO/serve.out" 2> "$DEMO/serve.log" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
    grep -q "listening on" "$DEMO/serve.out" 2>/dev/null && break
    if ! kill -0 $SERVER 2>/dev/null; then
        echo "herald serve exited; its log:"; cat "$DEMO/serve.log"; exit 1
    fi
    sleep 0.1
done
URL=$(sed -n 's/.*listening on //p' "$DEMO/serve.out")

echo "==> loading $DEMO/sample.ndjson into tenant 'demo'"
"$HERALD" load "$DEMO/sample.ndjson" --tenant demo --url "$URL" || true

# Wait until both file-sink destinations have caught up with the queue.
for _ in $(seq 1 100); do
    STATUS=$(curl -s "$URL/api/demo/streaming/status")
    [[ "$STATUS" == *'"lagEvents":0'* && "$STATUS" != *'"lagEvents":'[1-9]* ]] && break
    sleep 0.2
done
FIRST=$(curl -s "$URL/api/demo/events?limit=1" | sed -n 's/.*"objectUri":"\([^"]*\)".*/\1/p' | head -1)
echo
echo "==> events streamed by the file sink (streamingConfig in examples/demo/herald.json):"
for f in "$DEMO"/events/*.ndjson; do
    [[ -f "$f" ]] && printf '    %-40s %6d messages\n' "$f" "$(wc -l < "$f")"
done
cat <<EOT

Herald is running at $URL (log: $DEMO/serve.log). Open the operator console at $URL/console/
(no tokens in the demo: sign in with the token field empty; see docs/console.md). Or try:
  head -c 600 $DEMO/events/new-people.ndjson       # one message: headers, key, body
  curl -s '$URL/api/demo/streaming/status'         # per-destination delivery status
  curl -s '$URL/api/demo/events?limit=2'           # the CRUD queue itself
  curl -s '$URL/api/demo/$FIRST'                   # one entity
  curl -s '$URL/metrics'                           # Prometheus metrics
Press Ctrl-C to stop.
EOT
wait $SERVER
