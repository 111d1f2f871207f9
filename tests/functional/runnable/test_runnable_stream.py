"""Streaming in detail: the single strategy over ConverseStream, and the wrapper's contract for any strategy.

(The routed strategy's own stream, with fallback before the first chunk, is tested with the router.)
"""

from __future__ import annotations


import pytest
from helpers.runnable_cases import total

from chains import Throttled, Unavailable, build_runtime, get_chain, load_config
from chains.chain import BedrockChain, StrategySpec

QUESTION = {
    "question": "Which model family does Amazon Nova belong to?",
    "context": "Amazon Nova is Amazon's own family of foundation models. Claude models come from Anthropic.",
}
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.fixture
def runtime(clean_env):
    """config.yaml plus a chain on the single strategy (one model, no routing, no fallback)."""
    data = load_config(env={}).model_dump()
    data["chains"]["qa_single"] = {"prompt": "qa", "strategy": "single", "model": "claude_haiku"}
    return build_runtime(data, backend="local", notice=False)


@pytest.fixture
def qa(runtime):
    return get_chain("qa_single", runtime)


def test_stream_uses_converse_stream_and_yields_text_before_the_metadata(qa, emulator):
    emulator.reset_calls()
    chunks = list(qa.stream(QUESTION))
    assert [c.operation for c in emulator.calls] == ["ConverseStream"]
    texts = [c["output"] for c in chunks if "output" in c]
    assert len(texts) > 2 and all(set(c) == {"output"} for c in chunks[: len(texts)])
    meta = total(chunks[len(texts):])
    assert meta["model"] == HAIKU and meta["stop_reason"] == "end_turn"
    assert meta["route"] == {"model": "claude_haiku", "reason": "the model configured for chain 'qa_single'",
                             "candidates": ["claude_haiku"]}
    record = emulator.calls[0]
    assert meta["usage"] == {"input_tokens": record.input_tokens, "output_tokens": record.output_tokens,
                             "total_tokens": record.input_tokens + record.output_tokens,
                             "cache_read_input_tokens": 0, "cache_write_input_tokens": 0}
    assert meta["cost_usd"] > 0 and meta["latency_ms"] > 0 and meta["attempts"] == []
    assert "Amazon Nova" in "".join(texts)


def test_invoke_still_uses_converse(qa, emulator):
    emulator.reset_calls()
    qa.invoke(QUESTION)
    assert [c.operation for c in emulator.calls] == ["Converse"]


def test_options_reach_the_streamed_call(qa, emulator):
    emulator.reset_calls()
    chunks = list(qa.stream({**QUESTION, "options": {"model": "nova_pro", "max_tokens": 5}}))
    summed = total(chunks)
    assert summed["model"] == "us.amazon.nova-pro-v1:0" and summed["stop_reason"] == "max_tokens"
    assert emulator.calls[0].body["inferenceConfig"]["maxTokens"] == 5


def test_a_consumer_may_stop_early(qa, emulator):
    stream = qa.stream(QUESTION)
    first = next(stream)
    assert set(first) == {"output"}
    stream.close()  # closes the ConverseStream underneath; no error, nothing left running
    assert total(list(qa.stream(QUESTION)))["output"]


def test_failure_before_the_first_chunk_is_a_typed_error(qa, emulator):
    emulator.add_fault("haiku", error="ServiceUnavailableException", first_n=1)
    stream = qa.stream(QUESTION)
    with pytest.raises(Unavailable) as info:
        next(stream)
    assert info.value.status == 503 and info.value.model == HAIKU
    assert info.value.details["usage"]["total_tokens"] == 0  # what was spent is reported, here nothing


def test_a_stream_cut_mid_answer_raises_after_the_text_already_sent(qa, emulator):
    emulator.add_fault("haiku", error="ThrottlingException", stream_cut_after=4)
    received = []
    with pytest.raises(Throttled) as info:
        for chunk in qa.stream(QUESTION):
            received.append(chunk)
    assert received and all(set(c) == {"output"} for c in received)
    assert info.value.status == 429 and info.value.streamed is True
    assert "latency_ms" in info.value.details and "usage" in info.value.details


async def test_astream_failure_is_the_same_typed_error(qa, emulator):
    emulator.add_fault("haiku", error="ThrottlingException", stream_cut_after=4)
    with pytest.raises(Throttled):
        async for _ in qa.astream(QUESTION):
            pass


async def test_astream_consumer_may_stop_early(qa):
    async for chunk in qa.astream(QUESTION):
        assert set(chunk) == {"output"}
        break
    assert (await qa.ainvoke(QUESTION))["output"]


# --- the wrapper's contract, for any strategy ----------------------------------------------------------------


def _chain_with(runtime, monkeypatch, stream_fn):
    """A chain whose strategy streams with ``stream_fn`` (what another helper's strategy would provide)."""

    def run(chain, request, config):
        return {"output": "x", "model": "m", "route": {"model": "claude_haiku"}}

    strategy = StrategySpec("test_strategy", run, stream_fn)
    return BedrockChain("qa_single", runtime.settings.chains["qa_single"], runtime, strategy)


def test_wrapper_adds_output_attempts_and_usage_when_the_strategy_leaves_them_out(runtime, monkeypatch):
    def stream(chain, request, config):
        yield {"model": "m", "route": {"model": "claude_haiku"}}

    summed = total(list(_chain_with(runtime, monkeypatch, stream).stream({"question": "q"})))
    assert summed["output"] == "" and summed["attempts"] == [] and summed["usage"]["total_tokens"] == 0


def test_wrapper_refuses_a_strategy_that_repeats_a_key(runtime, monkeypatch):
    def stream(chain, request, config):
        yield {"output": "a", "model": "m"}
        yield {"model": "again"}

    with pytest.raises(TypeError, match="repeated key"):
        list(_chain_with(runtime, monkeypatch, stream).stream({"question": "q"}))
