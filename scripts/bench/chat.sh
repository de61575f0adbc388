#!/usr/bin/env bash
# The chat benchmark of issue 4: CONVERSATIONS concurrent conversations (two WebSockets each)
# on kefu serve (SQLite store), every message stored before it is acknowledged, side by side
# with a bare WebSocket relay that stores nothing, in one run.
# Usage: scripts/bench/chat.sh [CONVERSATIONS] [MESSAGES_EACH] [INTERVAL_MS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-2000}"
m="${2:-10}"
every="${3:-2000}"
work="${4:-/var/tmp/kefu-chat-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/kefu-ci-target}"
cargo build --release --locked -p kefu >/dev/null
cargo build --release --locked -p kefu-web --example chat_bench >/dev/null
bin="$CARGO_TARGET_DIR/release"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
rm -rf "$work" && mkdir -p "$work"
db="sqlite://$work/kefu.db"
"$bin/kefu" serve --listen 127.0.0.1:0 --db "$db" --data-dir "$work" --log-format json >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
addr=$(grep -o "listening on http://[^ ]*" "$work/serve.out" | sed 's#listening on http://##')
echo "kefu serve pid $pid at $addr; $n conversations, $m messages each every ${every} ms"
KEFU_LOG=warn "$bin/examples/chat_bench" --db "$db" --data-dir "$work" --kefu "$addr" --pid "$pid" \
  --conversations "$n" --messages "$m" --interval-ms "$every"
