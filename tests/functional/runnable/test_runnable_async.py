"""The async half of the Runnable surface, on every configured chain: ainvoke, abatch, astream, astream_events.

langchain-aws has no native async (ChatBedrockConverse.ainvoke runs the boto3 call in an executor), so the
chains run their blocking strategies in the executor too; these tests check that everything a caller sees
(results, chunks, events, callbacks) is the same as on the sync path.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import ToolMessage
from helpers.runnable_cases import BASE_KEYS, CHAINS, sample_input, streams, total

from chains import BadRequest, get_chain


pytestmark = pytest.mark.parametrize("name", CHAINS)


async def test_ainvoke_matches_invoke(chain, sample):
    expected = chain.invoke(sample)
    result = await chain.ainvoke(sample)
    assert set(result) == set(expected) and BASE_KEYS <= set(result)
    assert result["model"] == expected["model"]
    assert result["usage"]["total_tokens"] > 0 and result["cost_usd"] > 0


async def test_abatch_runs_concurrently_and_keeps_order(chain, sample):
    inputs = [sample, {"no_such_field": 1}, sample]
    results = await chain.abatch(inputs, config={"max_concurrency": 2}, return_exceptions=True)
    assert BASE_KEYS <= set(results[0]) and BASE_KEYS <= set(results[2])
    assert isinstance(results[1], BadRequest)


async def test_astream_chunks_add_up_like_stream(chain, sample):
    chunks = [c async for c in chain.astream(sample)]
    summed = total(chunks)
    assert BASE_KEYS <= set(summed) and summed["usage"]["total_tokens"] > 0
    chain.get_output_schema().model_validate(summed)
    if streams(chain):
        assert len(chunks) > 2 and set(chunks[0]) == {"output"}
        assert summed["output"] == chain.invoke(sample)["output"]
    else:
        assert len(chunks) == 1


async def test_astream_rejects_bad_input(chain):
    with pytest.raises(BadRequest):
        async for _ in chain.astream({"no_such_field": "x"}):
            pass


async def test_astream_events_show_the_chain_and_its_model_calls(chain, sample):
    events = [e async for e in chain.astream_events(sample, version="v2")]
    kinds = [e["event"] for e in events]
    assert events[0]["event"] == "on_chain_start" and events[0]["name"] == chain.name
    end = next(e for e in reversed(events) if e["event"] == "on_chain_end" and e["name"] == chain.name)
    assert BASE_KEYS <= set(end["data"]["output"])
    assert "on_chat_model_start" in kinds and "on_chat_model_end" in kinds
    assert "on_chain_stream" in kinds
    if streams(chain):
        # Tokens are visible as they arrive from ConverseStream, before the chain ends.
        first_token = kinds.index("on_chat_model_stream")
        assert first_token < len(kinds) - 1 and kinds.count("on_chat_model_stream") > 2
    # The run's metadata reaches the model-call events.
    tagged = [e async for e in chain.astream_events(sample, version="v2", config={"tags": ["nb"]})]
    assert all("nb" in e["tags"] for e in tagged if e["event"] == "on_chat_model_start")


async def test_as_tool_async(chain, sample):
    tool = chain.as_tool()
    args = {k: v for k, v in sample.items() if k != "options"}
    message = await tool.ainvoke({"type": "tool_call", "id": "c1", "name": tool.name, "args": args})
    assert isinstance(message, ToolMessage) and message.content
    assert BASE_KEYS <= set(message.artifact)


async def test_concurrent_ainvoke_calls_keep_their_own_usage(chain, sample):
    single = chain.invoke(sample)
    results = await asyncio.gather(*(chain.ainvoke(sample) for _ in range(3)))
    # One request's usage callback never counts another's calls.
    assert all(r["usage"]["total_tokens"] == single["usage"]["total_tokens"] for r in results)
