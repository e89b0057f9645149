#!/usr/bin/env bash
# Remakes docs/prometheus-spend.png: spend per tenant over a few minutes of the quickstart,
# run as a replica after another and pushed into Prometheus over OTLP, on Prometheus' own graph
# page (the README's first query), screenshotted with headless Chromium. Not part of the tests.
#
# Needs target/go/prometheus (scripts/test.sh builds it), Go, Node 20 and npm, and Chromium
# (Debian's package, installed with apt-get when missing). The Prometheus built from Go modules
# carries no UI (its web assets are built with npm), so this builds its UI from the module's own
# sources: the module cache holds them, the npm registry their dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

work=target/prometheus-screenshot
# Prometheus looks for its UI under web/ui/static of a working directory named `prometheus`.
ui=$work/prometheus/web/ui
if [ ! -f "$ui/static/mantine-ui/index.html" ]; then
    source=$(cd tests/prometheus && go mod download -json github.com/prometheus/prometheus | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    rm -rf "$work/prometheus"
    mkdir -p "$work/prometheus/web"
    cp -r "$source/web/ui" "$work/prometheus/web/"
    chmod -R u+w "$work/prometheus"
    # The lockfile names a package version the npm registry no longer serves: resolve anew.
    rm -f "$ui/pnpm-lock.yaml"
    (cd "$ui" && npx -y pnpm@10 install --no-frozen-lockfile && npx -y pnpm@10 run build:module)
    # `vite build` without the `tsc` check the package's own build runs first: the newer
    # dependency versions resolved above fail it on types, not on what is built.
    (cd "$ui/mantine-ui" && npx -y pnpm@10 exec vite build)
    mkdir -p "$ui/static"
    rm -rf "$ui/static/mantine-ui"
    mv "$ui/mantine-ui/dist" "$ui/static/mantine-ui"
fi
if ! command -v chromium >/dev/null 2>&1; then
    apt-get install -y chromium >/dev/null || sudo apt-get install -y chromium >/dev/null
fi

port=9391
data=$work/data
rm -rf "$data"
(cd "$work/prometheus" && exec "$root/target/go/prometheus" \
    --config.file="$root/tests/prometheus/prometheus.yml" --storage.tsdb.path="$root/$data" \
    --web.listen-address=127.0.0.1:$port --web.enable-otlp-receiver \
    --enable-feature=created-timestamp-zero-ingestion >"$root/$work/prometheus.log" 2>&1) &
prometheus=$!
trap 'kill $prometheus 2>/dev/null || true' EXIT
until curl -fs "http://127.0.0.1:$port/-/ready" >/dev/null; do sleep 0.2; done

cargo build -q -p tracing-ai-examples --example quickstart
# A replica after another, each with more requests: the spend climbs by steps. Its traces go
# nowhere (the port is closed): only the metrics are drawn.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for round in 1 2 3 4 5 6; do
    OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf \
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:$closed/v1/traces \
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:$port/api/v1/otlp/v1/metrics \
        OTEL_SERVICE_NAME=rag OTEL_RESOURCE_ATTRIBUTES=service.instance.id=replica-$round \
        target/debug/examples/quickstart --requests $((round * 40)) --seed $round \
        --error-rate 0.1 2>/dev/null
    sleep 20
done

query='sum by (tenant_id) (increase(ai_client_cost_USD_total[3m] anchored))'
encoded=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$query")
url="http://127.0.0.1:$port/query?g0.expr=$encoded&g0.show_tree=0&g0.tab=graph&g0.range_input=3m&g0.res_type=fixed&g0.res_step=5&g0.display_mode=lines&g0.show_exemplars=0"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,900 \
    --virtual-time-budget=15000 --screenshot="$root/docs/prometheus-spend.png" "$url" 2>/dev/null
echo "wrote docs/prometheus-spend.png"
