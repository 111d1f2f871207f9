"""Errors as Bedrock sends them: HTTP status, x-amzn-ErrorType, botocore ClientError code."""
from __future__ import annotations

import json
import urllib.request

import botocore
import pytest
from bl_helpers import HAIKU, NOVA, make_client, user
from botocore.config import Config
from botocore.exceptions import ClientError

CODES = {
    "ThrottlingException": 429, "ModelTimeoutException": 408, "ServiceUnavailableException": 503,
    "InternalServerException": 500, "ValidationException": 400, "AccessDeniedException": 403,
    "ResourceNotFoundException": 404, "ModelNotReadyException": 429, "ModelErrorException": 424,
}


def _err(call):
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Message"]


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_error_code_on_every_operation(client, emu, code):
    emu.add_fault("claude_haiku", error=code)
    calls = {
        "Converse": lambda: client.converse(modelId=HAIKU, messages=user("hi")),
        "ConverseStream": lambda: client.converse_stream(modelId=HAIKU, messages=user("hi")),
        "CountTokens": lambda: client.count_tokens(modelId=HAIKU, input={"converse": {"messages": user("hi")}}),
        "InvokeModel": lambda: client.invoke_model(modelId=HAIKU, body=b"{}"),
        "InvokeModelWithResponseStream": lambda: client.invoke_model_with_response_stream(
            modelId=HAIKU, body=b"{}"),
    }
    for op, call in calls.items():
        got_code, status, _ = _err(call)
        assert (got_code, status) == (code, CODES[code]), op
    # The exception class is the modelled one where botocore has it.
    if hasattr(client.exceptions, code):
        with pytest.raises(getattr(client.exceptions, code)):
            client.converse(modelId=HAIKU, messages=user("hi"))
    assert [c.error for c in emu.calls] == [code] * 6
    assert all(c.status == CODES[code] for c in emu.calls)
    # Other models are unaffected.
    assert client.converse(modelId=NOVA, messages=user("hi"))["stopReason"] == "end_turn"


def test_custom_message_end_of_life(client, emu):
    emu.add_fault("haiku", error="ValidationException", message="The provided model identifier is invalid.")
    assert _err(lambda: client.converse(modelId=HAIKU, messages=user("hi"))) == (
        "ValidationException", 400, "The provided model identifier is invalid.")


def test_unknown_model_id(client):
    for mid in ("anthropic.claude-9-v1:0", "us.amazon.nova-mega-v1:0", "nonsense"):
        assert _err(lambda: client.converse(modelId=mid, messages=user("hi"))) == (
            "ValidationException", 400, "The provided model identifier is invalid.")
    assert _err(lambda: client.invoke_model(modelId="nonsense", body=b"{}"))[0] == "ValidationException"


@pytest.mark.parametrize("messages, fragment", [
    ([], "must start with a user message"),
    ([{"role": "assistant", "content": [{"text": "hi"}]}], "must start with a user message"),
    (user("a") + user("b"), "must alternate between user and assistant"),
    ([{"role": "user", "content": [{"text": "  "}]}], "is blank"),
    ([{"role": "user", "content": []}], "is empty"),
    ([{"role": "user", "content": [{"toolResult": {"toolUseId": "x", "content": [{"text": "r"}]}}]}],
     "toolConfig field must be defined"),
])
def test_conversation_validation(client, messages, fragment):
    code, status, msg = _err(lambda: client.converse(modelId=HAIKU, messages=messages))
    assert (code, status) == ("ValidationException", 400)
    assert fragment in msg


def test_max_tokens_above_model_limit(client):
    code, status, msg = _err(lambda: client.converse(modelId=HAIKU, messages=user("hi"),
                                                     inferenceConfig={"maxTokens": 4097}))
    assert (code, status) == ("ValidationException", 400) and "4096" in msg
    # At the limit is fine; Nova's limit is higher.
    client.converse(modelId=HAIKU, messages=user("hi"), inferenceConfig={"maxTokens": 4096})
    client.converse(modelId=NOVA, messages=user("hi"), inferenceConfig={"maxTokens": 5000})
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10_000, "messages": user("hi")}
    assert _err(lambda: client.invoke_model(modelId=HAIKU, body=json.dumps(body)))[0] == "ValidationException"


