"""The pyworkforce side of scripts/bench/staffing.sh: Erlang C required
positions for the subset of intervals kefu wrote, timed per interval, and
compared with kefu's answers. pyworkforce takes minutes and calls the
service-level threshold "asa"."""
import csv
import json
import sys
import time
from fractions import Fraction

from pyworkforce.queuing import ErlangC

work = sys.argv[1]
rows = list(csv.DictReader(open(f"{work}/subset.csv")))
kefu = json.load(open(f"{work}/kefu.json"))

mismatches = []
started = time.perf_counter()
for r in rows:
    e = ErlangC(
        transactions=float(r["calls"]),
        aht=float(r["aht_seconds"]) / 60,
        asa=float(r["threshold_seconds"]) / 60,
        interval=float(r["interval_seconds"]) / 60,
        shrinkage=float(r["shrinkage"]),
    )
    got = e.required_positions(
        service_level=float(r["target_sl"]), max_occupancy=float(r["max_occupancy"])
    )
    if (got["raw_positions"], got["positions"]) != (int(r["kefu_raw"]), int(r["kefu_positions"])):
        mismatches.append((r, got["raw_positions"], got["positions"]))


def occupancy_tie(r):
    """A / max_occupancy a whole number in exact arithmetic: pyworkforce's
    ceil(A / max) then rounds up the division's float error, kefu counts the
    tie as meeting the target."""
    a = Fraction(r["calls"]) * Fraction(r["aht_seconds"]) / Fraction(r["interval_seconds"])
    q = a / Fraction(r["max_occupancy"])
    return q.denominator == 1 and int(r["kefu_raw"]) == q


ties = [m for m in mismatches if occupancy_tie(m[0])]
unexplained = [m for m in mismatches if not occupancy_tie(m[0])]
elapsed = time.perf_counter() - started
py_ns = elapsed * 1e9 / len(rows)
ratio = py_ns / kefu["ns_per_interval"]
print(
    f"pyworkforce: {len(rows)} intervals in {elapsed:.2f} s = {py_ns / 1000:.1f} µs per interval"
)
print(f"kefu is {ratio:,.0f}x faster per interval (target >= 200x)")
print(f"same required agents (raw and with shrinkage): {len(rows) - len(mismatches)} / {len(rows)}")
print(f"  differing where A / max occupancy is exactly a whole number (pyworkforce rounds its float error up): {len(ties)}")
print(f"  differing otherwise: {len(unexplained)}")
for r, raw, pos in (unexplained + ties)[:10]:
    print(f"  differs: {dict(r)} -> pyworkforce raw {raw}, positions {pos}")
json.dump(
    {
        "pyworkforce_intervals": len(rows),
        "pyworkforce_ns_per_interval": py_ns,
        "kefu_ns_per_interval": kefu["ns_per_interval"],
        "ratio": ratio,
        "mismatches": len(mismatches),
        "occupancy_ties": len(ties),
    },
    open(f"{work}/comparison.json", "w"),
)
sys.exit(1 if unexplained else 0)
