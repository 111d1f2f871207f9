"""Every Bedrock Runtime operation through real boto3 clients, in-process and over HTTP."""
from __future__ import annotations

import base64
import json

import jsonschema
from bl_helpers import HAIKU, NOVA, SONNET, png_bytes, user

from bedrock_local import count_input_tokens, estimate_tokens

CONTEXT = ("Bedrock Chains answers questions over documents. The emulator runs offline. "
           "Paris is the capital of France. Throttling is retried by botocore.")


def test_converse_answer_is_marked_extractive_and_deterministic(client):
    msgs = user(f"Context: {CONTEXT}\nQuestion: What is the capital of France?")
    r1 = client.converse(modelId=HAIKU, messages=msgs)
    r2 = client.converse(modelId=HAIKU, messages=msgs)
    text = r1["output"]["message"]["content"][0]["text"]
    assert text.startswith(f"[bedrock_local · {HAIKU}] ")
    assert "Paris is the capital of France." in text
    assert r1["output"] == r2["output"]
    assert r1["stopReason"] == "end_turn"
    assert r1["output"]["message"]["role"] == "assistant"
    u = r1["usage"]
    assert u["inputTokens"] == count_input_tokens({"messages": msgs})
    assert u["outputTokens"] == estimate_tokens(text)
    assert u["totalTokens"] == u["inputTokens"] + u["outputTokens"]
    assert isinstance(r1["metrics"]["latencyMs"], int) and r1["metrics"]["latencyMs"] > 0


def test_converse_summary_and_system_context(client):
    r = client.converse(modelId=NOVA, system=[{"text": CONTEXT}],
                        messages=user("Please summarise the text."))
    text = r["output"]["message"]["content"][0]["text"]
    assert "Bedrock Chains answers questions over documents." in text
    assert f"· {NOVA}]" in text


def test_converse_small_talk_echoes(client):
    text = client.converse(modelId=SONNET, messages=user("Hello!"))["output"]["message"]["content"][0]["text"]
    assert text == f'[bedrock_local · {SONNET}] You said: "Hello!"'


def test_answers_are_short_by_default(client):
    long_ctx = " ".join(f"Fact number {i} is about the emulator and tests." for i in range(200))
    r = client.converse(modelId=HAIKU, messages=user(long_ctx + " Summarize."))
    assert r["usage"]["outputTokens"] <= 80


def test_inference_profile_and_arn_ids(client):
    # A geo profile is served only to callers in its geography: from us-east-1 that is us.
    # (eu. from us-east-1 is refused: test_bl_lifecycle.test_geo_profile_outside_its_geography).
    # Claude 3 Haiku has no global. profile; Haiku 4.5 does.
    for mid in (f"us.{HAIKU}", f"us.{NOVA}", "global.anthropic.claude-haiku-4-5-20251001-v1:0",
                f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"):
        r = client.converse(modelId=mid, messages=user("hi"))
        assert r["output"]["message"]["content"][0]["text"].startswith(f"[bedrock_local · {mid}]")


def test_converse_stream_events_and_usage(client, emu):
    msgs = user(f"{CONTEXT} What does the emulator do?")
    resp = client.converse_stream(modelId=HAIKU, messages=msgs)
    assert resp["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = list(resp["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert kinds.count("contentBlockDelta") > 1  # streamed gradually, not in one piece
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    full = client.converse(modelId=HAIKU, messages=msgs)
    assert text == full["output"]["message"]["content"][0]["text"]
    meta = events[-1]["metadata"]
    assert meta["usage"] == full["usage"]
    assert meta["metrics"]["latencyMs"] == full["metrics"]["latencyMs"]
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert [c.operation for c in emu.calls] == ["ConverseStream", "Converse"]


def test_stop_sequence_and_max_tokens(client):
    r = client.converse(modelId=HAIKU, messages=user("Hello there"),
                        inferenceConfig={"stopSequences": ["said"]})
    assert r["stopReason"] == "stop_sequence"
    assert r["output"]["message"]["content"][0]["text"].endswith("You ")
    r = client.converse(modelId=HAIKU, messages=user("Hello there"), inferenceConfig={"maxTokens": 3})
    assert r["stopReason"] == "max_tokens"
    assert r["usage"]["outputTokens"] == 3
    events = list(client.converse_stream(modelId=NOVA, messages=user("Hello there"),
                                         inferenceConfig={"maxTokens": 2})["stream"])
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 2


WEATHER = {"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                        "inputSchema": {"json": {
                            "type": "object",
                            "properties": {
                                "city": {"type": "string"},
                                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                                "hourly": {"type": "boolean"},
                                "ratio": {"type": "number"},
                                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                                "where": {"$ref": "#/$defs/Place"},
                                "note": {"anyOf": [{"type": "null"}, {"type": "string"}]},
                            },
                            "required": ["city", "days", "unit", "hourly", "ratio", "tags", "where", "note"],
                            "$defs": {"Place": {"type": "object", "properties": {
                                "lat": {"type": "number"}, "when": {"type": "string", "format": "date"}},
                                "required": ["lat", "when"]}},
                        }}}}
