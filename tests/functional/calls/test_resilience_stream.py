"""Streaming fallbacks: over before the first text chunk, a typed error after it (bedrock_local event streams)."""

from __future__ import annotations

import pytest

from chains import get_chain
from chains.errors import AllModelsFailed, DeadlineExceeded, ModelClientError, StreamInterrupted

HAIKU, NOVA, SONNET = "claude_haiku", "nova_pro", "claude_sonnet"
NOVA_ID = "us.amazon.nova-pro-v1:0"
EASY = {"question": "What is Amazon S3?", "context": "Amazon S3 is object storage. It keeps data in buckets."}


def calls(emulator):
    return {m: len(emulator.calls_for(m)) for m in (HAIKU, NOVA, SONNET)}


def collect(runtime, inp=None, chain="qa"):
    texts, chunks = [], []
    for chunk in get_chain(chain, runtime).stream(dict(inp or EASY)):
        chunks.append(chunk)
        if chunk.get("output"):
            texts.append(chunk["output"])
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    return texts, total


def test_a_throttle_before_the_stream_starts_falls_over(runtime, emulator):
    emulator.add_fault(HAIKU, error="ThrottlingException")
    texts, total = collect(runtime)
    assert len(texts) > 1 and total["output"] == "".join(texts)
    assert total["model"] == NOVA_ID and total["route"]["answered_by"] == NOVA
    assert [(a["alias"], a["error_class"], a["code"]) for a in total["attempts"]] == [
        (HAIKU, "throttled", "ThrottlingException")]
    assert calls(emulator) == {HAIKU: 1, NOVA: 1, SONNET: 0}
    assert total["usage"]["output_tokens"] > 0 and set(total["usage_by_model"]) == {NOVA_ID}


def test_an_event_stream_error_before_any_text_falls_over_with_its_lowercase_code(runtime, emulator):
    # The stream opens (HTTP 200, messageStart) and then carries a throttlingException event: no text was sent.
    emulator.add_fault(HAIKU, error="ThrottlingException", stream_cut_after=1)
    texts, total = collect(runtime)
    assert texts and total["route"]["answered_by"] == NOVA
    [attempt] = total["attempts"]
    assert attempt["error_class"] == "throttled" and attempt["code"] == "throttlingException"
    assert calls(emulator) == {HAIKU: 1, NOVA: 1, SONNET: 0}


@pytest.mark.parametrize("fault, error_class", [
    ({"error": "ThrottlingException", "stream_cut_after": 4}, "throttled"),
    ({"error": "ModelStreamErrorException", "stream_cut_after": 4}, "unavailable"),
    ({"stream_cut_after": 4}, "unavailable"),  # the connection ends without messageStop
])
def test_after_the_first_chunk_the_stream_ends_with_a_typed_error(runtime, emulator, fault, error_class):
    emulator.add_fault(HAIKU, **fault)
    texts = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in get_chain("qa", runtime).stream(dict(EASY)):
            if chunk.get("output"):
                texts.append(chunk["output"])
    err = info.value
    assert texts, "text was already sent before the failure"
    assert err.error_class == error_class and err.status == 502 and err.type == "StreamInterrupted"
    assert err.details["chars_sent"] == len("".join(texts))
    assert [a["alias"] for a in err.details["attempts"]] == [HAIKU]
    assert "usage" in err.details  # what was spent is kept
    assert calls(emulator) == {HAIKU: 1, NOVA: 0, SONNET: 0}  # too late to fall over


def test_a_client_error_in_a_stream_does_not_fall_over(runtime, emulator):
    emulator.add_fault(HAIKU, error="ValidationException")
    with pytest.raises(ModelClientError):
        collect(runtime)
    assert calls(emulator) == {HAIKU: 1, NOVA: 0, SONNET: 0}


def test_a_stream_with_every_model_down(runtime, emulator):
    emulator.add_fault("*", error="ServiceUnavailableException")
    with pytest.raises(AllModelsFailed) as info:
        collect(runtime)
    assert info.value.status == 503 and len(info.value.attempts) == 3


def test_a_stream_that_fails_cools_the_model_for_the_next_request(runtime, emulator):
    emulator.add_fault(HAIKU, error="ThrottlingException", stream_cut_after=1)
    collect(runtime)
    _, total = collect(runtime)
    assert total["attempts"][0]["error_class"] == "cooling_down"
    assert calls(emulator) == {HAIKU: 1, NOVA: 2, SONNET: 0}


def test_the_stream_honours_the_deadline(runtime, emulator):
    emulator.add_fault(HAIKU, latency_ms=1000)
    with pytest.raises(DeadlineExceeded) as info:
        collect(runtime, {**EASY, "options": {"timeout_ms": 300}})
    assert info.value.status == 504
    assert info.value.details["attempts"][0]["error_class"] == "deadline"
    assert calls(emulator)[NOVA] == 0


def test_a_streamed_answer_adds_up_to_the_invoked_one(runtime, emulator):
    _, total = collect(runtime)
    invoked = get_chain("qa", runtime).invoke(dict(EASY))
    for key in ("output", "model", "route", "attempts", "stop_reason", "usage"):
        assert total[key] == invoked[key], key


def test_the_fallback_chain_streams_too(runtime, emulator):
    emulator.add_fault(HAIKU, error="ServiceUnavailableException")
    _, total = collect(runtime, chain="qa_fallback")
    assert total["route"]["answered_by"] == NOVA and total["route"]["mode"] == "ordered"
