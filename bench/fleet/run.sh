#!/bin/bash
# End-to-end fleet latency (A's publish call -> B's runtime applied it, through the
# outbox, the broker, the receiver policy and B's SQLite commit) for both engines.
# Each broker runs on a free loopback port in a temporary folder and is stopped after.
# Usage: bench/fleet/run.sh [count] [per second]
# (bench/fleet/nft.sh measures the same through three daemons and their nft sets.)
set -eu
count=${1:-1000}
rate=${2:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release -q -p jailor-fleet --example fleet_latency
bin=${CARGO_TARGET_DIR:-$root/target}/release/examples/fleet_latency
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo > /dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

p=$(port)
mkdir -p "$tmp/nats"
nats-server -a 127.0.0.1 -p "$p" -js -sd "$tmp/nats" >/dev/null 2>&1 & pid=$!
wait_port "$p"
printf 'nats:  '; nice "$bin" nats "nats://127.0.0.1:$p" "$count" "$rate"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

p=$(port)
redis-server --bind 127.0.0.1 --port "$p" --dir "$tmp" --save '' --appendonly no >/dev/null 2>&1 & pid=$!
wait_port "$p"
printf 'redis: '; nice "$bin" redis "redis://127.0.0.1:$p" "$count" "$rate"
