"""Bulk runs end to end on the emulator: 20,000 records through submit, the batch jobs, and collect.

    python benchmarks/bulk.py [--records 20000] [--out benchmarks/results/bulk.txt]

S3 is moto's S3 API server in its own process (its object store is not our memory); bedrock_local runs in this
process (in-process hooks), so the peak RSS below includes the emulator's batch threads: an upper bound for the
service alone. Figures:
- every record accounted for: exactly one result per input record (ids compared);
- peak RSS of this process (goal < 300 MB: the collector streams S3 objects, never a whole job in memory);
- submit throughput (plan + route every record + write the JSONL + create the jobs) and collect throughput
  (read the job outputs, write the results, stream them back), in records per second;
- cost at batch prices against the same records and tokens at on-demand prices (goal 0.5x, from the prices).
Half the records are pinned to nova_pro, so the run has two jobs (two models).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, result, table  # noqa: E402

_MOTO = ("from moto.server import ThreadedMotoServer; import sys, time; s = ThreadedMotoServer(ip_address='127.0.0.1', "
         "port=0, verbose=False); s.start(); print('http://%s:%d' % s.get_host_and_port(), flush=True); "
         "sys.stdin.read()")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--out", default=None, help="also write the report to this file")
    args = parser.parse_args()

    moto = subprocess.Popen([sys.executable, "-c", _MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        endpoint = moto.stdout.readline().strip()
        os.environ.update({"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1",
                           "BEDROCK_LOCAL_BATCH_SECONDS": "0.01"})
        report = run(args.records)
    finally:
        moto.stdin.close()
        moto.terminate()
        moto.wait(timeout=10)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n", encoding="utf-8")
    return 0


def run(n: int) -> str:
    import boto3

    from chains import build_runtime, get_chain
    from chains.bulk import collect, submit, wait

    runtime = build_runtime(backend="local", notice=False)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.session.Session().client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    chain = get_chain("qa", runtime)
    records = ({"record_id": f"r{i}", "input": {"question": f"What does ticket {i} ask about invoice {i * 7}?"},
                **({"options": {"model": "nova_pro"}} if i % 2 else {})} for i in range(n))
    base_rss = peak_rss_mb()

    t0 = time.perf_counter()
    run_ = submit(chain, records, f"s3://{bucket}/bench")
    submit_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    wait(run_, poll_seconds=0.2)
    jobs_s = time.perf_counter() - t1

    t2 = time.perf_counter()
    seen = set()
    dupes = answered = 0
    cost = od_cost = 0.0
    tokens = 0
    for r in collect(run_):
        rid = r["record_id"]
        dupes += rid in seen
        seen.add(rid)
        answered += bool(r.get("ok"))
        cost += r.get("cost_usd") or 0.0
        od_cost += r.get("on_demand_cost_usd") or 0.0
        tokens += (r.get("usage") or {}).get("total_tokens", 0)
    collect_s = time.perf_counter() - t2
    peak = peak_rss_mb()

    expected = {f"r{i}" for i in range(n)}
    accounted = seen == expected and dupes == 0
    ratio = cost / od_cost if od_cost else float("nan")
    rows = [
        ["records", n, ""],
        ["jobs", len(run_.jobs), ", ".join(f"{j['alias']}:{j['records']}" for j in run_.jobs)],
        ["results (unique / duplicates)", f"{len(seen)} / {dupes}", "every record exactly once" if accounted else "MISMATCH"],
        ["answered / failed", f"{answered} / {n - answered}", "failed records carry typed errors"],
        ["submit", f"{submit_s:.1f} s", f"{n / submit_s:,.0f} records/s (route, JSONL, S3, CreateModelInvocationJob)"],
        ["jobs (emulated)", f"{jobs_s:.1f} s", "BEDROCK_LOCAL_BATCH_SECONDS=0.01 per phase"],
        ["collect", f"{collect_s:.1f} s", f"{n / collect_s:,.0f} records/s (output -> results in S3 -> stream)"],
        ["peak RSS", f"{peak:.0f} MB", f"before submit {base_rss:.0f} MB; goal < 300 MB"],
        ["tokens", f"{tokens:,}", ""],
        ["cost at batch prices", f"${cost:.4f}", ""],
        ["same tokens on demand", f"${od_cost:.4f}", f"ratio {ratio:.3f} (goal 0.5)"],
    ]
    text = "\n".join([f"bulk run on bedrock_local + moto S3 server ({machine()})", "", table(["", "value", "note"], rows)])
    result("bulk", "records_accounted", float(accounted), "bool", goal="1", ok=accounted)
    result("bulk", "peak_rss", peak, "MB", goal="< 300", ok=peak < 300)
    result("bulk", "submit_throughput", n / submit_s, "records/s")
    result("bulk", "collect_throughput", n / collect_s, "records/s")
    result("bulk", "cost_vs_on_demand", ratio, "x", baseline="same tokens at on-demand prices", ratio=ratio,
           goal="0.5", ok=abs(ratio - 0.5) < 0.02)
    return text


if __name__ == "__main__":
    sys.exit(main())