SEARCH = {"toolSpec": {"name": "search_docs", "description": "Search the documents",
                       "inputSchema": {"json": {"type": "object", "properties": {"query": {"type": "string"}},
                                                "required": ["query"]}}}}


def test_tool_use_validates_against_schema_then_text_after_result(client):
    tools = {"tools": [SEARCH, WEATHER]}
    msgs = user("What is the weather in 'Oslo' for 3 days?")
    r = client.converse(modelId=HAIKU, messages=msgs, toolConfig=tools)
    assert r["stopReason"] == "tool_use"
    use = r["output"]["message"]["content"][0]["toolUse"]
    assert use["name"] == "get_weather"  # chosen by overlap with the question
    jsonschema.validate(use["input"], WEATHER["toolSpec"]["inputSchema"]["json"])
    assert use["input"]["city"] == "Oslo" and use["input"]["days"] == 3
    assert use["toolUseId"].startswith("tooluse_")
    msgs += [r["output"]["message"],
             {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"],
                                                          "content": [{"json": {"forecast": "Sunny in Oslo."}}]}}]}]
    r2 = client.converse(modelId=HAIKU, messages=msgs, toolConfig=tools)
    assert r2["stopReason"] == "end_turn"
    assert "Sunny in Oslo." in r2["output"]["message"]["content"][0]["text"]
    # toolChoice pins the tool.
    r3 = client.converse(modelId=NOVA, messages=user("weather?"),
                         toolConfig={"tools": [SEARCH, WEATHER], "toolChoice": {"tool": {"name": "search_docs"}}})
    assert r3["output"]["message"]["content"][0]["toolUse"]["name"] == "search_docs"


def test_tool_use_streamed(client):
    events = list(client.converse_stream(modelId=NOVA, messages=user("Find 'ducks'"),
                                         toolConfig={"tools": [SEARCH]})["stream"])
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "search_docs"
    args = "".join(e["contentBlockDelta"]["delta"]["toolUse"]["input"]
                   for e in events if "contentBlockDelta" in e)
    assert json.loads(args) == {"query": "ducks"}
    assert events[-2]["messageStop"]["stopReason"] == "tool_use"


def test_image_block_accepted(client):
    msgs = [{"role": "user", "content": [{"text": "What is in this picture?"},
                                         {"image": {"format": "png", "source": {"bytes": png_bytes(4, 3)}}}]}]
    r = client.converse(modelId=NOVA, messages=msgs)
    assert "1 image(s) (png 4x3)" in r["output"]["message"]["content"][0]["text"]


def test_output_config_json_schema(client):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "score": {"type": "integer"}},
              "required": ["answer", "score"], "additionalProperties": False}
    r = client.converse(modelId=HAIKU, messages=user("Rate 'cats' with 9"), outputConfig={"textFormat": {
        "type": "json_schema", "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": "r"}}}})
    data = json.loads(r["output"]["message"]["content"][0]["text"])
    jsonschema.validate(data, schema)
    assert data == {"answer": "cats", "score": 9}


def test_count_tokens_converse_and_invoke(client):
    msgs = user(CONTEXT)
    system = [{"text": "Be brief."}]
    r = client.count_tokens(modelId=HAIKU, input={"converse": {"messages": msgs, "system": system}})
    assert r["inputTokens"] == count_input_tokens({"messages": msgs, "system": system})
    conv = client.converse(modelId=HAIKU, messages=msgs, system=system)
    assert conv["usage"]["inputTokens"] == r["inputTokens"]
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "system": "Be brief.",
            "messages": [{"role": "user", "content": CONTEXT}]}
    r2 = client.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": json.dumps(body).encode()}})
    assert r2["inputTokens"] == r["inputTokens"]


