"""Deadlines (Lambda's remaining time and options.timeout_ms), botocore's retry and timeout settings per model,
and transport errors over real HTTP against a bedrock_local server."""

from __future__ import annotations

import pytest

import handler
from chains import build_runtime, load_config


@pytest.fixture
def ctx(lambda_context):
    """FakeLambdaContext from tests/conftest.py with a chosen remaining time."""
    return lambda remaining_ms: type(lambda_context)(remaining_ms=remaining_ms)

HAIKU, NOVA, SONNET = "claude_haiku", "nova_pro", "claude_sonnet"
EVENT = {"chain": "qa", "input": {"question": "What is Amazon S3?"}}  # routed: haiku, nova_pro, sonnet


@pytest.fixture
def runtime(runtime):
    """Warm: the chain, its clients and models built before the test. Since issue 15 the request's deadline
    starts at the entry, so a cold start's building counts against it (tests/reliability/test_deadlines.py);
    these tests are about the calls, so they start warm, with an empty call log."""
    for alias in (HAIKU, NOVA, SONNET):
        handler.handle({**EVENT, "options": {"model": alias, "fallbacks": False}}, None, runtime=runtime)
    runtime.factory.emulator.reset_calls()
    return runtime


def calls(emulator):
    return {m: len(emulator.calls_for(m)) for m in (HAIKU, NOVA, SONNET)}


def test_the_lambda_deadline_ends_a_slow_call_with_a_clean_504(runtime, emulator, ctx):
    # 900 ms left, minus the handler's 500 ms reserve: the chain has 400 ms; haiku answers after 1.5 s.
    emulator.add_fault(HAIKU, latency_ms=1500)
    status, body = handler.handle(dict(EVENT), ctx(900), runtime=runtime)
    assert status == 504, body
    err = body["error"]
    assert err["type"] == "DeadlineExceeded" and err["timeout_ms"] <= 400
    [attempt] = err["attempts"]
    assert attempt["alias"] == HAIKU and attempt["error_class"] == "deadline"
    assert calls(emulator)[NOVA] == 0 and calls(emulator)[SONNET] == 0  # no attempt that could not finish


def test_no_attempt_starts_without_the_time_it_needs(runtime, emulator, ctx):
    # 600 ms left: 100 ms for the chain, under resilience.min_attempt_ms (250): nothing is called.
    status, body = handler.handle(dict(EVENT), ctx(600), runtime=runtime)
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded"
    assert emulator.calls == [] and body["error"]["attempts"] == []


def test_the_callers_timeout_ms_is_a_deadline_too(runtime, emulator):
    emulator.add_fault(HAIKU, latency_ms=1000)
    status, body = handler.handle({**EVENT, "options": {"timeout_ms": 300}}, None, runtime=runtime)
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded"
    assert body["error"]["attempts"][0]["error_class"] == "deadline"


def test_no_fallback_starts_when_the_time_left_is_too_short(runtime, emulator):
    # Haiku is throttled after 300 ms; with a 500 ms deadline, 200 ms would be left: nova is not started.
    emulator.add_fault(HAIKU, error="ThrottlingException", latency_ms=300)
    status, body = handler.handle({**EVENT, "options": {"timeout_ms": 500}}, None, runtime=runtime)
    assert status == 504, body
    assert [a["error_class"] for a in body["error"]["attempts"]] == ["throttled"]
    assert calls(emulator) == {HAIKU: 1, NOVA: 0, SONNET: 0}


def test_a_fallback_that_fits_the_deadline_answers(runtime, emulator, ctx):
    emulator.add_fault(HAIKU, error="ThrottlingException")
    status, body = handler.handle(dict(EVENT), ctx(5000), runtime=runtime)
    assert status == 200 and body["route"]["answered_by"] == NOVA
    assert calls(emulator) == {HAIKU: 1, NOVA: 1, SONNET: 0}


def test_a_late_answer_after_the_deadline_does_not_leak_into_the_next_request(runtime, emulator):
    emulator.add_fault(HAIKU, latency_ms=600, first_n=1)
    status, _ = handler.handle({**EVENT, "options": {"timeout_ms": 300}}, None, runtime=runtime)
    assert status == 504
    second = {"question": "What is the code word?", "context": "The code word is PLUM-42."}
    status, body = handler.handle({"chain": "qa", "input": second}, None, runtime=runtime)
    assert status == 200 and "PLUM-42" in body["output"]
    [own] = [c for c in emulator.calls if "PLUM-42" in str(c.body)]
    assert body["usage"]["input_tokens"] == own.input_tokens


def _runtime_with(clean_env, **retry):
    data = load_config(env={}).model_dump()
    data["models"][HAIKU]["retry"] = {**data["models"][HAIKU]["retry"], **retry}
    return data


def test_botocore_retries_are_configured_per_model(clean_env):
    # Haiku allows 2 tries (one botocore retry), the others 1: a throttled haiku gets 2 HTTP calls, then nova.
    rt = build_runtime(_runtime_with(clean_env, total_max_attempts=2), backend="local", notice=False)
    emu = rt.factory.emulator
    emu.add_fault(HAIKU, error="ThrottlingException")
    status, body = handler.handle(dict(EVENT), None, runtime=rt)
    assert status == 200 and body["route"]["answered_by"] == NOVA
    assert calls(emu) == {HAIKU: 2, NOVA: 1, SONNET: 0}
    assert len(body["attempts"]) == 1  # one attempt at our level: the retry is botocore's, inside it


@pytest.fixture
def http_emulator(clean_env):
    """A bedrock_local HTTP server and the environment that points boto3 at it (real sockets, real timeouts)."""
    from bedrock_local import Emulator, load_profiles

    emu = Emulator(profiles=load_profiles({"models": load_config(env={}).model_dump()["models"]}))
    server = emu.serve()
    clean_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    clean_env.setenv("AWS_ACCESS_KEY_ID", "bedrock-local")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "bedrock-local")
    yield emu
    server.shutdown()


def test_a_read_timeout_falls_over_it_is_not_a_client_error(clean_env, http_emulator):
    data = _runtime_with(clean_env, read_timeout=0.3)
    rt = build_runtime(data, backend="bedrock", notice=False)
    http_emulator.add_fault(HAIKU, latency_ms=1500)
    status, body = handler.handle(dict(EVENT), None, runtime=rt)
    assert status == 200, body
    assert body["route"]["answered_by"] == NOVA
    [attempt] = body["attempts"]
    assert attempt["error_class"] == "unavailable" and attempt["code"] == "ReadTimeoutError"


def test_a_connection_error_falls_over_and_all_down_is_503(clean_env):
    clean_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")  # discard port: refused
    clean_env.setenv("AWS_ACCESS_KEY_ID", "x")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "x")
    rt = build_runtime(load_config(env={}).model_dump(), backend="bedrock", notice=False)
    status, body = handler.handle(dict(EVENT), None, runtime=rt)
    assert status == 503, body
    assert [(a["alias"], a["error_class"], a["code"]) for a in body["error"]["attempts"]] == [
        (m, "unavailable", "EndpointConnectionError") for m in (HAIKU, NOVA, SONNET)]
