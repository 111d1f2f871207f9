"""Prompt caching through real boto3 (in-process and HTTP): write, read, expiry, limits, refusals."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bedrock_local import Emulator
from bedrock_local.catalogue import default_catalogue
from bedrock_local.profiles import profiles_from_catalogue

HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"   # min 4,096 tokens, 5m and 1h
SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"  # min 1,024 tokens
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"          # no prompt caching
LLAMA = "us.meta.llama3-3-70b-instruct-v1:0"               # no prompt caching
NOVA = "amazon.nova-pro-v1:0"                              # min 1,000; system and messages only
CP = {"cachePoint": {"type": "default"}}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def emu(clock):
    return Emulator(profiles_from_catalogue(default_catalogue()), seed=0, clock=clock)


def long_text(tokens: int) -> str:
    # The emulator's estimate is ceil(chars / 4) per block.
    sentence = "The archive keeps every ledger of the harbour office in numbered boxes. "
    return (sentence * (tokens * 4 // len(sentence) + 1))[: tokens * 4]


def ask(client, model, system_tokens, *, ttl=None, question="Where are the ledgers kept?"):
    point = {"cachePoint": {"type": "default", **({"ttl": ttl} if ttl else {})}}
    return client.converse(
        modelId=model, system=[{"text": long_text(system_tokens)}, point],
        messages=[{"role": "user", "content": [{"text": question}]}],
        inferenceConfig={"maxTokens": 200})


def test_write_then_read_then_expiry(client, clock):
    first = ask(client, HAIKU45, 5000)["usage"]
    assert first["cacheWriteInputTokens"] == 5000 and first["cacheReadInputTokens"] == 0
    # The cached part is left out of inputTokens and counted in totalTokens.
    assert first["inputTokens"] > 0
    assert first["totalTokens"] == (first["inputTokens"] + first["cacheWriteInputTokens"]
                                    + first["outputTokens"])

    clock.now += 200
    second = ask(client, HAIKU45, 5000)["usage"]
    assert second["cacheReadInputTokens"] == 5000 and second["cacheWriteInputTokens"] == 0
    assert second["inputTokens"] == first["inputTokens"]

    clock.now += 299  # 499 s after the write, 299 s after the read that refreshed it
    assert ask(client, HAIKU45, 5000)["usage"]["cacheReadInputTokens"] == 5000

    clock.now += 301  # 5 minutes and a second after the last use: gone
    third = ask(client, HAIKU45, 5000)["usage"]
    assert third["cacheReadInputTokens"] == 0 and third["cacheWriteInputTokens"] == 5000


def test_one_hour_ttl_outlives_five_minutes(client, clock):
    written = ask(client, SONNET45, 2000, ttl="1h")["usage"]
    # TokenUsage.cacheDetails says which TTL the write had (priced at its own rate).
    assert written["cacheDetails"] == [{"ttl": "1h", "inputTokens": 2000}]
    assert ask(client, HAIKU45, 5000)["usage"]["cacheDetails"] == [{"ttl": "5m", "inputTokens": 5000}]
    clock.now += 1800
    assert ask(client, SONNET45, 2000, ttl="1h")["usage"]["cacheReadInputTokens"] == 2000
    clock.now += 3601
    assert ask(client, SONNET45, 2000, ttl="1h")["usage"]["cacheReadInputTokens"] == 0


def test_longer_prefix_reads_the_shorter_and_writes_the_rest(client):
    system = [{"text": long_text(1500)}, CP]
    ask_sys = dict(modelId=SONNET45, system=system, inferenceConfig={"maxTokens": 200})
    client.converse(messages=[{"role": "user", "content": [{"text": "Hi there"}]}], **ask_sys)
    doc_turn = [{"role": "user", "content": [{"text": long_text(1200)}, CP, {"text": "Where?"}]}]
    usage = client.converse(messages=doc_turn, **ask_sys)["usage"]
    assert usage["cacheReadInputTokens"] == 1500
    assert usage["cacheWriteInputTokens"] == 1500 + 1200 + 3 - 1500  # +3: message framing


def test_a_moved_checkpoint_still_reads_the_prefix_an_earlier_one_wrote(client):
    # A conversation marks its newest turns each request and drops older marks (at most 4); the markers are
    # not part of the cache key ("Anthropic reads the longest matching prefix and excludes cache_control from
    # the cache key", gnachman/iTerm2 release v20260622-nightly).
    turn1 = [{"text": long_text(1500)}]
    reply = {"role": "assistant", "content": [{"text": "Noted."}]}
    turn2 = [{"text": "And the harbour office?"}]
    first = client.converse(modelId=SONNET45, inferenceConfig={"maxTokens": 200}, messages=[
        {"role": "user", "content": turn1 + [CP]}, reply, {"role": "user", "content": turn2 + [CP]}])["usage"]
    assert first["cacheWriteInputTokens"] > 1500
    # Next turn: the first turn's marker is dropped, the second keeps its own, the new turn gets one.
    second = client.converse(modelId=SONNET45, inferenceConfig={"maxTokens": 200}, messages=[
        {"role": "user", "content": turn1}, reply, {"role": "user", "content": turn2 + [CP]}, reply,
        {"role": "user", "content": [{"text": "And the ledgers?"}, CP]}])["usage"]
    assert second["cacheReadInputTokens"] == first["cacheWriteInputTokens"]


def test_prefix_under_minimum_is_not_cached_and_not_an_error(client):
    usage = ask(client, HAIKU45, 3000)["usage"]  # Haiku 4.5 needs 4,096
    assert usage["cacheWriteInputTokens"] == 0 and usage["cacheReadInputTokens"] == 0
    again = ask(client, HAIKU45, 3000)["usage"]
    assert again["cacheReadInputTokens"] == 0 and again["inputTokens"] == usage["inputTokens"]


def test_count_tokens_is_unchanged_by_caching(client):
    body = {"system": [{"text": long_text(5000)}, CP],
            "messages": [{"role": "user", "content": [{"text": "Where are the ledgers kept?"}]}]}
    before = client.count_tokens(modelId=HAIKU45, input={"converse": body})["inputTokens"]
    usage = client.converse(modelId=HAIKU45, inferenceConfig={"maxTokens": 100}, **body)["usage"]
    after = client.count_tokens(modelId=HAIKU45, input={"converse": body})["inputTokens"]
    assert before == after == usage["inputTokens"] + usage["cacheWriteInputTokens"]


def test_five_checkpoints_is_bedrocks_own_400(client):
    system = []
    for _ in range(5):
        system += [{"text": long_text(300)}, CP]
    with pytest.raises(ClientError) as err:
        client.converse(modelId=SONNET45, system=system,
                        messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == (
        "The model returned the following errors: A maximum of 4 blocks with cache_control may "
        "be provided. Found 5.")


def test_cache_point_on_a_model_without_caching_is_refused(client):
    with pytest.raises(ClientError) as err:
        ask(client, LLAMA, 2000)
    # request_fields.check_prompt_caching answers it (403 AccessDenied, as recorded there).
    assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert err.value.response["Error"]["Message"] == (
        "You invoked an unsupported model or your request did not allow prompt caching. "
        "See the documentation for more information.")


def test_nova_caches_system_but_not_tools(client):
    assert ask(client, NOVA, 1200)["usage"]["cacheWriteInputTokens"] == 1200
    tools = [{"toolSpec": {"name": "lookup", "description": "d",
                           "inputSchema": {"json": {"type": "object"}}}}, CP]
    with pytest.raises(ClientError) as err:
        client.converse(modelId=NOVA, toolConfig={"tools": tools},
                        messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert "did not allow prompt caching" in err.value.response["Error"]["Message"]


def test_one_hour_after_five_minutes_is_refused(client):
    system = [{"text": long_text(1100)}, CP, {"text": long_text(1100)},
              {"cachePoint": {"type": "default", "ttl": "1h"}}]
    with pytest.raises(ClientError) as err:
        client.converse(modelId=SONNET45, system=system,
                        messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert "a ttl='1h' cache_control block must not come after a ttl='5m'" in \
        err.value.response["Error"]["Message"]


def test_cache_fields_reported_as_on_bedrock_without_cache_points(client):
    msgs = [{"role": "user", "content": [{"text": "Hello"}]}]
    newer = client.converse(modelId=HAIKU45, messages=msgs)["usage"]
    assert newer["cacheReadInputTokens"] == 0 and newer["cacheWriteInputTokens"] == 0
    older = client.converse(modelId=HAIKU3, messages=msgs)["usage"]
    assert "cacheReadInputTokens" not in older and "cacheWriteInputTokens" not in older


def test_stream_metadata_carries_the_split(client):
    system = [{"text": long_text(5000)}, CP]
    msgs = [{"role": "user", "content": [{"text": "Where are the ledgers kept?"}]}]
    client.converse(modelId=HAIKU45, system=system, messages=msgs)
    events = list(client.converse_stream(modelId=HAIKU45, system=system, messages=msgs)["stream"])
    usage = next(e["metadata"]["usage"] for e in events if "metadata" in e)
    assert usage["cacheReadInputTokens"] == 5000 and usage["cacheWriteInputTokens"] == 0


@pytest.mark.parametrize("mode", ["http"])
def test_langchain_reports_cache_tokens(connect, mode):
    from langchain_aws import ChatBedrockConverse
    from langchain_core.messages import HumanMessage, SystemMessage

    llm = ChatBedrockConverse(model=HAIKU45, region_name="us-east-1", client=connect(),
                              max_tokens=200)
    system = SystemMessage(content=[{"type": "text", "text": long_text(5000)}, CP])
    question = HumanMessage("Where are the ledgers kept?")
    first = llm.invoke([system, question]).usage_metadata
    second = llm.invoke([system, question]).usage_metadata
    # Bedrock's usage.cacheDetails ([{"ttl": "5m", "inputTokens": 5000}]) makes langchain-aws report the write
    # per TTL (ephemeral_5m_input_tokens) with cache_creation 0.
    assert first["input_token_details"]["ephemeral_5m_input_tokens"] == 5000
    assert first["input_token_details"]["cache_creation"] == 0
    assert second["input_token_details"]["cache_read"] == 5000
    # langchain-aws adds the cached part back: input_tokens is the whole prompt both times.
    assert first["input_tokens"] == second["input_tokens"]
