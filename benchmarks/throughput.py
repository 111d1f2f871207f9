"""Throughput of N concurrent handler invocations (threads, one warm process) against the emulator's capacity.

The emulator's capacity is measured in the same run as raw boto3 `converse` calls from the same number of
threads; the ratio says how much of it the whole handler path keeps. The emulator runs in its own process
with its latency profile scaled (default 0.05: 12-30 ms per call), so threads overlap as they would on Bedrock.

    python benchmarks/throughput.py [--threads 16] [--requests 400] [--latency-scale 0.05]
"""

from __future__ import annotations

import argparse
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from _common import bedrock_env, emulator_process, machine, result, table


def run_pool(fn, n_requests: int, threads: int) -> tuple[float, int]:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        oks = sum(1 for ok in pool.map(lambda i: fn(i), range(n_requests)) if ok)
    return time.perf_counter() - start, oks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--latency-scale", type=float, default=0.05)
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    with emulator_process(latency_scale=args.latency_scale) as url, bedrock_env(url):
        import boto3
        from botocore.config import Config

        import handler
        from chains import build_runtime, get_chain

        runtime = build_runtime(backend="bedrock", notice=False)
        alias = get_chain("qa", runtime).invoke({"question": "warm up"})["route"]["model"]
        model_id = runtime.settings.models[alias].model_id
        client = boto3.client("bedrock-runtime", region_name="us-east-1",
                              config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64))

        def raw(i: int) -> bool:
            out = client.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": f"q{i}?"}]}],
                                  inferenceConfig={"maxTokens": 512})
            return bool(out["output"]["message"]["content"])

        def via_handler(i: int) -> bool:
            status, body = handler.handle({"chain": "qa", "input": {"question": f"q{i}?"}}, None, runtime=runtime)
            return status == 200 and bool(body["output"])

        raw(0), via_handler(0)
        rows = []
        raw_s, raw_ok = run_pool(raw, args.requests, args.threads)
        h_s, h_ok = run_pool(via_handler, args.requests, args.threads)
        raw_rps, h_rps = args.requests / raw_s, args.requests / h_s
        rows.append(["raw boto3 converse (emulator capacity)", args.threads, args.requests, raw_ok, raw_rps])
        rows.append(["handler qa", args.threads, args.requests, h_ok, h_rps])
    print(f"Throughput, {args.threads} threads in one process ({machine()}; emulator latency x{args.latency_scale})")
    print(table(["path", "threads", "requests", "answered", "req/s"], rows))
    print(f"\nhandler keeps {h_rps / raw_rps:.0%} of the emulator's capacity")
    result("throughput", f"handler req/s at {args.threads} threads", h_rps, "req/s", "raw boto3 req/s",
           h_rps / raw_rps)


if __name__ == "__main__":
    main()
