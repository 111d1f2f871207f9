"""The ``agent`` chain: create_agent over the other chains as tools, from the handler like any chain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import handler
from chains import ConfigError, build_runtime, get_chain, list_chains, load_config

EVENTS = Path(__file__).resolve().parents[3] / "events"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"
MODEL_IDS = {m.model_id for m in load_config(env={}).models.values()}


def agent_event(**options):
    event = json.loads((EVENTS / "agent.json").read_text())
    event["options"] = {**event.get("options", {}), **options}
    return event


def billed(emulator):
    """Token totals of every call bedrock_local answered: what Bedrock would bill."""
    calls = [c for c in emulator.calls if c.status == 200]
    inp, out = sum(c.input_tokens for c in calls), sum(c.output_tokens for c in calls)
    # No prompt here is long enough for a cache checkpoint: both cache kinds stay 0.
    return {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
            "cache_read_input_tokens": 0, "cache_write_input_tokens": 0}


def test_the_handler_runs_the_agent_and_counts_every_inner_call(runtime, emulator, lambda_context):
    emulator.reset_calls()
    status, body = handler.handle(agent_event(), lambda_context, runtime=runtime)
    assert status == 200 and body["ok"] is True, body
    assert body["chain"] == "agent" and body["output"]
    assert body["route"]["model"] == "claude_haiku"
    # The agent called a tool (another chain), and that chain's own model call is in the step.
    assert body["steps"] and body["steps"][0]["tool"] == "qa" and body["steps"][0]["ok"] is True
    assert body["steps"][0]["model"] in MODEL_IDS and body["steps"][0]["cost_usd"] > 0
    # Agent model call, tool chain's model call, agent's final answer: all three are billed and counted.
    assert len(emulator.calls) >= 3
    assert body["usage"] == billed(emulator)
    per_model = sum(m["cost_usd"] for m in body["usage_by_model"].values())
    assert body["cost_usd"] == pytest.approx(per_model) and body["cost_usd"] > body["steps"][0]["cost_usd"]
    assert body["stop_reason"] == "end_turn"


def test_the_tools_are_the_other_configured_chains(runtime):
    agent = get_chain("agent", runtime)
    result = agent.invoke(agent_event()["input"])
    tools = result["route"]["tools"]
    assert tools and "agent" not in tools and set(tools) <= set(list_chains(runtime))
    configured = agent.cfg.settings.get("tools")
    if configured:
        assert tools == configured


def test_pinning_the_agent_model_leaves_the_tools_on_their_own_models(clean_env):
    rt = _runtime_with_agent_settings(clean_env, tools=["qa_single"])  # a tool chain on Haiku only
    agent = get_chain("agent", rt).with_config(configurable={"model": "nova_pro"})
    result = agent.invoke(agent_event()["input"])
    assert result["model"] == NOVA and result["route"]["reason"] == "pinned by options.model"
    assert result["steps"][0]["model"] == HAIKU  # not pinned to Nova with the agent
    assert set(result["usage_by_model"]) == {NOVA, HAIKU}
    assert result["usage"] == billed(rt.factory.emulator)


def test_a_failing_tool_chain_is_a_typed_error_that_keeps_the_usage_spent(clean_env, lambda_context):
    # The tool is a single-model chain on Haiku (no fallback), the agent runs on Nova.
    rt = _runtime_with_agent_settings(clean_env, tools=["qa_single"])
    rt.factory.emulator.add_fault("haiku", error="ServiceUnavailableException")
    status, body = handler.handle(agent_event(model="nova_pro"), lambda_context, runtime=rt)
    assert status == 503 and body["ok"] is False
    assert body["error"]["type"] == "ModelUnavailable" and body["error"]["model"] == HAIKU
    assert body["error"]["usage"]["total_tokens"] > 0  # the agent's own Nova call was already billed


def test_a_failing_agent_model_is_a_typed_error(runtime, emulator, lambda_context):
    emulator.add_fault("nova", error="ThrottlingException")
    status, body = handler.handle(agent_event(model="nova_pro"), lambda_context, runtime=runtime)
    assert status == 429 and body["error"]["type"] == "Throttled" and body["error"]["model"] == NOVA


def test_the_deadline_stops_the_agent_between_steps(clean_env, lambda_context):
    # The tool's model answers after 1.2 s; the request allows 0.5 s, so the agent's next call must not start.
    rt = _runtime_with_agent_settings(clean_env, tools=["qa_single"])
    emulator = rt.factory.emulator
    handler.handle(agent_event(model="nova_pro"), lambda_context, runtime=rt)  # warm: imports, graph, clients
    emulator.reset_calls()
    emulator.add_fault("haiku", latency_ms=1200)
    status, body = handler.handle(agent_event(model="nova_pro", timeout_ms=500), lambda_context, runtime=rt)
    assert status == 504 and body["error"]["type"] == "DeadlineExceeded", body
    assert len(emulator.calls_for("nova")) == 1  # the first agent call, not the second
    assert body["error"]["usage"]["total_tokens"] > 0


def _runtime_with_agent_settings(clean_env, **settings):
    data = load_config(env={}).model_dump()
    data["chains"]["agent"]["settings"] = settings
    data["chains"]["qa_single"] = {"prompt": "qa", "strategy": "single", "model": "claude_haiku"}
    return build_runtime(data, backend="local", notice=False)


def test_the_model_call_limit_ends_the_run(clean_env):
    rt = _runtime_with_agent_settings(clean_env, tools=["qa"], max_tool_calls=1, max_model_calls=1)
    result = get_chain("agent", rt).invoke(agent_event()["input"])
    assert result["stop_reason"] == "model_call_limit"
    assert len(result["steps"]) == 1 and "limit" in result["output"].lower()


def test_agent_settings_are_checked(clean_env):
    rt = _runtime_with_agent_settings(clean_env, tools=["qa", "translate"])
    with pytest.raises(ConfigError, match="translate.*configured: "):
        get_chain("agent", rt).invoke(agent_event()["input"])
    rt = _runtime_with_agent_settings(clean_env, tools=["agent"])
    with pytest.raises(ConfigError, match="agents cannot be tools"):
        get_chain("agent", rt).invoke(agent_event()["input"])
    rt = _runtime_with_agent_settings(clean_env, max_tool_calls=0)
    with pytest.raises(ConfigError, match="max_tool_calls"):
        get_chain("agent", rt).invoke(agent_event()["input"])


def test_the_tool_call_limit_is_installed(runtime):
    """bedrock_local answers text after a tool result, so it never asks for a second tool: check the wiring."""
    from langchain.agents.middleware import ToolCallLimitMiddleware

    from chains.strategies.agent import _middleware, settings_for

    agent = get_chain("agent", runtime)
    limits = [m for m in _middleware(settings_for(agent)) if isinstance(m, ToolCallLimitMiddleware)]
    assert [m.run_limit for m in limits] == [agent.cfg.settings.get("max_tool_calls", 3)]


def test_a_tool_input_error_goes_back_to_the_model(clean_env):
    """The agent's model wrote the tool's arguments: an input error is a failed step, not a failed request."""
    data = load_config(env={}).model_dump()
    tiny = dict(data["models"]["claude_haiku"], model_id="example.tiny-v1:0", model_id_env=None,
                context_window=40, max_output_tokens=8)
    data["models"]["tiny"] = tiny  # no request fits it: the router refuses with InputTooLarge (413)
    data["chains"]["qa_tiny"] = {"prompt": "qa", "strategy": "routed", "models": ["tiny"]}
    data["chains"]["agent"]["settings"] = {"tools": ["qa_tiny"]}
    rt = build_runtime(data, backend="local", notice=False)
    result = get_chain("agent", rt).invoke(agent_event()["input"])
    step = result["steps"][0]
    assert step["tool"] == "qa_tiny" and step["ok"] is False and "InputTooLarge" in step["output"]
    assert result["output"] and result["stop_reason"] == "end_turn"


def test_stop_reasons_are_read_from_the_agent_messages():
    """The tool-call limit cannot be reached on bedrock_local (one tool call per run), so read a transcript."""
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from chains.strategies.agent import AgentSettings, _steps

    call = lambda i: {"name": "qa", "args": {"question": f"q{i}"}, "id": f"c{i}", "type": "tool_call"}  # noqa: E731
    transcript = [
        HumanMessage("q"),
        AIMessage("", tool_calls=[call(1), call(2)]),
        ToolMessage("answer 1", tool_call_id="c1", name="qa", artifact={"model": HAIKU, "cost_usd": 0.1}),
        ToolMessage("Tool call limit exceeded. Do not make additional tool calls.", tool_call_id="c2", name="qa",
                    status="error"),
        AIMessage("final", response_metadata={"stopReason": "end_turn"}),
    ]
    steps, stop = _steps(transcript, AgentSettings(max_tool_calls=1))
    assert stop == "tool_call_limit"
    assert [(s["args"]["question"], s["ok"]) for s in steps] == [("q1", True), ("q2", False)]
    assert steps[0]["model"] == HAIKU and "model" not in steps[1]
    steps, stop = _steps(transcript[:3] + [AIMessage("final", response_metadata={"stopReason": "end_turn"})],
                         AgentSettings(max_tool_calls=1))
    assert stop == "end_turn"
