#!/usr/bin/env bash
# Measures thingd and the Mosquitto on 127.0.0.1:1883 with the same load generator, in one run,
# and prints the Markdown table that docs/perf.md records. Arguments go to `thingd bench`
# (default: every scenario, median of three 10 s runs after 2 s of warm-up). `perf.sh durable`
# measures QoS 1 scenarios with clean and then persistent subscribers, thingd only.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${THINGD_BENCH_PORT:-1884}
API_PORT=${THINGD_BENCH_API_PORT:-18080}
cargo build --release --locked -p thingd >&2
data=$(mktemp -d)
# THINGD_WORKERS=1 measures thingd on one worker thread (see docs/perf.md), THINGD_STORE_SYNC=normal
# with --store-sync normal. The plain listener's clients are held to the policy --mqtt-tcp-policy
# names (default deny without one): it is created below through the API, with the AWS CLI and the
# files thingd writes.
THINGD_LOG=warn ./target/release/thingd serve --data-dir "$data" --mqtt off \
    --api "127.0.0.1:${API_PORT}" --mqtt-tcp "127.0.0.1:${PORT}" --mqtt-tcp-policy bench-allow-all \
    ${THINGD_WORKERS:+--workers "$THINGD_WORKERS"} ${THINGD_STORE_SYNC:+--store-sync "$THINGD_STORE_SYNC"} &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
# Wait for the listeners rather than for a fixed time.
for port in "$PORT" "$API_PORT"; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null && break
        sleep 0.1
    done
done
# The API's files for AWS clients are written once its listener is bound.
for _ in $(seq 100); do
    [[ -s "$data/aws-config" ]] && break
    sleep 0.1
done
AWS_SHARED_CREDENTIALS_FILE="$data/credentials" AWS_CONFIG_FILE="$data/aws-config" \
    aws iot create-policy --policy-name bench-allow-all --policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}' >/dev/null
if [[ "${1:-}" == durable ]]; then
    # Durable QoS 1 next to the in-memory path, on one server: the same scenarios with clean
    # subscribers, then with persistent ones (every delivery stored until acknowledged).
    shift
    if [[ $# -eq 0 ]]; then
        set -- --runs 3 --warmup 2 --duration 10
    fi
    ./target/release/thingd bench --target "thingd=127.0.0.1:${PORT}" --scenario b,c,f "$@"
    ./target/release/thingd bench --target "thingd=127.0.0.1:${PORT}" --scenario b,c,f \
        --persistent-subscribers "$@" | tail -n +3
    curl -s "http://127.0.0.1:${API_PORT}/metrics" | grep -E '^thingd_store_(commits|rows_written)_total' >&2
    exit 0
fi
if [[ $# -eq 0 ]]; then
    set -- --runs 3 --warmup 2 --duration 10
fi
./target/release/thingd bench --target "thingd=127.0.0.1:${PORT}" --target mosquitto=127.0.0.1:1883 "$@"
