"""Reasoning blocks through boto3 and ChatBedrockConverse, invoke and stream, and the refusals."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bedrock_local import Emulator
from bedrock_local.catalogue import default_catalogue
from bedrock_local.profiles import profiles_from_catalogue

HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA2 = "us.amazon.nova-2-lite-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
THINK = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
QUESTION = [{"role": "user", "content": [{"text": "Context: The lighthouse was built in 1871. "
                                                 "It is painted red. Question: When was it built?"}]}]


@pytest.fixture
def emu():
    return Emulator(profiles_from_catalogue(default_catalogue()), seed=0)


def _error(call):
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_thinking_yields_a_signed_reasoning_block_before_the_answer(client):
    out = client.converse(modelId=HAIKU45, messages=QUESTION, inferenceConfig={"maxTokens": 4096},
                          additionalModelRequestFields=THINK)
    content = out["output"]["message"]["content"]
    reasoning = content[0]["reasoningContent"]["reasoningText"]
    assert "When was it built?" in reasoning["text"] and reasoning["signature"]
    assert "1871" in content[1]["text"]
    plain = client.converse(modelId=HAIKU45, messages=QUESTION, inferenceConfig={"maxTokens": 4096})
    # Reasoning is billed as output.
    assert out["usage"]["outputTokens"] > plain["usage"]["outputTokens"]


def test_stream_sends_reasoning_deltas_then_signature_then_text(client):
    events = list(client.converse_stream(modelId=HAIKU45, messages=QUESTION,
                                         inferenceConfig={"maxTokens": 4096},
                                         additionalModelRequestFields=THINK)["stream"])
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    first = [d["delta"]["reasoningContent"] for d in deltas if d["contentBlockIndex"] == 0]
    assert "".join(r.get("text", "") for r in first).startswith("The user asks")
    assert "signature" in first[-1]
    assert any("text" in d["delta"] for d in deltas if d["contentBlockIndex"] == 1)


def test_reasoning_blocks_in_history_are_accepted(client):
    out = client.converse(modelId=HAIKU45, messages=QUESTION, inferenceConfig={"maxTokens": 4096},
                          additionalModelRequestFields=THINK)
    history = QUESTION + [out["output"]["message"],
                          {"role": "user", "content": [{"text": "And its colour?"}]}]
    again = client.converse(modelId=HAIKU45, messages=history, inferenceConfig={"maxTokens": 4096},
                            additionalModelRequestFields=THINK)
    assert again["stopReason"] == "end_turn"


def test_usage_path_reports_thinking_tokens(client):
    out = client.converse(modelId=HAIKU45, messages=QUESTION, inferenceConfig={"maxTokens": 4096},
                          additionalModelRequestFields=THINK,
                          additionalModelResponseFieldPaths=["/usage"])
    details = out["additionalModelResponseFields"]["usage"]["output_tokens_details"]
    assert 0 < details["thinking_tokens"] < out["usage"]["outputTokens"]


@pytest.mark.parametrize("fields, config, message", [
    ({"thinking": {"type": "enabled", "budget_tokens": 512}}, {"maxTokens": 4096},
     "The model returned the following errors: thinking.enabled.budget_tokens: Input should be "
     "greater than or equal to 1024"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, {"maxTokens": 2048},
     "The model returned the following errors: `max_tokens` must be greater than "
     "`thinking.budget_tokens`. Please consult our documentation at "
     "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking"
     "#max-tokens-and-context-window-size"),
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, {"maxTokens": 4096, "temperature": 0.2},
     "The model returned the following errors: temperature may only be set to 1 when thinking "
     "is enabled."),
])
def test_bedrock_refuses_bad_thinking_configs(client, fields, config, message):
    code, text = _error(lambda: client.converse(modelId=HAIKU45, messages=QUESTION,
                                                inferenceConfig=config,
                                                additionalModelRequestFields=fields))
    assert (code, text) == ("ValidationException", message)


def test_reasoning_on_models_without_it_is_refused(client):
    code, text = _error(lambda: client.converse(modelId=HAIKU3, messages=QUESTION,
                                                additionalModelRequestFields=THINK))
    assert code == "ValidationException" and text.endswith("thinking: Extra inputs are not permitted")
    code, text = _error(lambda: client.converse(
        modelId=NOVA_PRO, messages=QUESTION,
        additionalModelRequestFields={"reasoningConfig": {"type": "enabled",
                                                          "maxReasoningEffort": "low"}}))
    assert "extraneous key [reasoningConfig]" in text


def test_nova2_reasoning_config(client):
    out = client.converse(modelId=NOVA2, messages=QUESTION, additionalModelRequestFields={
        "reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"}})
    block = out["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]
    assert block["text"] and "signature" not in block


@pytest.mark.parametrize("mode", ["http"])
@pytest.mark.parametrize("stream", [False, True])
def test_chat_bedrock_converse_surfaces_reasoning(connect, mode, stream):
    from langchain_aws import ChatBedrockConverse

    llm = ChatBedrockConverse(model=HAIKU45, region_name="us-east-1", client=connect(),
                              max_tokens=4096, additional_model_request_fields=THINK,
                              additional_model_response_field_paths=["/usage"])
    prompt = "Context: The lighthouse was built in 1871. Question: When was it built?"
    if stream:
        msg = None
        for chunk in llm.stream(prompt):
            msg = chunk if msg is None else msg + chunk
    else:
        msg = llm.invoke(prompt)
    kinds = [b["type"] for b in msg.content]
    assert kinds[0] == "reasoning_content" and "text" in kinds
    reasoning = "".join(b["reasoning_content"].get("text", "") for b in msg.content
                        if b["type"] == "reasoning_content")
    assert reasoning.startswith("The user asks")
    assert msg.usage_metadata["output_token_details"]["reasoning"] > 0
    assert "1871" in msg.text


def test_invoke_model_anthropic_thinking_and_cache_control(client):
    import json

    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 4096,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "system": [{"type": "text", "text": "The lighthouse was built in 1871. " * 600,
                        "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": "When was the lighthouse built?"}]}
    out = json.loads(client.invoke_model(modelId=HAIKU45, body=json.dumps(body))["body"].read())
    assert [b["type"] for b in out["content"]] == ["thinking", "text"]
    assert out["content"][0]["signature"]
    assert out["usage"]["cache_creation_input_tokens"] > 4096
    again = json.loads(client.invoke_model(modelId=HAIKU45, body=json.dumps(body))["body"].read())
    assert again["usage"]["cache_read_input_tokens"] == out["usage"]["cache_creation_input_tokens"]
    stream = client.invoke_model_with_response_stream(modelId=HAIKU45, body=json.dumps(body))["body"]
    chunks = [json.loads(e["chunk"]["bytes"]) for e in stream]
    kinds = [c["delta"]["type"] for c in chunks if c["type"] == "content_block_delta"]
    assert kinds[0] == "thinking_delta" and "signature_delta" in kinds and "text_delta" in kinds

