#!/usr/bin/env bash
# Redis's own time per budget reservation, with 10, 1,000 and 10,000 calls in flight on one
# account: the RESERVE script of tracing-ai/src/budget/redis.rs, run on a redis-server of its
# own (127.0.0.1, a free port, no persistence), timed by Redis (INFO commandstats) over 200
# reservations after the others were left in flight. BENCHMARKS.md quotes its figures.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v redis-server >/dev/null || { echo "$0: needs redis-server (scripts/test.sh installs it)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done

script=$(python3 - <<'PY'
import re
source = open("tracing-ai/src/budget/redis.rs").read()
print(re.search(r'const RESERVE: &str = r"\n(.*?)\n";', source, re.S).group(1))
PY
)
sha=$(redis-cli -p "$port" SCRIPT LOAD "$script")
# One account, its reservations, `other`, its reservations, the count; then the id, now (ms),
# the lease's end, the most accounts, and the account's oldest period, limit, amount, refuse
# and time to live: a limit no call reaches, $0.01 a call.
reserve() {
    for i in $(seq "$2" "$3"); do
        echo "EVALSHA $sha 5 acct acct:#r other other:#r count $1$i 1000 99999999999 100000 0 999999999999999999 100000000 1 86400000"
    done | redis-cli -p "$port" >/dev/null
}
for in_flight in 10 1000 10000; do
    redis-cli -p "$port" FLUSHALL >/dev/null
    reserve held 1 "$in_flight"
    redis-cli -p "$port" CONFIG RESETSTAT >/dev/null
    reserve timed 1 200
    per_call=$(redis-cli -p "$port" INFO commandstats | grep '^cmdstat_evalsha:' | sed 's/.*usec_per_call=\([0-9.]*\).*/\1/')
    echo "$in_flight calls in flight: ${per_call} us of Redis time a reservation"
done
