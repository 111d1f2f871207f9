"""Per-call overhead of bedrock_local, to subtract from later benchmarks.

Times boto3 ``converse`` (same request, same client settings) against:
  * a bare botocore stub: a before-send hook returning a canned Converse response
    (botocore serialises, signs and parses exactly as with the emulator, nothing else),
  * the emulator in-process (hook), latency_scale=0,
  * the emulator over HTTP on 127.0.0.1, latency_scale=0,
and prints ms per call and the ratio to the stub.  Usage:

    python benchmarks/emulator_overhead.py [--calls 300] [--stream]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.config import Config  # noqa: E402

from bedrock_local import Emulator  # noqa: E402

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Context: The emulator runs offline. "
                                                  "Question: where does it run?"}]}]
CONFIG = Config(retries={"total_max_attempts": 1})


class _Raw:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_):
        yield self._data

    def close(self):
        pass


def stub_client(session: boto3.Session):
    """botocore with a canned answer: the floor any Bedrock test pays."""
    canned = json.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": "It runs offline."}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 20, "outputTokens": 5, "totalTokens": 25},
        "metrics": {"latencyMs": 1}}).encode()
    client = session.client("bedrock-runtime", config=CONFIG)
    client.meta.events.register(
        "before-send.bedrock-runtime",
        lambda request, **_: AWSResponse(request.url, 200, {"Content-Type": "application/json"}, _Raw(canned)))
    return client


def measure(client, calls: int, stream: bool) -> float:
    def one():
        if stream:
            for _ in client.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]:
                pass
        else:
            client.converse(modelId=MODEL, messages=MESSAGES)

    for _ in range(min(20, calls)):  # warm-up: service model loading, connection pool
        one()
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls // 5):
            one()
        samples.append((time.perf_counter() - t0) / (calls // 5) * 1000)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--stream", action="store_true", help="also time converse_stream")
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    session = boto3.Session(region_name="us-east-1")

    # MODEL (Claude 3 Haiku) is at end of life in us-east-1; this measures transport overhead, not lifecycle.
    emu = Emulator(latency_scale=0.0, lifecycle=False)
    server = emu.serve()
    rows = []
    try:
        base = measure(stub_client(session), args.calls, stream=False)
        rows.append(("botocore stub (canned)", "converse", base))
        rows.append(("bedrock_local in-process", "converse",
                     measure(emu.attach(session.client("bedrock-runtime", config=CONFIG)), args.calls, False)))
        rows.append(("bedrock_local HTTP", "converse",
                     measure(session.client("bedrock-runtime", endpoint_url=server.url, config=CONFIG),
                             args.calls, False)))
        if args.stream:
            rows.append(("bedrock_local in-process", "converse_stream",
                         measure(emu.attach(session.client("bedrock-runtime", config=CONFIG)), args.calls, True)))
            rows.append(("bedrock_local HTTP", "converse_stream",
                         measure(session.client("bedrock-runtime", endpoint_url=server.url, config=CONFIG),
                                 args.calls, True)))
    finally:
        server.shutdown()

    print(f"boto3 converse, {args.calls} calls per row, median of 5 batches (latency_scale=0)")
    print(f"{'transport':<28}{'operation':<18}{'ms/call':>9}{'x stub':>8}{'overhead ms':>13}")
    for name, op, ms in rows:
        print(f"{name:<28}{op:<18}{ms:>9.3f}{ms / base:>8.2f}{ms - base:>13.3f}")
        if name != "bare botocore stub" and ms != base:
            # One machine-readable line per figure, collected by benchmarks/run_all.py.
            print("RESULT " + json.dumps({"benchmark": "emulator_overhead", "metric": f"{name} {op}",
                                          "value": round(ms, 4), "unit": "ms", "baseline": "bare botocore stub",
                                          "ratio": round(ms / base, 3), "goal": None, "ok": None}))


if __name__ == "__main__":
    main()
