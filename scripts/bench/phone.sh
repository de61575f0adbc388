#!/usr/bin/env bash
# The phone benchmark of issue 3: a generated month of ~10 million queue_log lines,
# imported and reported by kefu, and the same figures computed by DuckDB from the
# same file, in one run. Usage: scripts/bench/phone.sh [CALLS] [WORKDIR]
# DuckDB comes from PyPI into a throw-away virtualenv; it is never a kefu dependency.
set -euo pipefail
cd "$(dirname "$0")/../.."
calls="${1:-3250000}"
work="${2:-/var/tmp/kefu-bench}"
month=2026-10
mkdir -p "$work"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/kefu-ci-target}"
cargo build --release --locked -p kefu >/dev/null
kefu="$CARGO_TARGET_DIR/release/kefu"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q duckdb
fi

log="$work/queue_log"
if [ ! -s "$log.$calls" ]; then
  "$kefu" generate calls --contract examples/contract.toml --month "$month" --calls "$calls" --out "$log.$calls"
fi
echo "file: $(wc -l < "$log.$calls") lines, $(du -h "$log.$calls" | cut -f1)"

rm -rf "$work/data"
db="sqlite://$work/data/kefu.db"
"$kefu" --db "$db" --data-dir "$work/data" contract load examples/contract.toml >/dev/null

measure() { # label, command…
  local label=$1; shift
  /usr/bin/time -f "$label: %e s wall, %M KB peak RSS" "$@"
}
measure "kefu import" "$kefu" --db "$db" --data-dir "$work/data" import --format queue-log "$log.$calls"
measure "kefu report" "$kefu" --db "$db" --data-dir "$work/data" report --period "$month" --format json --out "$work/report.json"
measure "duckdb (load + query)" "$work/venv/bin/python" scripts/bench/duckdb_phone.py "$log.$calls" "$month" Asia/Shanghai > "$work/duckdb.json"

"$work/venv/bin/python" - "$work/report.json" "$work/duckdb.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))["channels"]["phone"]
d = json.load(open(sys.argv[2]))
print(f"duckdb: CSV load {d['load_seconds']} s, query {d['query_seconds']} s, {d['rows']} rows")
pairs = [
    ("offered", k["offered"], d["offered"]),
    ("answered", k["answered"], d["answered"]),
    ("abandoned", k["abandoned"], d["abandoned"]),
    ("short abandons (<5 s)", k["short_abandoned"], d["short_abandoned"]),
    ("connection rate", [k["connection_rate_exact"]["numerator"], k["connection_rate_exact"]["denominator"]], d["connection_rate_exact"]),
    ("ASA (ms total, calls)", [k["asa_exact"]["numerator"], k["asa_exact"]["denominator"]], d["asa_exact_ms"]),
    ("answered within 20 s", k["service_level"]["exact"]["numerator"] if k["service_level"]["formula"] == "within_over_offered" else None, d["within_20"]),
]
same = True
for name, a, b in pairs:
    ok = a == b
    same &= ok
    print(f"  {name:26} kefu {a!s:>24}  duckdb {b!s:>24}  {'equal' if ok else 'DIFFERENT'}")
print("figures equal" if same else "FIGURES DIFFER")
sys.exit(0 if same else 1)
PY
