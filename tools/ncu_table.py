"""Sums an Nsight Compute CSV (`ncu --metrics gpu__time_duration.sum --csv`) per kernel.

python3 tools/ncu_table.py ncu.csv [CALLS]: one line per kernel (ms per call, share,
launches per call), largest first; CALLS divides the totals (the calls profiled).
"""
import csv
import sys
from collections import defaultdict


def main():
    path = sys.argv[1]
    calls = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    with open(path, newline="") as f:
        lines = [l for l in f if l.startswith('"')]
    rows = csv.DictReader(lines)
    time_ns = defaultdict(float)
    launches = defaultdict(set)
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        name = r["Kernel Name"].split("(")[0].split("<")[0].strip()
        value = float(r["Metric Value"].replace(",", ""))
        unit = r.get("Metric Unit", "nsecond")
        scale = {"nsecond": 1.0, "usecond": 1e3, "msecond": 1e6, "second": 1e9}.get(unit, 1.0)
        time_ns[name] += value * scale
        launches[name].add(r["ID"])
    total = sum(time_ns.values())
    print(f"{'kernel':<44} {'ms/call':>9} {'share':>6} {'launches':>9}")
    for name, t in sorted(time_ns.items(), key=lambda kv: -kv[1]):
        print(f"{name[:44]:<44} {t / 1e6 / calls:9.2f} {100 * t / total:5.1f}% {len(launches[name]) / calls:9.1f}")
    print(f"{'total':<44} {total / 1e6 / calls:9.2f}")


if __name__ == "__main__":
    main()
