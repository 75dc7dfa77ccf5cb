#!/usr/bin/env bash
# Side-by-side benchmark of the gateway, the raw floor (both write modes)
# and Node.js Socket.IO v4, on this machine's loopback only.
#
#   bench/compare.sh                         every scenario at target sizes, 3 rounds
#   bench/compare.sh -quick -rounds 1        a smoke compare
#   bench/compare.sh -scenarios fanout,rooms -peers gateway,socketio
#
# Flags are gateway-bench compare's (bench/compare.sh -h). Results:
# bench/out/results.md (ready for bench/RESULTS.md), bench/out/results.jsonl,
# bench/out/latency*.png, and bench/latency.png (the README's copy).
#
# It runs from bench/, the load tool's own Go module: the tool's -repo
# defaults to "..", its -out to out (bench/out).
set -euo pipefail
cd "$(dirname "$0")"

if command -v node >/dev/null && [ ! -d peers/node-socketio/node_modules/socket.io ]; then
	npm ci --prefix peers/node-socketio --no-audit --no-fund >&2
fi
go build -o out/bin/gateway-bench ./cmd/gateway-bench
exec out/bin/gateway-bench compare "$@"
