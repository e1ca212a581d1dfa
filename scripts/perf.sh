#!/usr/bin/env bash
# Measures thingd and the Mosquitto on 127.0.0.1:1883 with the same load generator, in one run,
# and prints the Markdown table that docs/perf.md records. Arguments go to `thingd bench`
# (default: every scenario, median of three 10 s runs after 2 s of warm-up).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${THINGD_BENCH_PORT:-1884}
cargo build --release --locked -p thingd >&2
data=$(mktemp -d)
# THINGD_WORKERS=1 measures thingd on one worker thread (see docs/perf.md).
THINGD_LOG=warn ./target/release/thingd serve --data-dir "$data" --mqtt off --api off \
    --mqtt-tcp "127.0.0.1:${PORT}" ${THINGD_WORKERS:+--workers "$THINGD_WORKERS"} &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
# Wait for the listener rather than for a fixed time.
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null && break
    sleep 0.1
done
if [[ $# -eq 0 ]]; then
    set -- --runs 3 --warmup 2 --duration 10
fi
./target/release/thingd bench --target "thingd=127.0.0.1:${PORT}" --target mosquitto=127.0.0.1:1883 "$@"
