"""Fault injection: rate (seeded), first_n, latency, stream cut, mid-stream error, malformed, env JSON."""
from __future__ import annotations

import concurrent.futures
import json
import time

import pytest
from bl_helpers import HAIKU, NOVA, SONNET, make_client, user
from botocore.exceptions import ClientError, EventStreamError

from bedrock_local import Emulator, FaultRule
from bedrock_local.faults import rules_from_json


def _outcomes(client, n, model=HAIKU):
    out = []
    for _ in range(n):
        try:
            client.converse(modelId=model, messages=user("hi"))
            out.append(None)
        except ClientError as e:
            out.append(e.response["Error"]["Code"])
    return out


def test_rate_is_seeded_and_repeatable(client, emu):
    emu.add_fault("haiku", error="ThrottlingException", rate=0.3)
    first = _outcomes(client, 40)
    again = Emulator(seed=0)
    again.add_fault("haiku", error="ThrottlingException", rate=0.3)
    second = _outcomes(again.attach(make_client()), 40)
    assert first == second
    assert 4 <= first.count("ThrottlingException") <= 20
    other = Emulator(seed=1)
    other.add_fault("haiku", error="ThrottlingException", rate=0.3)
    assert _outcomes(other.attach(make_client()), 40) != first


def test_first_n(client, emu):
    emu.add_fault("claude_haiku", error="ServiceUnavailableException", first_n=2)
    assert _outcomes(client, 4) == ["ServiceUnavailableException"] * 2 + [None] * 2


def test_model_matching_alias_substring_and_star(client, emu):
    emu.add_fault("nova", error="AccessDeniedException")
    assert _outcomes(client, 1, NOVA) == ["AccessDeniedException"]
    assert _outcomes(client, 1, f"us.{NOVA}") == ["AccessDeniedException"]
    assert _outcomes(client, 1, HAIKU) == [None]
    emu.clear_faults()
    emu.add_fault("claude_sonnet", error="ResourceNotFoundException")
    assert _outcomes(client, 1, SONNET) == ["ResourceNotFoundException"]
    assert _outcomes(client, 1, HAIKU) == [None]
    emu.clear_faults()
    emu.add_fault("*", error="InternalServerException")
    assert _outcomes(client, 1, SONNET) + _outcomes(client, 1, NOVA) == ["InternalServerException"] * 2
    emu.clear_faults()
    assert _outcomes(client, 1) == [None]


def test_added_latency(client, emu):
    emu.add_fault("haiku", latency_ms=150)
    t0 = time.perf_counter()
    r = client.converse(modelId=HAIKU, messages=user("hi"))
    assert time.perf_counter() - t0 >= 0.15
    assert r["metrics"]["latencyMs"] >= 150
    t0 = time.perf_counter()
    client.converse(modelId=NOVA, messages=user("hi"))
    assert time.perf_counter() - t0 < 0.15


def test_profile_latency_scaled():
    """latency_scale=1 sleeps first_token_ms + per_token_ms * output tokens; 0 does not sleep."""
    from bedrock_local import ModelProfile

    slow = {HAIKU: ModelProfile("claude_haiku", HAIKU, 200_000, 4096, first_token_ms=100, per_token_ms=5)}
    emu = Emulator(slow, latency_scale=1.0)
    c = emu.attach(make_client())
    t0 = time.perf_counter()
    r = c.converse(modelId=HAIKU, messages=user("hi"))
    expected = (100 + 5 * r["usage"]["outputTokens"]) / 1000
    assert time.perf_counter() - t0 >= expected * 0.95
    assert r["metrics"]["latencyMs"] == round(expected * 1000)
    # Streaming is paced: the first text arrives before the stream ends.
    stamps = []
    for event in c.converse_stream(modelId=HAIKU, messages=user("hi"))["stream"]:
        stamps.append((next(iter(event)), time.perf_counter()))
    first_delta = next(t for k, t in stamps if k == "contentBlockDelta")
    assert stamps[-1][1] - first_delta > 0.02
    fast = Emulator(slow, latency_scale=0.0).attach(make_client())
    t0 = time.perf_counter()
    fast.converse(modelId=HAIKU, messages=user("hi"))
    assert time.perf_counter() - t0 < 0.08