def test_input_too_long(client, emu):
    text = "x" * (200_000 * 4 + 4)  # one token over Claude's window by the documented estimator
    code, status, msg = _err(lambda: client.converse(modelId=HAIKU, messages=user(text)))
    assert (code, status, msg) == ("ValidationException", 400, "Input is too long for requested model.")
    # Nova Pro has a 300K window: the same text fits.
    assert client.count_tokens(modelId=NOVA, input={"converse": {"messages": user(text)}})["inputTokens"] > 200_000
    assert emu.calls[0].input_tokens == 0 or emu.calls[0].error == "ValidationException"


def test_invoke_body_validation(client):
    assert "anthropic_version" in _err(lambda: client.invoke_model(
        modelId=HAIKU, body=json.dumps({"max_tokens": 5, "messages": user("hi")})))[2]
    assert "max_tokens" in _err(lambda: client.invoke_model(
        modelId=HAIKU, body=json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": user("hi")})))[2]
    assert _err(lambda: client.invoke_model(modelId=NOVA, body=b"not json"))[0] == "ValidationException"


def test_non_vision_model_rejects_images(emu, mode):
    from dataclasses import replace

    from bedrock_local import Emulator
    from bl_helpers import png_bytes
    profiles = {k: replace(v, vision=False, tools=False) for k, v in emu.profiles.items()}
    local = Emulator(profiles)
    c = local.attach(make_client())
    msgs = [{"role": "user", "content": [{"image": {"format": "png", "source": {"bytes": png_bytes()}}}]}]
    assert "image content block" in _err(lambda: c.converse(modelId=HAIKU, messages=msgs))[2]
    tools = {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}]}
    assert "tool use" in _err(lambda: c.converse(modelId=HAIKU, messages=user("hi"), toolConfig=tools))[2]


def test_unsigned_request_gets_403_over_http(emu):
    with emu.serve() as server:
        req = urllib.request.Request(f"{server.url}/model/{HAIKU}/converse", method="POST",
                                     data=json.dumps({"messages": user("hi")}).encode(),
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)
        assert info.value.code == 403
        assert info.value.headers["x-amzn-ErrorType"].startswith("AccessDeniedException")
        # Bedrock's own body for this 403 has a capital "Message" (issue 16 / FACTS.md).
        assert json.loads(info.value.read()) == {"Message": "Authorization header is missing"}
        # botocore's UNSIGNED mode sends no Authorization header either.
        c = make_client(server.url, Config(signature_version=botocore.UNSIGNED,
                                           retries={"total_max_attempts": 1}))
        assert _err(lambda: c.converse(modelId=HAIKU, messages=user("hi")))[:2] == ("AccessDeniedException", 403)
        # A signed request to the same server succeeds.
        assert make_client(server.url).converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"


def test_unknown_path_is_404_over_http(emu):
    with emu.serve() as server:
        # /foundation-models is the control plane now (test_bl_control_plane.py); this path is nothing.
        req = urllib.request.Request(f"{server.url}/no-such-operation", headers={"Authorization": "x"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)
        assert info.value.code == 404


def test_signed_request_reaches_emulator_with_sigv4(emu, mode):
    """The in-process hook sees the request after botocore signed it."""
    seen = {}
    original = emu.handle

    def spy(method, path, headers, body):
        seen.update(headers)
        seen["path"] = path
        return original(method, path, headers, body)

    emu.handle = spy
    if mode == "inprocess":
        c = emu.attach(make_client())
        c.converse(modelId=HAIKU, messages=user("hi"))
    else:
        with emu.serve() as server:
            make_client(server.url).converse(modelId=HAIKU, messages=user("hi"))
    auth = {k.lower(): v for k, v in seen.items()}["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=testing/") and "/bedrock/aws4_request" in auth
    assert seen["path"] == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"


def test_retries_are_botocore_s(emu, mode, connect, monkeypatch):
    """Throttling is retried by botocore's standard mode; ModelTimeout is not (FACTS.md)."""
    import botocore.retries.standard as standard

    # Keep botocore's retry decisions, skip its (random, up to seconds) backoff sleeps.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0.001)
    c = connect(Config(retries={"mode": "standard", "total_max_attempts": 3}))
    emu.add_fault("haiku", error="ThrottlingException", first_n=2)
    r = c.converse(modelId=HAIKU, messages=user("hi"))
    assert r["ResponseMetadata"]["RetryAttempts"] == 2
    assert [x.error for x in emu.calls] == ["ThrottlingException", "ThrottlingException", None]
    emu.reset_calls()
    emu.clear_faults()
    emu.add_fault("haiku", error="ModelTimeoutException")
    with pytest.raises(ClientError):
        c.converse(modelId=HAIKU, messages=user("hi"))
    assert len(emu.calls) == 1
