"""Issue 15, deadlines: one absolute deadline per request (chains.deadline), set at the entry, and every
outbound call gets what is left: the agent's calls in flight and its tool chains, client building on a cold
start, the S3 copy of a comparison, the tracing flush, and ``options.timeout_ms`` validated before it is capped.

No sleeping beyond the deadlines under test: slow and hung models are the emulator's latency faults. The only
timing assertion is behaviour: the answer came before the deadline plus a generous margin (2-core CI).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import chains.deadline as deadline
import handler
from helpers.lambda_context import FakeLambdaContext
from chains import get_chain



ROOT = Path(__file__).resolve().parents[2]
MARGIN_S = 1.5  # scheduling slack on a loaded 2-core runner; the models take 3 s to 60 s
QA = {"chain": "qa", "input": {"question": "Which family is Nova from?", "context": "Amazon Nova is Amazon's."}}
AGENT = {"chain": "agent", "input": {"question": "Which family is Nova from? Use the qa tool."}}


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


# --- the agent ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("latency_ms", [3000, 60000], ids=["slow-3s", "hung-60s"])
def test_the_agent_answers_504_before_the_deadline_with_a_model_call_in_flight(runtime, emulator, latency_ms):
    handler.handle(AGENT, None, runtime=runtime)  # warm: the graph and clients exist
    emulator.add_fault("*", latency_ms=latency_ms)
    (status, body), took = timed(lambda: handler.handle({**AGENT, "options": {"timeout_ms": 1000}}, None,
                                                        runtime=runtime))
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded"
    assert took < 1.0 + MARGIN_S, f"answered after {took:.1f} s with a 1 s deadline"


def test_a_tool_chain_inside_the_agent_gets_only_the_time_left(runtime, emulator):
    """The tool chains run under the outer request's deadline (the context variable), not a fresh one."""
    qa = get_chain("qa", runtime)
    qa.invoke(QA["input"])  # warm
    emulator.add_fault("*", latency_ms=3000)
    at = time.perf_counter() + 0.8
    with deadline.scope(at):
        assert qa.parse(QA["input"]).deadline == at  # no options.timeout_ms of its own: the outer one
        start = time.perf_counter()
        with pytest.raises(Exception) as info:
            qa.invoke(QA["input"])
        took = time.perf_counter() - start
    assert type(info.value).__name__ == "DeadlineExceeded"
    assert took < 0.8 + MARGIN_S
    # Its own shorter timeout narrows it; a longer one cannot extend the outer deadline.
    with deadline.scope(at):
        assert qa.parse({**QA["input"], "options": {"timeout_ms": 60_000}}).deadline == at


# --- the entry: cold start counts ---------------------------------------------------------------------------------

def test_the_deadline_is_read_before_the_runtime_and_clients_are_built(clean_env):
    """A cold container: configuration, imports and clients are built inside the request's deadline."""
    from chains import reset_default_runtime

    clean_env.setenv("CHAINS_BACKEND", "local")
    clean_env.setenv("BEDROCK_LOCAL_FAULTS", json.dumps({"model": "*", "latency_ms": 5000}))
    reset_default_runtime()
    calls = []

    class Context(FakeLambdaContext):
        def get_remaining_time_in_millis(self):
            from chains import registry

            calls.append(registry._default_runtime is None)
            return 2000  # 1.5 s after the 500 ms reserve

    (status, body), took = timed(lambda: handler.handle(QA, Context()))
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded"
    assert took < 1.5 + MARGIN_S, f"answered after {took:.1f} s with 1.5 s left"
    assert calls and calls[0] is True  # Lambda's time was read before the default runtime existed


# --- options.timeout_ms ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf, 1.5, True, "1000", 1000.0],
                         ids=["0", "-1", "NaN", "Infinity", "1.5", "true", "'1000'", "1000.0"])
def test_an_invalid_timeout_ms_is_a_400_on_the_lambda_path_too(runtime, lambda_context, value):
    status, body = handler.handle({**QA, "options": {"timeout_ms": value}}, lambda_context, runtime=runtime)
    assert status == 400 and body["error"]["type"] == "BadRequest"
    assert "timeout_ms" in body["error"]["message"]
    # and the same called directly
    status2, body2 = handler.handle({**QA, "options": {"timeout_ms": value}}, None, runtime=runtime)
    assert status2 == 400 and "timeout_ms" in body2["error"]["message"]


