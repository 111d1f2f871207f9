"""The reliability suite's load scenario, with its figures: 1,000 `qa` requests from 32 threads while every
model throttles 10% of calls and answers 503 to 2% (bedrock_local over HTTP, its own process, latency x0.05).

Prints how many requests were answered, how many needed a fallback, how many got a typed error, latency
percentiles against the same requests with no faults (the baseline, same run), and memory growth.
tests/reliability/test_load.py asserts the same properties (in-process, no timing).

    python benchmarks/load.py [--requests 1000] [--threads 32]
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil

from _common import bedrock_env, emulator_process, machine, median, p90, result, table

FAULTS = [{"model": "*", "error": "ThrottlingException", "rate": 0.10},
          {"model": "*", "error": "ServiceUnavailableException", "rate": 0.02}]


def run(url: str, n: int, threads: int) -> dict:
    import handler
    from chains import build_runtime

    with bedrock_env(url):
        runtime = build_runtime(backend="bedrock", notice=False)

        def one(i: int):
            token = uuid.uuid4().hex[:12]
            event = {"chain": "qa", "input": {"question": f"What is the code word {token}?",
                                              "context": f"The code word {token} belongs to request {i}."}}
            t = time.perf_counter()
            status, body = handler.handle(event, None, runtime=runtime)
            ms = (time.perf_counter() - t) * 1000.0
            own = status != 200 or token in body["output"]
            return status, bool(body.get("attempts")), own, ms, (body.get("error") or {}).get("type")

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(threads * 2)))  # warm: clients, imports
        gc.collect()
        rss0 = psutil.Process().memory_info().rss
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            rows = list(pool.map(one, range(n)))
        wall = time.perf_counter() - start
        gc.collect()
        growth = (psutil.Process().memory_info().rss - rss0) / 2**20
    ms = [r[3] for r in rows]
    return {
        "answered": sum(r[0] == 200 for r in rows), "fell_back": sum(r[0] == 200 and r[1] for r in rows),
        "typed_errors": sum(r[0] != 200 and r[4] is not None for r in rows),
        "untyped": sum(r[0] != 200 and r[4] is None for r in rows), "cross_talk": sum(not r[2] for r in rows),
        "p50": median(ms), "p90": p90(ms), "p99": sorted(ms)[int(0.99 * (len(ms) - 1))], "rps": n / wall,
        "rss_growth_mb": growth, "errors": sorted({r[4] for r in rows if r[4]}),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--latency-scale", type=float, default=0.05)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)

    with emulator_process(latency_scale=args.latency_scale) as url:
        clean = run(url, args.requests, args.threads)
    with emulator_process(latency_scale=args.latency_scale, faults=FAULTS) as url:
        faulty = run(url, args.requests, args.threads)

    print(f"Load: {args.requests} qa requests, {args.threads} threads, one process ({machine()}; "
          f"bedrock_local over HTTP, latency x{args.latency_scale})")
    rows = []
    for name, r in (("no faults (baseline)", clean), ("10% throttling + 2% 503 on every model", faulty)):
        rows.append([name, r["answered"], r["fell_back"], r["typed_errors"], r["untyped"], r["cross_talk"],
                     r["p50"], r["p99"], r["rps"], r["rss_growth_mb"]])
    print(table(["scenario", "answered", "via fallback", "typed errors", "untyped", "cross-talk", "p50 ms",
                 "p99 ms", "req/s", "RSS +MB"], rows))
    if faulty["errors"]:
        print(f"error types: {', '.join(faulty['errors'])}")
    n = args.requests
    result("load", "answered under faults", 100.0 * faulty["answered"] / n, "%", None, None, "all answered or typed",
           faulty["answered"] + faulty["typed_errors"] == n)
    result("load", "answered via fallback", 100.0 * faulty["fell_back"] / n, "%")
    result("load", "cross-talk (answer from another request)", faulty["cross_talk"], "requests", None, None, "0",
           faulty["cross_talk"] == 0)
    result("load", "p99 latency under faults", faulty["p99"], "ms", "no faults", faulty["p99"] / clean["p99"])
    result("load", "RSS growth over the run", faulty["rss_growth_mb"], "MB")


if __name__ == "__main__":
    main()
