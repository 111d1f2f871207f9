"""Issue 15's figures: hostile input, concurrency with faults and deadlines, and a long offline soak (RSS).

1. Hostile input: every event of a generated hostile set (wrong types, huge names and values, non-finite
   numbers, bad ``timeout_ms``, non-object bodies, deep nesting, oversized events, long chats, unknown chains,
   models and options), direct and as Function URL bodies, through ``handler.lambda_handler``. Counts escaped
   exceptions, 500s, non-strict JSON bodies, the largest body and the CPU time of the worst event.
2. Concurrency: N ``qa`` requests from 32 threads on the in-process emulator while every model throttles 10%
   of calls, answers 503 to 2%, and 5% of calls take 2 s; each request has ``timeout_ms`` 1000. Counts
   answered, typed errors, untyped ones, cross-talk (each answer must quote its own request's code word) and
   answers later than the deadline + 0.5 s.
3. Soak: M sequential offline requests (qa, chat, summarize, compare, a bad request every 10th) on one runtime;
   RSS sampled every M/10 requests. Flat: the growth after the first tenth stays within a few MB.

Not part of the test suite (it runs for a few minutes); tests/reliability/ asserts the same properties on
small numbers.

    python benchmarks/soak.py [--requests 2000] [--soak 20000]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import resource
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("LOG_LEVEL", "CRITICAL")  # one log line per request would dominate the CPU figures
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_ENDPOINT_URL",
              "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "S3_BUCKET_NAME"):
    os.environ.pop(_name, None)
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import psutil  # noqa: E402

from _common import machine, result, table  # noqa: E402

QA = {"question": "Which family is Nova from?", "context": "Amazon Nova is Amazon's own family of models."}


class Context:
    function_name = "bedrock-chains"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bedrock-chains"

    def __init__(self, remaining_ms: int = 30_000) -> None:
        self.aws_request_id = uuid.uuid4().hex
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


def hostile_events() -> list:
    big = "x" * 5_000_000
    values = [None, True, 0, -1, 1.5, math.nan, math.inf, -math.inf, "", "1000", 1000.0, [], {}, [1, 2],
              {"a": {"b": {"c": 1}}}, "\ud800", "{x}", "{{", "{% if %}", "../config", "a" * 10_000, big]
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    events: list = [None, 1, "s", [], [1], True, deep]
    for chain in ("qa", "chat", "summarize", "compare", "agent", "nope", big):
        events.append({"chain": chain})
        for v in values:
            events.append({"chain": chain, "input": v})
            events.append({"chain": chain, "input": {"question": v, "text": v, "messages": v}})
            events.append({"chain": chain, "input": dict(QA), "options": v})
            for option in ("timeout_ms", "model", "models", "max_tokens", "temperature", "prompt", big):
                events.append({"chain": chain, "input": dict(QA), "options": {option: v}})
    events += [
        {"chain": "qa", "input": {**QA, big: 1}},
        {"chain": "compare", "input": {"question": "q"}, "options": {"models": ["nope"] * 100_000}},
        {"chain": "chat", "input": {"messages": [{"role": "user", "content": "hi"}] * 100_000}},
        {"chain": "chat", "input": {"messages": [{"role": ["user"], "content": "hi"}]}},
        {"chain": "chat", "input": {"messages": [{"role": {"a": 1}, "content": "hi"}]}},
        {"chain": "summarize", "input": {"text": 12345}},
        {"chain": "qa", "input": {**QA, "context": "y" * 7_000_000}},
        {"chain": "qa", big: 1},
    ]
    http = []
    for body in ['{"chain": "qa", "input": {"question": "q"}, "options": {"max_cost_usd": Infinity}}',
                 '{"chain": "qa", "input": {"question": NaN}}', '"just a string"', "[1, 2]", "{not json", "",
                 "\ud800", '{"chain": "qa", "input": {"question": "q"}, "options": {"timeout_ms": 1e309}}',
                 "[" * 100_000 + "]" * 100_000]:
        http.append({"rawPath": "/", "requestContext": {"http": {"method": "POST"}}, "body": body})
    for event in events[:200]:
        try:
            http.append({"rawPath": "/", "requestContext": {"http": {"method": "POST"}},
                         "body": json.dumps(event, allow_nan=True)})
        except (ValueError, RecursionError, TypeError):
            pass
    return events + http


def strict(text: str) -> bool:
    def refuse(name):
        raise ValueError(name)

    try:
        json.loads(text, parse_constant=refuse)
        return True
    except ValueError:
        return False


def hostile() -> dict:
    import handler

    events = hostile_events()
    escaped = five_hundreds = not_strict = 0
    largest = 0
    worst_cpu = 0.0
    statuses: dict = {}
    for event in events:
        cpu = time.process_time()
        try:
            response = handler.lambda_handler(event, Context())
        except BaseException:  # noqa: BLE001 - counted, the point of the figure
            escaped += 1
            continue
        worst_cpu = max(worst_cpu, time.process_time() - cpu)
        if isinstance(response, dict) and "statusCode" in response:
            status, text = response["statusCode"], response["body"]
            not_strict += 0 if strict(text) else 1
        else:
            status = (response.get("error") or {}).get("status", 200) if isinstance(response, dict) else 0
            text = json.dumps(response, default=str)
        statuses[status] = statuses.get(status, 0) + 1
        five_hundreds += status == 500
        largest = max(largest, len(text))
    return {"events": len(events), "escaped": escaped, "500s": five_hundreds, "not_strict_json": not_strict,
            "largest_body_bytes": largest, "worst_cpu_s": round(worst_cpu, 3), "statuses": statuses}


def concurrency(n: int, threads: int = 32) -> dict:
    import handler
    from chains import build_runtime

    runtime = build_runtime(backend="local", notice=False)
    emulator = runtime.factory.emulator
    emulator.add_fault("*", error="ThrottlingException", rate=0.10)
    emulator.add_fault("*", error="ServiceUnavailableException", rate=0.02)
    emulator.add_fault("*", latency_ms=2000, rate=0.05)
    timeout_s = 1.0

    def one(i: int):
        token = uuid.uuid4().hex[:12]
        event = {"chain": "qa", "options": {"timeout_ms": int(timeout_s * 1000)},
                 "input": {"question": f"What is the code word {token}?",
                           "context": f"The code word {token} belongs to request {i}."}}
        start = time.perf_counter()
        try:
            status, body = handler.handle(event, Context(), runtime=runtime)
        except BaseException:  # noqa: BLE001
            return "untyped", False, time.perf_counter() - start
        took = time.perf_counter() - start
        if status == 200:
            return "answered", token not in body["output"], took
        return ("typed" if body["error"]["type"] != "InternalError" else "untyped"), False, took

    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(one, range(n)))
    late = sum(1 for _, _, took in outcomes if took > timeout_s + 0.5)
    return {"requests": n, "answered": sum(o == "answered" for o, _, _ in outcomes),
            "typed_errors": sum(o == "typed" for o, _, _ in outcomes),
            "untyped": sum(o == "untyped" for o, _, _ in outcomes),
            "cross_talk": sum(1 for _, crossed, _ in outcomes if crossed),
            "late_over_deadline_plus_0_5s": late,
            "max_s": round(max(t for _, _, t in outcomes), 2)}


def soak(m: int) -> dict:
    import handler
    from chains import build_runtime

    runtime = build_runtime(backend="local", notice=False)
    proc = psutil.Process()
    rng = random.Random(0)
    events = [
        {"chain": "qa", "input": QA},
        {"chain": "chat", "input": {"messages": [{"role": "user", "content": "Hi, what is Nova?"},
                                                 {"role": "assistant", "content": "A model family."},
                                                 {"role": "user", "content": "From whom?"}]}},
        {"chain": "summarize", "input": {"text": "Amazon Nova is a family of models. " * 40}},
        {"chain": "compare", "input": {"question": "Which family is Amazon Nova?"}, "options": {"judge": False}},
    ]
    bad = {"chain": "qa", "input": {"nope": 1}}
    samples = []
    step = max(1, m // 10)
    start = time.perf_counter()
    errors = 0
    for i in range(m):
        event = bad if i % 10 == 9 else events[rng.randrange(len(events))]
        status, _ = handler.handle(event, Context(), runtime=runtime)
        errors += status >= 500
        if (i + 1) % step == 0:
            gc.collect()
            samples.append((i + 1, proc.memory_info().rss / 1e6))
    took = time.perf_counter() - start
    first = samples[0][1]
    return {"requests": m, "500s": errors, "seconds": round(took, 1), "rss_mb": samples,
            "growth_after_first_tenth_mb": round(samples[-1][1] - first, 1),
            "max_rss_mb": round(max(r for _, r in samples), 1),
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--soak", type=int, default=20000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    h = hostile()
    print("\nhostile input:", json.dumps({k: v for k, v in h.items()}, default=str))
    result("soak", "hostile_escaped_exceptions", h["escaped"], "count", goal="0", ok=h["escaped"] == 0)
    result("soak", "hostile_500s", h["500s"], "count", goal="0", ok=h["500s"] == 0)
    c = concurrency(args.requests)
    print("\nconcurrency:", json.dumps(c))
    result("soak", "concurrency_cross_talk", c["cross_talk"], "count", goal="0", ok=c["cross_talk"] == 0)
    result("soak", "concurrency_untyped", c["untyped"], "count", goal="0", ok=c["untyped"] == 0)
    s = soak(args.soak)
    print("\nsoak:")
    print(table(["requests", "RSS MB"], [[n, f"{r:.1f}"] for n, r in s["rss_mb"]]))
    print(json.dumps({k: v for k, v in s.items() if k != "rss_mb"}))
    result("soak", "rss_growth_after_first_tenth", s["growth_after_first_tenth_mb"], "MB", goal="< 10 (flat)",
           ok=s["growth_after_first_tenth_mb"] < 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