def _invoke(client, model, body):
    r = client.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json",
                            accept="application/json")
    return r, json.loads(r["body"].read())


def test_invoke_model_anthropic(client):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "system": CONTEXT,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]}
    r, out = _invoke(client, HAIKU, body)
    assert out["type"] == "message" and out["role"] == "assistant"
    assert out["model"] == "claude-3-haiku-20240307"
    assert out["content"][0]["type"] == "text"
    assert "Paris is the capital of France." in out["content"][0]["text"]
    assert out["stop_reason"] == "end_turn"
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-amzn-bedrock-input-token-count"]) == out["usage"]["input_tokens"]
    assert int(headers["x-amzn-bedrock-output-token-count"]) == out["usage"]["output_tokens"]
    assert r["contentType"] == "application/json"
    # Tools in the Anthropic format.
    body["tools"] = [{"name": "search_docs", "description": "Search", "input_schema":
                      SEARCH["toolSpec"]["inputSchema"]["json"]}]
    _, out = _invoke(client, HAIKU, body)
    assert out["stop_reason"] == "tool_use" and out["content"][0]["type"] == "tool_use"
    assert set(out["content"][0]["input"]) == {"query"}


def test_invoke_model_nova(client):
    body = {"schemaVersion": "messages-v1", "system": [{"text": CONTEXT}],
            "messages": [{"role": "user", "content": [{"text": "Is throttling retried?"}]}],
            "inferenceConfig": {"maxTokens": 200}}
    _, out = _invoke(client, NOVA, body)
    assert "Throttling is retried by botocore." in out["output"]["message"]["content"][0]["text"]
    assert out["stopReason"] == "end_turn"
    assert out["usage"]["totalTokens"] == out["usage"]["inputTokens"] + out["usage"]["outputTokens"]


def _stream_chunks(client, model, body):
    r = client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))
    assert r["contentType"] == "application/json"
    return [json.loads(e["chunk"]["bytes"]) for e in r["body"]]


def test_invoke_stream_anthropic(client):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}]}
    chunks = _stream_chunks(client, HAIKU, body)
    types = [c["type"] for c in chunks]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    text = "".join(c["delta"]["text"] for c in chunks if c["type"] == "content_block_delta")
    _, out = _invoke(client, HAIKU, body)
    assert text == out["content"][0]["text"]
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == out["usage"]["output_tokens"]
    assert metrics["inputTokenCount"] == out["usage"]["input_tokens"]


def test_invoke_stream_nova(client):
    body = {"messages": [{"role": "user", "content": [{"text": "Hello"}]}], "inferenceConfig": {"maxTokens": 5}}
    chunks = _stream_chunks(client, NOVA, body)
    assert "messageStart" in chunks[0] and "metadata" in chunks[-1]
    assert chunks[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert chunks[-1]["metadata"]["usage"]["outputTokens"] == 5


def test_prefill_json_continuation(client):
    schema = {"properties": {"name": {"type": "string"}}, "required": ["name"]}
    system = [{"text": "Answer in JSON.\n## Response Schema:\n" + json.dumps(schema)}]
    msgs = user("Name it 'Kim'") + [{"role": "assistant", "content": [{"text": "```json"}]}]
    r = client.converse(modelId=NOVA, system=system, messages=msgs, inferenceConfig={"stopSequences": ["```"]})
    assert r["stopReason"] == "stop_sequence"
    assert json.loads(r["output"]["message"]["content"][0]["text"]) == {"name": "Kim"}


def test_bearer_token_is_accepted(emu, mode):
    """Bedrock API keys (AWS_BEARER_TOKEN_BEDROCK) send 'Authorization: Bearer'."""
    reply = emu.handle("POST", f"/model/{HAIKU}/converse", {"Authorization": "Bearer abc"},
                       json.dumps({"messages": user("hi")}).encode())
    assert reply.status == 200


def test_base64_in_json_body(client):
    """Image bytes travel base64-encoded in the JSON body; the emulator decodes them."""
    raw = png_bytes(2, 2)
    msgs = [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": raw}}}]}]
    r = client.converse(modelId=HAIKU, messages=msgs)
    assert "png 2x2" in r["output"]["message"]["content"][0]["text"]
    assert base64.b64encode(raw)  # sanity
