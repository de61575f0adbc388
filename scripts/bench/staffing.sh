#!/usr/bin/env bash
# The staffing benchmark of issue 5: Erlang C required agents for INTERVALS varied
# half-hour intervals (parameters generated from SEED) in kefu, and the first SUBSET of
# them in pyworkforce's ErlangC(...).required_positions(...), in one run: time per
# interval for both, the speed ratio, and whether both give the same agents.
# pyworkforce is installed into a throwaway venv under /var/tmp, never a kefu dependency.
# Usage: scripts/bench/staffing.sh [INTERVALS] [SUBSET] [SEED] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-1000000}"
subset="${2:-2000}"
seed="${3:-20260101}"
work="${4:-/var/tmp/kefu-staffing-bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/kefu-ci-target}"
cargo build --release --locked -p kefu-core --example staffing_bench >/dev/null
venv=/var/tmp/kefu-pyworkforce-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pyworkforce" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pyworkforce==0.5.1
fi
rm -rf "$work" && mkdir -p "$work"
echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$CARGO_TARGET_DIR/release/examples/staffing_bench" --intervals "$n" --seed "$seed" --subset "$subset" --out "$work"
"$venv/bin/python" scripts/bench/staffing_pyworkforce.py "$work"
