"""options.guardrail / chains.<name>.guardrail on bedrock_local: an intervention is Bedrock's answer (ok, stop
reason, the guardrail's message, a trace summary) and never falls over to another model."""

from __future__ import annotations

import json

import pytest

import handler
from chains import build_runtime, load_config

GUARDRAILS = [{
    "id": "gr1finance", "version": "1",
    "blocked_words": ["bitcoin"],
    "blocked_input_messaging": "Sorry, I cannot discuss that.",
    "blocked_outputs_messaging": "Sorry, the answer was withheld.",
}]
GR = {"id": "gr1finance", "version": "1", "trace": True}
MODELS = ("claude_haiku", "nova_pro", "claude_sonnet")


@pytest.fixture
def rt(clean_env):
    clean_env.setenv("BEDROCK_LOCAL_GUARDRAILS", json.dumps(GUARDRAILS))
    return build_runtime(backend="local", notice=False)


def ask(runtime, question, chain="qa_fallback", **options):
    return handler.handle({"chain": chain, "input": {"question": question}, "options": options or None}, None,
                          runtime=runtime)


def calls(emulator):
    return sum(len(emulator.calls_for(m)) for m in MODELS)


def test_input_intervention_is_the_answer_not_a_fall_over(rt):
    emu = rt.factory.emulator
    status, body = ask(rt, "Should I buy Bitcoin today?", guardrail=GR)
    assert status == 200 and body["ok"] is True
    assert body["stop_reason"] == "guardrail_intervened"
    assert body["output"] == "Sorry, I cannot discuss that."
    assert body["attempts"] == [] and calls(emu) == 1  # one call: no other model was asked
    assert body["guardrail"] == {"id": "gr1finance", "version": "1", "action": "INTERVENED",
                                 "assessments": {"input": ["wordPolicy"], "output": []}}
    sent = emu.calls[-1].body["guardrailConfig"]
    assert sent == {"guardrailIdentifier": "gr1finance", "guardrailVersion": "1", "trace": "enabled"}


def test_a_clean_request_answers_normally_through_the_guardrail(rt):
    status, body = ask(rt, "What is Amazon S3?", guardrail={**GR, "trace": False})
    assert status == 200 and body["stop_reason"] == "end_turn"
    assert body["output"] and "Sorry" not in body["output"]
    assert body["guardrail"] == {"id": "gr1finance", "version": "1", "action": "NONE"}


def test_the_chain_guardrail_applies_unless_the_request_names_one(clean_env):
    clean_env.setenv("BEDROCK_LOCAL_GUARDRAILS", json.dumps(GUARDRAILS))
    data = load_config(env={}).model_dump()
    data["chains"]["qa"]["guardrail"] = {"id": "gr1finance", "version": "1"}
    runtime = build_runtime(data, backend="local", notice=False)
    status, body = ask(runtime, "Tell me about bitcoin", chain="qa")
    assert status == 200 and body["stop_reason"] == "guardrail_intervened"
    assert body["guardrail"]["action"] == "INTERVENED" and "assessments" not in body["guardrail"]
    # The streamed answer is the same: the guardrail's message, no fall over.
    chunks = list(runtime_chain(runtime).stream({"question": "Tell me about bitcoin"}))
    assert "".join(c.get("output", "") for c in chunks) == "Sorry, I cannot discuss that."
    assert [c["stop_reason"] for c in chunks if "stop_reason" in c] == ["guardrail_intervened"]


def runtime_chain(runtime):
    from chains import get_chain

    return get_chain("qa", runtime)


def test_a_bad_guardrail_option_is_a_400_naming_the_field(rt):
    status, body = ask(rt, "What is S3?", guardrail={"id": "gr1finance", "versoin": "1"})
    assert status == 400 and "guardrail" in body["error"]["message"]
    status, body = ask(rt, "What is S3?", guardrail={"id": "gr1finance", "version": "latest"})
    assert status == 400 and "options.guardrail.version" in body["error"]["message"]
