"""Run every benchmark and print one table of the headline figures.

Each script runs in its own process (so one's imports and warm state do not flatter another) and prints
its own detailed table; its `RESULT {...}` lines are gathered here. The full output of every script is
written to benchmarks/results/latest.txt, the summary table to stdout.

    python benchmarks/run_all.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import machine, table

HERE = Path(__file__).resolve().parent

# (script, quick arguments, full arguments). Order: cheap and independent first.
SCRIPTS = [
    ("emulator_overhead.py", [], []),
    ("overhead.py", ["--rounds", "10"], []),
    ("router_overhead.py", [], []),
    ("routing_eval.py", [], []),
    ("failover.py", [], []),
    ("compare_wall.py", [], []),
    ("estimator_error.py", [], []),
    ("summarize_long.py", [], []),
    ("throughput.py", ["--requests", "200"], []),
    ("load.py", ["--requests", "300"], []),
    ("import_cost.py", [], []),
    ("cold_start.py", [], []),
    ("peers.py", ["--rounds", "5", "--failovers", "5"], []),
    ("cache.py", [], []),
    ("soak.py", ["--requests", "200", "--soak", "1000"], []),  # full: ~4 min (hostile events, 20,000-request soak)
]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier figures)")
    ap.add_argument("--only", nargs="*", help="script names to run (default: all)")
    args = ap.parse_args()

    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    log = open(out_dir / "latest.txt", "w", encoding="utf-8")
    rows, failures = [], []
    for script, quick, full in SCRIPTS:
        if args.only and script not in args.only and script.removesuffix(".py") not in args.only:
            continue
        if not (HERE / script).exists():
            print(f"-- {script}: missing, skipped", file=sys.stderr)
            continue
        started = time.perf_counter()
        print(f"-- {script} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, str(HERE / script), *(quick if args.quick else full)],
                              cwd=HERE.parent, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        log.write(f"===== {script} ({elapsed:.0f} s, exit {proc.returncode})\n{proc.stdout}\n{proc.stderr[-4000:]}\n")
        log.flush()
        if proc.returncode != 0:
            failures.append(script)
            print(f"   {script} FAILED (exit {proc.returncode}); see {out_dir / 'latest.txt'}", file=sys.stderr)
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT "):
                r = json.loads(line[len("RESULT "):])
                rows.append([r["benchmark"], r["metric"], _v(r["value"]), r["unit"], r.get("baseline") or "",
                             "" if r.get("ratio") is None else f"{r['ratio']:.3f}", r.get("goal") or "",
                             {True: "yes", False: "NO", None: ""}[r.get("ok")]])
    print(f"Bedrock Chains benchmarks ({machine()}; {'quick' if args.quick else 'full'} run)")
    print(table(["benchmark", "figure", "value", "unit", "baseline", "ratio", "goal", "met"], rows))
    if failures:
        print(f"\nfailed: {', '.join(failures)}")
    return 1 if failures else 0


def _v(x: float) -> str:
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.0f}"


if __name__ == "__main__":
    sys.exit(main())
