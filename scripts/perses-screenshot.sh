#!/usr/bin/env bash
# Remakes docs/perses-dashboard.png: dashboards/perses/tracing-ai.json in Perses' own UI, on
# the metrics of the quickstart (run as a replica after another) and of the services example
# with a budget and a rate limit, pushed into Prometheus over OTLP; screenshotted with headless
# Chromium. Not part of the tests (examples/tests/dashboards.rs checks every query).
#
# Needs target/go/prometheus (scripts/test.sh builds it), Go, Node 20 and npm, and Chromium
# (Debian's package, installed with apt-get when missing). Everything else comes from the
# package registries, built once into target/perses:
# - Perses itself from its Go module (Apache-2.0; v0.51.0, the release the Go module proxy
#   serves here: the module lists no versions), its UI built with npm from the module's own
#   `ui/` and embedded as its Makefile does (scripts/compress_assets.sh);
# - its two plugins the dashboard uses (TimeSeriesChart, Prometheus) from npm, whose packages
#   carry the same module-federation bundles as the plugin archives Perses downloads from
#   GitHub at build time. They carry no CUE schemas: Perses is given empty `schemas/` (it loads
#   them then), and the dashboard is written into its file database, not through its API,
#   which would validate it against the schemas (percli lint checks its shape).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/perses
version=v0.51.0
mkdir -p "$work"

if [ ! -x "$work/bin/perses" ]; then
    source=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/perses/perses@$version" |
        sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    rm -rf "$work/src"
    cp -r "$source" "$work/src"
    chmod -R u+w "$work/src"
    (cd "$work/src/ui" && npm ci --no-audit --no-fund && npm run build)
    (cd "$work/src" && bash scripts/compress_assets.sh >/dev/null &&
        CGO_ENABLED=0 go build -o "$work/bin/perses" ./cmd/perses &&
        CGO_ENABLED=0 go build -o "$work/bin/percli" ./cmd/percli)
fi
plugins=$work/plugins
if [ ! -f "$plugins/Prometheus/mf-manifest.json" ]; then
    rm -rf "$plugins" "$work/packs"
    mkdir -p "$plugins" "$work/packs"
    (cd "$work/packs" && npm pack --silent @perses-dev/timeseries-chart-plugin@0.10.2 \
        @perses-dev/prometheus-plugin@0.53.4 >/dev/null)
    for plugin in TimeSeriesChart:timeseries-chart Prometheus:prometheus; do
        mkdir -p "$plugins/${plugin%%:*}/schemas"
        tar xzf "$work/packs/perses-dev-${plugin#*:}-plugin-"*.tgz -C "$plugins/${plugin%%:*}" \
            --strip-components=1
    done
fi
"$work/bin/percli" lint -f dashboards/perses/tracing-ai.json
if ! command -v chromium >/dev/null 2>&1; then
    apt-get install -y chromium >/dev/null || sudo apt-get install -y chromium >/dev/null
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
prometheus_port=$(free_port)
perses_port=$(free_port)
gateway_port=$(free_port)
closed=$(free_port)
rm -rf "$work/data" "$work/db"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
"$root/target/go/prometheus" --config.file="$root/tests/prometheus/prometheus.yml" \
    --storage.tsdb.path="$work/data" --web.listen-address=127.0.0.1:$prometheus_port \
    --web.enable-otlp-receiver --enable-feature=created-timestamp-zero-ingestion \
    >"$work/prometheus.log" 2>&1 &
pids+=($!)
until curl -fs "http://127.0.0.1:$prometheus_port/-/ready" >/dev/null; do sleep 0.2; done

cargo build -q -p tracing-ai-examples --example quickstart --example services
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_METRIC_EXPORT_INTERVAL=1000 \
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:$closed/v1/traces \
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:$prometheus_port/api/v1/otlp/v1/metrics
# Two services with a budget per tenant and a rate limit, asked by two tenants while the
# quickstart runs as a replica after another: the spend climbs by steps, the limit refuses.
target/debug/examples/services --port "$gateway_port" --budget 0.002 --budget-per-call 0.00002 \
    --budget-rpm 20 </dev/null >"$work/services.log" 2>&1 &
pids+=($!)
until curl -fs -o /dev/null "http://127.0.0.1:$gateway_port/ask?q=ready" \
    -H 'authorization: Bearer acme-key'; do sleep 0.5; done
for round in 1 2 3 4 5 6; do
    OTEL_SERVICE_NAME=rag OTEL_RESOURCE_ATTRIBUTES=service.instance.id=replica-$round \
        target/debug/examples/quickstart --requests $((round * 20)) --seed $round \
        --error-rate 0.1 2>/dev/null
    for ask in $(seq 1 $((round * 3))); do
        for key in acme-key globex-key; do
            curl -s -o /dev/null "http://127.0.0.1:$gateway_port/ask?q=What+is+span+$ask" \
                -H "authorization: Bearer $key" || true
        done
    done
    sleep 15
done

mkdir -p "$work/plugins-archive"
# The project, the datasource and the dashboard, written into Perses' file database: its API
# would validate them against the plugins' CUE schemas, which the npm packages do not carry.
python3 - "$work/db" "$prometheus_port" <<'PY'
import json, os, sys
db, port = sys.argv[1], sys.argv[2]
now = "2026-01-01T00:00:00Z"
def write(path, resource):
    resource["metadata"].update(createdAt=now, updatedAt=now, version=0)
    os.makedirs(os.path.dirname(os.path.join(db, path)), exist_ok=True)
    with open(os.path.join(db, path), "w") as out:
        json.dump(resource, out)
write("projects/tracing-ai.json", {"kind": "Project", "metadata": {"name": "tracing-ai"}, "spec": {}})
write("globaldatasources/prometheus.json", {
    "kind": "GlobalDatasource", "metadata": {"name": "prometheus"},
    "spec": {"default": True, "plugin": {"kind": "PrometheusDatasource", "spec": {
        "proxy": {"kind": "HTTPProxy", "spec": {"url": f"http://127.0.0.1:{port}"}}}}}})
with open("dashboards/perses/tracing-ai.json") as dashboard:
    write("dashboards/tracing-ai/tracing-ai.json", json.load(dashboard))
PY
cat >"$work/config.yaml" <<EOF
database:
  file:
    folder: $work/db
    extension: json
plugin:
  path: $plugins
  archive_path: $work/plugins-archive
EOF
"$work/bin/perses" -config "$work/config.yaml" -web.listen-address 127.0.0.1:$perses_port \
    >"$work/perses.log" 2>&1 &
pids+=($!)
until curl -fs "http://127.0.0.1:$perses_port/api/v1/projects/tracing-ai/dashboards/tracing-ai" \
    >/dev/null; do sleep 0.2; done

url="http://127.0.0.1:$perses_port/projects/tracing-ai/dashboards/tracing-ai?start=1m&refresh=0s"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,2000 \
    --virtual-time-budget=30000 --screenshot="$root/docs/perses-dashboard.png" "$url" 2>/dev/null
echo "wrote docs/perses-dashboard.png"
