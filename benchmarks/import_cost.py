"""What observability adds to a Lambda cold start: fresh-interpreter import and set-up times.

Each sample is a new interpreter (nothing cached in sys.modules), timed from inside it, so interpreter
start-up is left out. Variants, run interleaved so machine-load drift hits them alike:

  langchain_aws      ``import langchain_aws``                                the bare dependency (baseline)
  powertools         ``import aws_lambda_powertools``                        the package alone
  handler            ``import handler``                                      as shipped: no Powertools at import
  handler+obs        ``import handler`` + observability set-up (Logger JSON, Metrics imported): what the
                     first request adds with the default configuration
  handler+obs+xray   the same with tracing enabled (aws_xray_sdk, Tracer, botocore patched), in a simulated
                     Lambda environment so the Tracer is really built

    python benchmarks/import_cost.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _common import ROOT, machine, median, result, table

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
VARIANT = sys.argv[1]
if VARIANT == "langchain_aws":
    import langchain_aws
elif VARIANT == "powertools":
    import aws_lambda_powertools
else:
    import handler
t1 = time.perf_counter()
if VARIANT.startswith("handler+obs"):
    from chains import observability
    obs = observability.setup({"tracing": {"enabled": VARIANT.endswith("xray")}}, mode="lambda")
    import aws_lambda_powertools.metrics  # emit_metrics imports it on the first request
    if VARIANT.endswith("xray"):
        assert obs.tracer_or_none() is not None, "the Tracer was not built"
t2 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000, "setup_ms": (t2 - t1) * 1000,
                  "xray": "aws_xray_sdk" in sys.modules, "powertools": "aws_lambda_powertools" in sys.modules}))
"""

VARIANTS = ["langchain_aws", "powertools", "handler", "handler+obs", "handler+obs+xray"]


def sample(variant: str, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, variant], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9, help="fresh interpreters per variant")
    args = ap.parse_args()

    task_root = tempfile.mkdtemp(prefix="import-cost-")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CHAINS_", "POWERTOOLS_", "LANGSMITH", "LANGCHAIN", "_X_AMZN"))}
    # A Lambda-like environment: Powertools builds the Tracer only there.
    env.update(AWS_LAMBDA_FUNCTION_NAME="import-cost", LAMBDA_TASK_ROOT=task_root, AWS_REGION="us-east-1",
               _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
               PYTHONDONTWRITEBYTECODE="1")
    for v in VARIANTS:  # warm the OS file cache (and .pyc files) once, untimed
        sample(v, env)
    samples = {v: [] for v in VARIANTS}
    for _ in range(args.runs):
        for v in VARIANTS:
            samples[v].append(sample(v, env))

    def med(v: str, key: str = "total") -> float:
        if key == "total":
            return median([s["import_ms"] + s["setup_ms"] for s in samples[v]])
        return median([s[key] for s in samples[v]])

    base_lc, handler_ms = med("langchain_aws"), med("handler")
    rows = []
    for v in VARIANTS:
        rows.append([v, med(v, "import_ms"), med(v, "setup_ms"), med(v), med(v) / base_lc,
                     "yes" if all(s["powertools"] for s in samples[v]) else "no",
                     "yes" if all(s["xray"] for s in samples[v]) else "no"])
    print(f"Import and set-up cost, fresh interpreters, median of {args.runs} ({machine()})")
    print(table(["variant", "import ms", "setup ms", "total ms", "x langchain_aws", "powertools", "aws_xray_sdk"],
                rows))
    # The set-up is timed inside the same interpreter right after ``import handler``: a direct measure, free
    # of the run-to-run noise of the ~1 s import that a difference of totals would carry.
    added = med("handler+obs", "setup_ms")
    added_x = med("handler+obs+xray", "setup_ms") - added
    print(f"\nobservability (Logger+Metrics) adds {added:.0f} ms to the first request: "
          f"{added / handler_ms:.1%} of import handler, {added / base_lc:.1%} of import langchain_aws")
    print(f"tracing (X-Ray SDK + Tracer + botocore patch) adds {added_x:.0f} ms more when enabled")
    handler_has_powertools = any(s["powertools"] for s in samples["handler"])
    print(f"import handler loads Powertools: {'yes' if handler_has_powertools else 'no'}; loads aws_xray_sdk: "
          f"{'yes' if any(s['xray'] for s in samples['handler+obs']) else 'no'} with tracing off")

    result("import_cost", "import handler", handler_ms, "ms", baseline="import langchain_aws",
           ratio=handler_ms / base_lc)
    result("import_cost", "observability added (Logger+Metrics)", added, "ms", baseline="import handler",
           ratio=(handler_ms + added) / handler_ms, goal="< 10% of import handler", ok=added < 0.10 * handler_ms)
    result("import_cost", "tracing added when enabled (X-Ray)", added_x, "ms", baseline="import handler",
           ratio=(handler_ms + added + added_x) / handler_ms)
    result("import_cost", "aws_xray_sdk loaded with tracing off", float(any(s["xray"] for s in samples["handler+obs"])),
           "bool", goal="0", ok=not any(s["xray"] for s in samples["handler+obs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
