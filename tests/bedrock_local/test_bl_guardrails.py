"""Guardrails from the emulator's configuration, intervening on input and output, with trace."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from bedrock_local import Emulator
from bedrock_local.catalogue import default_catalogue
from bedrock_local.guardrails import load
from bedrock_local.profiles import profiles_from_catalogue

HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
GUARDRAILS = [{
    "id": "gr1finance", "version": "1",
    "blocked_words": ["bitcoin"],
    "blocked_patterns": [{"name": "account", "regex": r"ACC-\d{6}"}],
    "blocked_input_messaging": "Sorry, I cannot discuss that.",
    "blocked_outputs_messaging": "Sorry, the answer was withheld.",
}]
TRACE = {"guardrailIdentifier": "gr1finance", "guardrailVersion": "1", "trace": "enabled"}


@pytest.fixture
def emu():
    return Emulator(profiles_from_catalogue(default_catalogue()), seed=0, guardrails=GUARDRAILS)


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]


def test_input_intervention_answers_with_the_blocked_message_and_trace(client):
    out = client.converse(modelId=HAIKU45, messages=user("Should I buy Bitcoin today?"),
                          guardrailConfig=TRACE)
    assert out["stopReason"] == "guardrail_intervened"
    assert out["output"]["message"]["content"] == [{"text": "Sorry, I cannot discuss that."}]
    words = out["trace"]["guardrail"]["inputAssessment"]["gr1finance"]["wordPolicy"]["customWords"]
    assert words == [{"match": "bitcoin", "action": "BLOCKED", "detected": True}]
    assert out["usage"]["inputTokens"] == 0 and out["usage"]["outputTokens"] == 0


def test_output_intervention_checks_what_the_model_said(client):
    # The question is clean; the extractive answer quotes the account number from the system text.
    out = client.converse(modelId=HAIKU45, guardrailConfig=TRACE,
                          system=[{"text": "The refund goes to account ACC-123456 within a week."}],
                          messages=user("Where does the refund go?"))
    assert out["stopReason"] == "guardrail_intervened"
    assert out["output"]["message"]["content"] == [{"text": "Sorry, the answer was withheld."}]
    trace = out["trace"]["guardrail"]
    regex = trace["outputAssessments"]["gr1finance"][0]["sensitiveInformationPolicy"]["regexes"][0]
    assert regex["match"] == "ACC-123456" and regex["action"] == "BLOCKED"
    assert "wordPolicy" not in trace["inputAssessment"]["gr1finance"]


def test_clean_call_passes_and_trace_only_when_enabled(client):
    out = client.converse(modelId=HAIKU45, messages=user("Hello there"),
                          guardrailConfig={**TRACE, "trace": "disabled"})
    assert out["stopReason"] == "end_turn" and "trace" not in out
    traced = client.converse(modelId=HAIKU45, messages=user("Hello there"), guardrailConfig=TRACE)
    assert "invocationMetrics" in traced["trace"]["guardrail"]["inputAssessment"]["gr1finance"]


def test_guard_content_limits_what_the_input_check_sees(client):
    messages = [{"role": "user", "content": [
        {"text": "Background: my cousin mined bitcoin once."},
        {"guardContent": {"text": {"text": "What is a good savings rate?"}}}]}]
    out = client.converse(modelId=HAIKU45, messages=messages, guardrailConfig=TRACE)
    # Only the guardContent block was checked on input, so the word in the plain text passed
    # (the answer may still quote it, which the output check then catches).
    assert "wordPolicy" not in out["trace"]["guardrail"]["inputAssessment"]["gr1finance"]
    guarded = [{"role": "user", "content": [
        {"text": "Background: nothing to see."},
        {"guardContent": {"text": {"text": "Tell me about bitcoin."}}}]}]
    blocked = client.converse(modelId=HAIKU45, messages=guarded, guardrailConfig=TRACE)
    assert blocked["stopReason"] == "guardrail_intervened"


@pytest.mark.parametrize("config", [
    {"guardrailIdentifier": "nosuchguard", "guardrailVersion": "1"},
    {"guardrailIdentifier": "gr1finance", "guardrailVersion": "7"},
])
def test_unknown_guardrail_or_version_is_refused(client, config):
    with pytest.raises(ClientError) as err:
        client.converse(modelId=HAIKU45, messages=user("Hi"), guardrailConfig=config)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == "The provided guardrail identifier is invalid."


def test_arn_and_draft_name_the_same_guardrail(client):
    arn = "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1finance"
    out = client.converse(modelId=HAIKU45, messages=user("bitcoin?"),
                          guardrailConfig={"guardrailIdentifier": arn, "guardrailVersion": "DRAFT"})
    assert out["stopReason"] == "guardrail_intervened"


def test_stream_with_processing_mode(client):
    events = list(client.converse_stream(
        modelId=HAIKU45, messages=user("Should I buy bitcoin?"),
        guardrailConfig={**TRACE, "streamProcessingMode": "sync"})["stream"])
    text = "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in events
                   if "contentBlockDelta" in e)
    assert text == "Sorry, I cannot discuss that."
    assert next(e for e in events if "messageStop" in e)["messageStop"]["stopReason"] == \
        "guardrail_intervened"
    meta = next(e for e in events if "metadata" in e)["metadata"]
    assert "gr1finance" in meta["trace"]["guardrail"]["inputAssessment"]


@pytest.mark.parametrize("mode", ["http"])
def test_chat_bedrock_converse_with_guardrails(connect, mode):
    from langchain_aws import ChatBedrockConverse

    llm = ChatBedrockConverse(model=HAIKU45, region_name="us-east-1", client=connect(),
                              guardrails=TRACE)
    msg = llm.invoke("Is bitcoin a good investment?")
    assert msg.text == "Sorry, I cannot discuss that."
    assert msg.response_metadata["stopReason"] == "guardrail_intervened"


def test_configuration_from_json_yaml_and_env(tmp_path, monkeypatch):
    yaml_file = tmp_path / "guardrails.yaml"
    yaml_file.write_text("- id: grabc\n  version: 2\n  blocked_words: [secret]\n"
                         "  blockedInputMessaging: No.\n")
    [g] = load(str(yaml_file))
    assert (g.id, g.versions, g.blocked_words, g.blocked_input_messaging) == \
        ("grabc", ("DRAFT", "2"), ("secret",), "No.")
    monkeypatch.setenv("BEDROCK_LOCAL_GUARDRAILS", json.dumps(GUARDRAILS))
    assert len(Emulator().guardrails) == 1
    with pytest.raises(ValueError, match=r"\[a-z0-9\]\+"):
        load([{"id": "Bad-Id"}])
