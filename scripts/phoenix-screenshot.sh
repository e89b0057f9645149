#!/usr/bin/env bash
# Remakes docs/phoenix-trace.png and docs/phoenix-llm-span.png: the quickstart's traces in
# Arize Phoenix's UI, screenshotted with headless Chromium. Needs Phoenix in target/pyvenv
# (scripts/test.sh installs it) and Debian's chromium (apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

port=16017
grpc=14327
work=$(mktemp -d target/phoenix-shot.XXXX)
PHOENIX_WORKING_DIR="$PWD/$work" PHOENIX_PORT=$port PHOENIX_GRPC_PORT=$grpc PHOENIX_HOST=127.0.0.1 \
    PHOENIX_TELEMETRY_ENABLED=false DO_NOT_TRACK=1 target/pyvenv/bin/phoenix serve >/dev/null 2>&1 &
phoenix=$!
trap 'kill $phoenix 2>/dev/null; rm -rf "$work" /tmp/tracing-ai-chrome' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 1; done

cargo build -q --example quickstart
OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$port" target/debug/examples/quickstart --requests 4 --seed 7
sleep 1

# The trace of a request that fell back to the hosted model, and that call's span.
read -r trace span < <(curl -s -X POST -H 'content-type: application/json' \
    -d '{"query":"{ projects { edges { node { spans(first: 200) { edges { node { id name context { traceId } } } } } } } }"}' \
    "http://127.0.0.1:$port/graphql" | python3 -c '
import json, sys
edges = json.load(sys.stdin)["data"]["projects"]["edges"][0]["node"]["spans"]["edges"]
node = next(e["node"] for e in edges if e["node"]["name"] == "chat gpt-4o-mini")
print(node["context"]["traceId"], node["id"])')
project=UHJvamVjdDox # the default project's id

shot() {
    rm -rf /tmp/tracing-ai-chrome
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir=/tmp/tracing-ai-chrome --window-size="$2" --virtual-time-budget=15000 \
        --screenshot="$1" "$3" 2>/dev/null
}
shot docs/phoenix-trace.png 1600,1000 "http://127.0.0.1:$port/projects/$project/traces/$trace"
shot docs/phoenix-llm-span.png 1600,1250 "http://127.0.0.1:$port/projects/$project/traces/$trace?selectedSpanNodeId=$span"
echo "wrote docs/phoenix-trace.png and docs/phoenix-llm-span.png"