def test_a_valid_timeout_ms_is_capped_by_lambdas_time(runtime, emulator):
    emulator.add_fault("*", latency_ms=3000)
    ctx = FakeLambdaContext(remaining_ms=1500)  # 1 s after the reserve, less than the caller's 60 s
    (status, body), took = timed(lambda: handler.handle({**QA, "options": {"timeout_ms": 60000}}, ctx,
                                                        runtime=runtime))
    assert status == 504 and took < 1.0 + MARGIN_S
    assert body["error"]["timeout_ms"] <= 1000


# --- the S3 copy of a comparison ---------------------------------------------------------------------------------

@pytest.fixture
def silent_endpoint():
    """A TCP endpoint that accepts connections and never answers (a bucket endpoint that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    server.close()


def test_a_bucket_that_never_answers_costs_only_the_time_left(runtime, clean_env, silent_endpoint):
    event = {"chain": "compare", "input": {"question": "Which family is Amazon Nova?"},
             "options": {"models": ["nova_pro"], "judge": False, "timeout_ms": 2500}}
    handler.handle({**event, "options": {"models": ["nova_pro"], "judge": False}}, None, runtime=runtime)  # warm
    clean_env.setenv("S3_BUCKET_NAME", "comparisons-test")
    clean_env.setenv("AWS_ENDPOINT_URL_S3", silent_endpoint)
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    (status, body), took = timed(lambda: handler.handle(event, None, runtime=runtime))
    assert status == 200 and body["ok"] is True and body["output"]
    assert took < 2.5 + MARGIN_S, f"answered after {took:.1f} s with 2.5 s allowed"
    storage = body["storage"]
    assert storage["ok"] is False and storage["error"]["type"] == "Timeout"
    assert "127.0.0.1" not in json.dumps(storage)  # no endpoint URL in the body


def test_no_time_left_skips_the_s3_copy_with_storage_error(runtime, clean_env, s3_bucket):
    from chains.strategies.compare.storage import store_comparison

    client, bucket = s3_bucket
    clean_env.setenv("S3_BUCKET_NAME", bucket)
    chain = get_chain("compare", runtime)
    request = chain.parse({"question": "q"})
    request.deadline_at = time.perf_counter() - 0.01  # already past
    section = store_comparison(chain, request, {"metadata": {"request_id": "r-late"}}, {"output": "x"})
    assert section["ok"] is False and section["error"]["type"] == "Timeout"
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0  # not attempted


# --- the tracing flush -------------------------------------------------------------------------------------------

def test_the_tracing_flush_is_bounded_by_the_time_left_and_says_so(silent_endpoint):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGSMITH_", "LANGCHAIN_"))}
    env.update(CHAINS_BACKEND="local", BEDROCK_LOCAL_LIFECYCLE="0", LANGSMITH_TRACING="true",
               LANGSMITH_ENDPOINT=silent_endpoint, LANGSMITH_API_KEY="lsv2_fake_0123456789",
               AWS_EC2_METADATA_DISABLED="true", PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}")
    script = """
        import sys, time
        import handler
        from helpers.lambda_context import FakeLambdaContext
        start = time.perf_counter()
        status, body = handler.handle({"chain": "qa", "input": {"question": "q"}}, FakeLambdaContext("r1", 3500))
        print("TOOK", round(time.perf_counter() - start, 2), status, file=sys.stderr, flush=True)
        start = time.perf_counter()  # no Lambda context: options.timeout_ms is the deadline the flush respects
        status, body = handler.handle({"chain": "qa", "input": {"question": "q"}, "options": {"timeout_ms": 2000}})
        print("TOOK2", round(time.perf_counter() - start, 2), status, file=sys.stderr, flush=True)
        import os
        os._exit(0)  # LangSmith's exit hook would wait for the endpoint that never answers
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)
    took_line = [line for line in proc.stderr.splitlines() if line.startswith("TOOK")]
    assert took_line, proc.stderr[-3000:]
    _, took, status = took_line[0].split()
    assert status == "200"
    assert float(took) < 3.0 + MARGIN_S + 1.0, proc.stderr[-3000:]  # + the process's first imports
    assert "LangSmith flush bounded by the request's deadline" in proc.stderr + proc.stdout
    _, took2, status2 = next(line for line in proc.stderr.splitlines() if line.startswith("TOOK2")).split()
    assert status2 == "200" and float(took2) < 2.0 + MARGIN_S, proc.stderr[-3000:]
