#!/bin/bash
# End-to-end fleet latency including the firewall update, for both engines: three real
# `jailor server` daemons in their own network namespaces with the native jailor-nftables
# action, the broker in a fourth namespace (tests/fleet_nft.rs, bench_fleet_to_nft_latency).
# Latency = A's `jailor client set test banip` started -> `nft monitor` in B's namespace
# prints the new element (so it includes the client's start and A's local ban).
# Needs root, nft, ip, nats-server and redis-server. Usage: bench/fleet/nft.sh [count]
# (PROFILE=dev to skip the release build).
set -eu
count=${1:-200}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
flags=(--release)
[ "${PROFILE:-release}" = dev ] && flags=()
uptime
JAILOR_FLEET_BENCH_COUNT=$count nice cargo test -q "${flags[@]}" --test fleet_nft -- \
    --ignored --nocapture --test-threads=1 bench_fleet_to_nft_latency 2>&1 |
    grep -oE '(nats|redis): [0-9]+ bans.*|panicked.*|FAILED.*'
