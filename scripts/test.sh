#!/usr/bin/env bash
# Every test of the project, on a fresh machine with only Rust, Python 3 and Go installed.
#
# It installs its own test-only tools:
# - into a Python virtual environment under target/pyvenv (tests/requirements.txt): the
#   Python `genai-prices` package, the independent source the price fixture and the price
#   oracle (every model of the crate's data, target/genai-prices-oracle.json) are checked
#   against, and Arize Phoenix, the OTLP backend examples/tests/phoenix.rs starts;
# - into target/go, built with Go from the module proxy: Jaeger (tests/jaeger, started by
#   examples/tests/jaeger.rs) and an OpenTelemetry Collector with the OTLP receiver, the
#   load-balancing exporter and the tail-sampling processor (tests/collector), and Prometheus
#   with its OTLP receiver (tests/prometheus, the metrics backend the spend tests query with
#   PromQL). Each is rebuilt
#   only when its module changes, so a second run finds them there. They build while cargo
#   compiles the tests (target/go/build.log).
# - Debian's redis-server (the shared store of the budget tests), with apt-get when it is
#   missing.
# Then it runs `cargo test --workspace --all-features`. Every service a test starts listens
# on 127.0.0.1 and is stopped by the test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null 2>&1; then
    echo "scripts/test.sh: python3 is needed for the test-only tools; install Python 3 (with its venv module) and run again" >&2
    exit 1
fi
if ! command -v go >/dev/null 2>&1; then
    echo "scripts/test.sh: Go 1.26 or later is needed to build Jaeger, the OpenTelemetry Collector and Prometheus the tests run; install it (https://go.dev/dl) and run again" >&2
    exit 1
fi

# Builds the Go program `name` of module directory `module` into target/go/name, unless the
# binary there was built from the same module files.
build_go() {
    local name=$1 module=$2 package=$3
    local binary=target/go/$name
    local source
    source=$(find "$module" -maxdepth 1 -type f \( -name 'go.*' -o -name '*.go' \) | sort | xargs cat | sha256sum | cut -c1-64)
    if [ -x "$binary" ] && [ "$(cat "$binary.source" 2>/dev/null)" = "$source" ]; then
        return
    fi
    local started=$SECONDS
    # Go's own output (a line per module downloaded) is kept for a failure only.
    if ! (cd "$module" && go build -mod=readonly -trimpath -ldflags='-s -w' -o "../../$binary.new" "$package") 2>"$binary.log"; then
        cat "$binary.log"
        return 1
    fi
    mv "$binary.new" "$binary"
    echo "$source" >"$binary.source"
    echo "built $name in $((SECONDS - started)) s"
}
mkdir -p target/go
(
    build_go jaeger tests/jaeger github.com/jaegertracing/jaeger/cmd/jaeger
    build_go otelcol tests/collector .
    build_go prometheus tests/prometheus github.com/prometheus/prometheus/cmd/prometheus
) >target/go/build.log 2>&1 &
go_build=$!

if ! command -v redis-server >/dev/null 2>&1; then
    sudo=
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    echo "scripts/test.sh: installing redis-server (Debian's package) for the budget tests" >&2
    if ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends redis-server >target/apt.log 2>&1 \
        || { $sudo apt-get update >>target/apt.log 2>&1 \
            && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends redis-server >>target/apt.log 2>&1; }; }; then
        cat target/apt.log >&2
        echo "scripts/test.sh: installing redis-server failed (above); install it (apt-get install redis-server) and run again" >&2
        exit 1
    fi
fi

venv=target/pyvenv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || {
        echo "scripts/test.sh: python3 -m venv failed; install Python's venv module (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
"$venv/bin/python" tests/fixtures/make_genai_prices_fixture.py --check
# What Python genai-prices says every model of the crate's own data costs, for
# tests/tests/prices/oracle.rs to compare the layer's prices with.
genai_prices_data=$(cargo metadata --format-version 1 --locked | "$venv/bin/python" -c '
import json, pathlib, sys
packages = json.load(sys.stdin)["packages"]
crate = next(p for p in packages if p["name"] == "genai-prices")
print(pathlib.Path(crate["manifest_path"]).parent / "data" / "prices.json")')
"$venv/bin/python" tests/fixtures/genai_prices_oracle.py "$genai_prices_data"

cargo test --workspace --all-features --no-run
if ! wait "$go_build"; then
    cat target/go/build.log >&2
    echo "scripts/test.sh: building Jaeger, the Collector or Prometheus with Go failed (above); the module proxy must serve what tests/jaeger/go.sum, tests/collector/go.sum and tests/prometheus/go.sum name" >&2
    exit 1
fi
cat target/go/build.log >&2
# Every backend test runs here: one whose backend is missing fails, where a plain `cargo test`
# on a machine without Python or Go skips it and says so.
export TRACING_AI_REQUIRE_BACKENDS=1
cargo test --workspace --all-features
