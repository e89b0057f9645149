#!/usr/bin/env bash
# OpenTelemetry Weaver's `registry live-check` over the examples, against tracing-ai's registry
# (semconv/) and the conventions it depends on. Not part of CI: Weaver and the conventions'
# model come from GitHub (Weaver's releases or its Docker image; semantic-conventions' tag
# v1.41.1, the last one that holds the GenAI model), which CI does not reach.
#
#   scripts/weaver-live-check.sh WEAVER SEMCONV_MODEL
#
# WEAVER: the weaver binary (0.25 was used); SEMCONV_MODEL: the `model` folder of
# semantic-conventions v1.41.1. Each example's report goes to target/weaver/<run>/; the script
# prints each run's findings that are not `not_stable` (every GenAI name is still in
# development) and exits non-zero if Weaver found a violation in any run.
set -euo pipefail

weaver=${1:?usage: $0 WEAVER SEMCONV_MODEL}
model=$(cd "${2:?usage: $0 WEAVER SEMCONV_MODEL}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/target/weaver
port=${WEAVER_OTLP_PORT:-4317}
admin=${WEAVER_ADMIN_PORT:-4320}

cargo build --quiet --examples -p tracing-ai-examples --manifest-path "$root/Cargo.toml"
examples=$(cargo metadata --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/examples

# The registry as committed depends on the conventions on GitHub; here, on the local copy.
rm -rf "$out" && mkdir -p "$out/registry"
cp "$root"/semconv/*.yaml "$out/registry/"
sed -i "s|registry_path: .*|registry_path: $model|" "$out/registry/manifest.yaml"

failed=0
run() {
    local name=$1 && shift
    "$weaver" registry live-check --registry "$out/registry" --include-unreferenced \
        --otlp-grpc-address 127.0.0.1 --otlp-grpc-port "$port" --admin-port "$admin" \
        --inactivity-timeout 60 --format json --output "$out/$name" \
        >"$out/$name.stdout" 2>"$out/$name.stderr" &
    local weaver_pid=$!
    for _ in $(seq 1 100); do
        grep -q "OTLP receiver will stop" "$out/$name.stderr" 2>/dev/null && break
        sleep 0.1
    done
    (cd "$root" && env OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$port" \
        OTEL_EXPORTER_OTLP_PROTOCOL=grpc "$@" >"$out/$name.app" 2>&1)
    curl -s -X POST "http://127.0.0.1:$admin/stop" >/dev/null
    local status=0
    wait "$weaver_pid" || status=$?
    echo "== $name: weaver exited $status"
    python3 - "$out/$name/live_check.json" <<'PY'
import collections, json, sys
found = collections.Counter()
def walk(node):
    if isinstance(node, dict):
        for advice in (node.get("live_check_result") or {}).get("all_advice", []):
            if advice["id"] != "not_stable":
                found[(advice["level"], advice["id"], advice.get("message", ""))] += 1
        for key, value in node.items():
            if key != "live_check_result":
                walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)
walk(json.load(open(sys.argv[1])))
for (level, id_, message), count in sorted(found.items()):
    print(f"{count:5} {level:11} {id_}: {message}")
PY
    [ "$status" = 0 ] || failed=1
}

run quickstart "$examples/quickstart" --requests 8 --error-rate 0.3
run quickstart-logs env OTEL_LOGS_EXPORTER=otlp "$examples/quickstart" --requests 8 --error-rate 0.3
run quickstart-1.41 env OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_1.41 "$examples/quickstart" --requests 8 --error-rate 0.3
run agent "$examples/agent"
run openai_client "$examples/openai_client"
exit $failed
