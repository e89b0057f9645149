#!/usr/bin/env bash
# Every test of the project, on a fresh machine with only Rust and Python 3 installed.
#
# It installs its own test-only tools (tests/requirements.txt) into a Python virtual
# environment under target/pyvenv: the Python `genai-prices` package, the independent source
# the price fixture is checked against, and Arize Phoenix, the real OTLP backend that
# examples/tests/phoenix.rs starts on 127.0.0.1 and stops. Then it runs
# `cargo test --workspace --all-features`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null 2>&1; then
    echo "scripts/test.sh: python3 is needed for the test-only tools; install Python 3 (with its venv module) and run again" >&2
    exit 1
fi
venv=target/pyvenv
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p target
    python3 -m venv "$venv" || {
        echo "scripts/test.sh: python3 -m venv failed; install Python's venv module (Debian: apt-get install python3-venv)" >&2
        exit 1
    }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
"$venv/bin/python" tests/fixtures/make_genai_prices_fixture.py --check

cargo test --workspace --all-features
