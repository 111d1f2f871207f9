"""Prompt caching on the agent's calls (tool definitions), after attached documents, and the 1-hour TTL (issue
18), on the in-process bedrock_local through the real langchain-aws + boto3 stack: what each model was sent
(the emulator's call log), what the response reports and what it costs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from bedrock_local.catalogue import default_catalogue
from chains import ConfigError, build_runtime, load_config
from chains.caching.placement import PREFIXES
from chains.errors import BadRequest
from helpers.caching_helpers import assert_exact, price_of, text_of

HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # caches: min 4,096 tokens, TTL 5m and 1h, tools too
NOVA = "us.amazon.nova-pro-v1:0"  # caches: min 1,000 tokens, 5m only, system and messages only
LLAMA = "us.meta.llama3-3-70b-instruct-v1:0"  # calls tools, no prompt caching (a cachePoint is a 400)
AGENT_EVENT = json.loads((Path(__file__).resolve().parents[3] / "events" / "agent.json").read_text())["input"]
# A tool chain's description is its tool definition: long ones make a long, stable tools prefix.
LONG_TOOL_TEXT = "Use this tool for questions about the harbour archive records and their numbered boxes. " * 60


@pytest.fixture(autouse=True)
def _cold_prefixes(clean_env):  # and no AWS settings from the machine
    PREFIXES.clear()
    yield
    PREFIXES.clear()


def _runtime(long_tools: bool = True, chains=None):
    data = load_config(env={}).model_dump()
    data["models"]["claude_sonnet"] = {k: v for k, v in data["models"]["claude_sonnet"].items()
                                       if k in ("model_id_env", "params", "quality", "tier", "retry")}
    data["models"]["claude_sonnet"]["model_id"] = LLAMA  # its figures (tools, no caching) from the catalogue
    data["chains"]["agent"]["settings"]["max_tool_calls"] = 1
    if long_tools:
        for name in data["chains"]["agent"]["settings"]["tools"]:
            data["chains"][name]["description"] = f"{data['chains'][name].get('description') or ''} {LONG_TOOL_TEXT}"
    data["chains"].update(chains or {})
    rt = build_runtime(data, backend="local", notice=False)
    rt.factory.emulator.keep_bodies = True  # the tests read what each model was sent
    return rt


def bodies(rt, model_id):
    return [c.body for c in rt.factory.emulator.calls if c.model_id == model_id]


def points(body):
    """Every cachePoint sent, by where it was: tools, system, messages."""
    tools = ((body.get("toolConfig") or {}).get("tools")) or []
    out = [("tools", t["cachePoint"]) for t in tools if "cachePoint" in t]
    out += [("system", b["cachePoint"]) for b in body.get("system") or [] if "cachePoint" in b]
    for m in body.get("messages") or []:
        out += [("messages", b["cachePoint"]) for b in m.get("content") or [] if "cachePoint" in b]
    return out


# --- the agent: a checkpoint after the tool definitions ------------------------------------------------------


def test_the_agent_writes_then_reads_its_tools_prefix_on_a_caching_model():
    rt = _runtime()
    agent = rt.chain("agent")
    first = agent.invoke({**AGENT_EVENT, "options": {"model": "claude_haiku"}})
    agent_calls = [b for b in bodies(rt, HAIKU45) if b.get("toolConfig")]  # the agent's own (the tool's: none)
    assert agent_calls
    for body in agent_calls:
        tools = body["toolConfig"]["tools"]
        # A checkpoint right after the tool definitions (Bedrock's prefix order: tools, system, messages) ...
        assert "cachePoint" in tools[-1] and all("toolSpec" in t for t in tools[:-1])
        assert ("system", {"type": "default"}) in points(body)
        assert len(points(body)) <= 4
    mine = first["usage_by_model"][HAIKU45]
    assert mine["cache_write_input_tokens"] >= 4096  # the tools prefix alone reaches Haiku 4.5's minimum
    second = agent.invoke({**AGENT_EVENT, "options": {"model": "claude_haiku"}})
    # ... read by the next request: the same tools and system prompt.
    assert second["usage"]["cache_read_input_tokens"] >= mine["cache_write_input_tokens"]
    assert second["cost_usd"] < first["cost_usd"]
    assert_exact(rt, first)
    assert_exact(rt, second)


def test_the_agent_sends_no_cache_point_to_a_model_without_caching_or_below_its_minimum():
    rt = _runtime()
    out = rt.chain("agent").invoke({**AGENT_EVENT, "options": {"model": "claude_sonnet"}})  # Llama: no caching
    assert out["model"] == LLAMA
    llama = bodies(rt, LLAMA)
    assert llama and all(points(b) == [] for b in llama)  # else Bedrock's 400 "You invoked an unsupported model"
    short = _runtime(long_tools=False)  # the default tool descriptions: far below Haiku 4.5's 4,096 tokens
    short.chain("agent").invoke({**AGENT_EVENT, "options": {"model": "claude_haiku"}})
    assert all(points(b) == [] for b in bodies(short, HAIKU45))


def test_cache_off_turns_the_agents_checkpoints_off():
    rt = _runtime()
    out = rt.chain("agent").invoke({**AGENT_EVENT, "options": {"model": "claude_haiku", "cache": "off"}})
    assert all(points(b) == [] for b in bodies(rt, HAIKU45))
    assert out["usage"]["cache_write_input_tokens"] == 0


def test_on_nova_the_agent_checkpoints_the_system_prompt_not_the_tools():
    rt = _runtime()
    out = rt.chain("agent").invoke({**AGENT_EVENT, "options": {"model": "nova_pro"}})
    for body in (b for b in bodies(rt, NOVA) if b.get("toolConfig")):
        where = [w for w, _ in points(body)]
        assert "tools" not in where and "system" in where  # Nova takes checkpoints in system and messages only
    assert out["usage_by_model"][NOVA]["cache_write_input_tokens"] >= 1000
    assert_exact(rt, out)


# --- attached documents: before the question, a checkpoint between -----------------------------------------


def _document(tokens: int) -> dict:
    return {"mime_type": "text/plain", "name": "archive", "data": base64.b64encode(text_of(tokens).encode()).decode()}


def test_an_attached_document_is_read_from_the_cache_by_the_next_question():
    rt = _runtime(long_tools=False)
    doc = _document(6000)
    qa = rt.chain("qa")
    first = qa.invoke({"question": "Where are the boxes?", "documents": [doc], "options": {"model": "claude_haiku"}})
    second = qa.invoke({"question": "Who keeps them?", "documents": [doc], "options": {"model": "claude_haiku"}})
    for body in bodies(rt, HAIKU45):
        content = body["messages"][-1]["content"]
        # The document first, then the checkpoint, then the prompt's text with the question.
        assert [next(iter(b)) for b in content] == ["document", "cachePoint", "text"]
    assert first["usage"]["cache_write_input_tokens"] >= 6000 and first["usage"]["cache_read_input_tokens"] == 0
    assert second["usage"]["cache_read_input_tokens"] == first["usage"]["cache_write_input_tokens"]
    assert second["cost_usd"] < first["cost_usd"] / 3
    assert_exact(rt, first)
    assert_exact(rt, second)


def test_a_short_attachment_or_cache_off_gets_no_checkpoint():
    rt = _runtime(long_tools=False)
    rt.chain("qa").invoke({"question": "Where?", "documents": [_document(2000)], "options": {"model": "claude_haiku"}})
    [body] = bodies(rt, HAIKU45)
    assert points(body) == []  # ~2,000 tokens: below Haiku 4.5's minimum
    assert [next(iter(b)) for b in body["messages"][-1]["content"]] == ["document", "text"]
    # cache off: the same order, no checkpoint (a model without caching is placement's rule for every chain,
    # tests/functional/caching/test_caching.py; no model here reads documents without caching).
    rt.chain("qa").invoke({"question": "Where?", "documents": [_document(6000)],
                           "options": {"model": "claude_haiku", "cache": "off"}})
    body = bodies(rt, HAIKU45)[-1]
    assert points(body) == [] and [next(iter(b)) for b in body["messages"][-1]["content"]] == ["document", "text"]


# --- the 1-hour TTL ------------------------------------------------------------------------------------------


def test_the_one_hour_ttl_is_sent_and_priced_at_its_own_rate():
    rt = _runtime(long_tools=False)
    context = text_of(6000)
    out = rt.chain("qa").invoke({"question": "Where?", "context": context,
                                 "options": {"model": "claude_haiku", "cache": "1h"}})
    [body] = bodies(rt, HAIKU45)
    assert points(body) == [("messages", {"type": "default", "ttl": "1h"})]
    u = out["usage_by_model"][HAIKU45]
    assert u["cache_write_1h_input_tokens"] == u["cache_write_input_tokens"] >= 6000
    assert u["cache_ttl"] == "1h" and "cache_ttl_note" not in u
    assert out["usage"]["cache_write_1h_input_tokens"] == u["cache_write_1h_input_tokens"]
    # 2x the input price for a 1h write (catalogue cache_write_1h), against 1.25x for 5m.
    entry = default_catalogue().base_of(HAIKU45).price
    assert entry.cache_write_1h == pytest.approx(2 * entry.input)
    assert_exact(rt, out)
    again = rt.chain("qa").invoke({"question": "Who?", "context": context,
                                   "options": {"model": "claude_haiku", "cache": "1h"}})
    assert again["usage"]["cache_read_input_tokens"] == u["cache_write_input_tokens"]


def test_a_model_without_the_one_hour_ttl_gets_five_minutes_and_the_usage_says_so():
    rt = _runtime(long_tools=False)
    out = rt.chain("qa").invoke({"question": "Where?", "context": text_of(3000),
                                 "options": {"model": "nova_pro", "cache": "1h"}})
    [body] = bodies(rt, NOVA)
    assert points(body) == [("messages", {"type": "default"})]  # 5m: Bedrock's 400 for a TTL Nova does not offer
    u = out["usage_by_model"][NOVA]
    assert u["cache_ttl"] == "5m" and "1h" in u["cache_ttl_note"] and u["cache_write_input_tokens"] > 0
    assert "cache_write_1h_input_tokens" not in u


def test_the_agent_asks_the_one_hour_ttl_on_every_checkpoint():
    rt = _runtime(chains={"agent_1h": {"prompt": "agent", "strategy": "agent", "cache": "1h",
                                       "settings": {"tools": ["qa", "summarize", "compare"], "max_tool_calls": 1}}})
    out = rt.chain("agent_1h").invoke({**AGENT_EVENT, "options": {"model": "claude_haiku"}})
    agent_calls = [b for b in bodies(rt, HAIKU45) if b.get("toolConfig")]
    assert agent_calls and all(p == {"type": "default", "ttl": "1h"} for b in agent_calls for _, p in points(b))
    assert out["usage_by_model"][HAIKU45]["cache_write_1h_input_tokens"] > 0
    assert_exact(rt, out)


@pytest.mark.parametrize("value", ["2h", "on", 1])
def test_a_cache_option_outside_the_contract_is_a_400_naming_the_field_and_the_values(value):
    rt = _runtime(long_tools=False)
    with pytest.raises(BadRequest) as err:
        rt.chain("qa").invoke({"question": "Where?", "options": {"cache": value}})
    assert "options.cache" in str(err.value) and all(v in str(err.value) for v in ("auto", "off", "1h"))


def test_a_chain_cache_setting_outside_the_contract_is_a_config_error(clean_env):
    data = load_config(env={}).model_dump()
    data["chains"]["qa"]["cache"] = "2h"
    with pytest.raises(ConfigError, match="cache"):
        build_runtime(data, backend="local", notice=False)