def test_stream_cut_after_k_events(client, emu):
    emu.add_fault("haiku", stream_cut_after=3)
    events = list(client.converse_stream(modelId=HAIKU, messages=user("Hello there friend"))["stream"])
    assert len(events) == 3
    assert not any("messageStop" in e or "metadata" in e for e in events)
    chunks = list(client.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}))["body"])
    assert len(chunks) == 3
    # Non-streaming operations are unaffected by a cut.
    assert client.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"


def test_mid_stream_error(client, emu):
    emu.add_fault("haiku", error="ThrottlingException", stream_cut_after=2)
    stream = client.converse_stream(modelId=HAIKU, messages=user("Hello there friend"))["stream"]
    got = []
    with pytest.raises(EventStreamError) as info:
        for event in stream:
            got.append(event)
    assert len(got) == 2
    assert info.value.response["Error"]["Code"] == "throttlingException"
    # Non-streaming calls get the same rule as a plain HTTP error.
    assert _outcomes(client, 1) == ["ThrottlingException"]


def test_malformed_bodies(client, emu):
    emu.add_fault("haiku", malformed=True)
    r = client.converse(modelId=HAIKU, messages=user("hi"))
    assert "output" not in r  # botocore could not parse the body into the output shape
    raw = client.invoke_model(modelId=HAIKU, body=json.dumps(
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}))["body"].read()
    with pytest.raises(ValueError):
        json.loads(raw)
    events = list(client.converse_stream(modelId=HAIKU, messages=user("hi"))["stream"])
    assert any("contentBlockDelta" in e and "delta" not in e["contentBlockDelta"] for e in events)


def test_env_var_faults(monkeypatch):
    monkeypatch.setenv("BEDROCK_LOCAL_FAULTS", json.dumps(
        [{"model": "haiku", "error": "ModelNotReadyException", "first_n": 1},
         {"model": "nova", "latency_ms": 1}]))
    emu = Emulator()
    assert [r.error for r in emu.faults.rules] == ["ModelNotReadyException", None]
    c = emu.attach(make_client())
    assert _outcomes(c, 2) == ["ModelNotReadyException", None]
    # Explicit faults= wins over the environment.
    assert Emulator(faults=[]).faults.rules == []


def test_fault_rule_validation():
    with pytest.raises(ValueError):
        FaultRule("x", error="NoSuchException")
    with pytest.raises(ValueError):
        rules_from_json('[{"model": "x", "bogus": 1}]')
    with pytest.raises(ValueError):
        FaultRule("x", rate=2)
    assert rules_from_json('{"model": "x", "error": "ThrottlingException"}')[0].error == "ThrottlingException"
    rule = FaultRule("haiku", error="ThrottlingException", first_n=2, latency_ms=5)
    assert rule.to_dict() == {"model": "haiku", "error": "ThrottlingException", "first_n": 2, "latency_ms": 5}
    assert rules_from_json(json.dumps([rule.to_dict()]))[0] == rule


def test_calls_record_and_thread_safety(emu, mode, connect):
    c = connect()
    emu.add_fault("nova", error="ThrottlingException", rate=0.5)

    def one(i):
        model = NOVA if i % 2 else HAIKU
        try:
            c.converse(modelId=model, messages=user(f"question {i}"))
        except ClientError:
            pass

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(64)))
    assert len(emu.calls) == 64
    assert len(emu.calls_for("haiku")) == 32 and len(emu.calls_for("nova_pro")) == 32
    assert all(r.error is None and r.status == 200 for r in emu.calls_for("claude_haiku"))
    errors = [r for r in emu.calls_for("nova") if r.error]
    assert errors and all(r.status == 429 and r.operation == "Converse" for r in errors)
    ok = [r for r in emu.calls_for("haiku")][0]
    assert ok.input_tokens > 0 and ok.output_tokens > 0 and ok.body["messages"][0]["role"] == "user"
    emu.reset_calls()
    assert emu.calls == []


def test_empty_answer(client, emu):
    emu.add_fault("nova", empty=True)
    out = client.converse(modelId=NOVA, messages=user("Say something."))
    assert out["output"]["message"]["content"] == []
    assert out["stopReason"] == "end_turn" and out["usage"]["outputTokens"] == 0
    assert client.converse(modelId=HAIKU, messages=user("Say something."))["output"]["message"]["content"]
    events = list(client.converse_stream(modelId=NOVA, messages=user("Say something."))["stream"])
    assert [next(iter(e)) for e in events] == ["messageStart", "messageStop", "metadata"]
    assert rules_from_json('[{"model": "nova", "empty": true}]')[0].empty is True
