"""Faults, each giving the documented response: a stream cut mid-answer, a malformed Bedrock body, an empty
answer, all models down, a deadline shorter than one call."""

from __future__ import annotations

import json

import pytest

import handler
from chains import get_chain

QA = {"chain": "qa", "input": {"question": "Which family is Nova from?",
                               "context": "Amazon Nova is Amazon's own family of models."}}


def ask(runtime, event=QA, context=None):
    status, body = handler.handle(event, context, runtime=runtime)
    json.dumps(body)
    return status, body


def first_choice(runtime):
    """The model the router picks for QA when everything is healthy."""
    return get_chain("qa", runtime).invoke(QA["input"])["route"]["model"]


def test_malformed_body_falls_over_to_the_next_model(runtime, emulator):
    primary = first_choice(runtime)
    emulator.add_fault(primary, malformed=True)
    status, body = ask(runtime)
    assert status == 200 and body["ok"]
    assert body["route"]["model"] != primary or body["attempts"]
    failed = [a for a in body["attempts"] if not a.get("skipped")]
    assert failed[0]["alias"] == primary and failed[0]["code"] == "MalformedResponse"
    assert failed[0]["error_class"] == "unavailable"


def test_empty_answer_falls_over_to_the_next_model(runtime, emulator):
    primary = first_choice(runtime)
    emulator.add_fault(primary, empty=True)
    status, body = ask(runtime)
    assert status == 200 and body["output"].strip()
    assert body["attempts"][0]["alias"] == primary and body["attempts"][0]["code"] == "EmptyAnswer"
    assert body["model"] != runtime.settings.models[primary].model_id


def test_empty_answer_everywhere_is_a_typed_error(runtime, emulator):
    emulator.add_fault("*", empty=True)
    status, body = ask(runtime)
    assert status == 503 and body["error"]["type"] == "AllModelsFailed"
    assert {a["code"] for a in body["error"]["attempts"]} == {"EmptyAnswer"}


def test_all_models_down(runtime, emulator):
    emulator.add_fault("*", error="ServiceUnavailableException")
    status, body = ask(runtime)
    assert status == 503 and body["error"]["type"] == "AllModelsFailed"
    tried = [a["alias"] for a in body["error"]["attempts"] if not a.get("skipped")]
    assert sorted(tried) == sorted(runtime.settings.models)  # every model tried exactly once
    for alias in runtime.settings.models:
        assert len(emulator.calls_for(alias)) == 1


def test_all_models_throttled_is_429(runtime, emulator):
    emulator.add_fault("*", error="ThrottlingException")
    status, body = ask(runtime)
    assert status == 429 and body["error"]["type"] == "AllModelsFailed"


def test_deadline_shorter_than_one_call(runtime, emulator, lambda_context):
    emulator.add_fault("*", latency_ms=1500)
    lambda_context._remaining = 900
    status, body = ask(runtime, context=lambda_context)
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded"
    assert body["request_id"] == "req-0001"


def test_timeout_option_shorter_than_one_call(runtime, emulator):
    emulator.add_fault("*", latency_ms=1500)
    status, body = ask(runtime, {**QA, "options": {"timeout_ms": 300}})
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded"


def test_stream_cut_before_first_chunk_falls_over(runtime, emulator):
    primary = first_choice(runtime)
    emulator.add_fault(primary, stream_cut_after=1, error="ServiceUnavailableException")
    chunks = list(get_chain("qa", runtime).stream(QA["input"]))
    text = "".join(c.get("output", "") for c in chunks)
    final = {k: v for c in chunks for k, v in c.items() if k != "output"}
    assert text.strip()
    assert final["attempts"][0]["alias"] == primary
    assert final["model"] != runtime.settings.models[primary].model_id


def test_stream_cut_mid_answer_ends_with_a_typed_error(runtime, emulator):
    from chains import ChainsError

    primary = first_choice(runtime)
    emulator.reset_calls()
    emulator.add_fault("*", stream_cut_after=3, error="ThrottlingException")
    received = []
    with pytest.raises(ChainsError) as err:
        for chunk in get_chain("qa", runtime).stream(QA["input"]):
            received.append(chunk.get("output", ""))
    assert "".join(received).strip(), "text before the cut reached the caller"
    assert err.value.status in (429, 502, 503)
    # No other model was tried after text had been sent: answers are never spliced together.
    assert len(emulator.calls_for(primary)) == 1 and len(emulator.calls) == 1


def test_stream_cut_without_error_frame(runtime, emulator):
    from chains import ChainsError

    emulator.add_fault("*", stream_cut_after=3)
    with pytest.raises(ChainsError) as err:
        list(get_chain("qa", runtime).stream(QA["input"]))
    assert err.value.status >= 500
