"""Model lifecycle, addressing and request-field refusals through real boto3, in Bedrock's words.

Every emulator here is built with lifecycle=True (the default on Bedrock); the region comes
from the SigV4 credential scope, i.e. the client's region_name.
"""
from __future__ import annotations

import json

import boto3
import pytest
from bl_helpers import NO_RETRY, png_bytes, user
from botocore.config import Config

from bedrock_local import Emulator
from bedrock_local.catalogue_errors import END_OF_LIFE, LEGACY_INACTIVE

HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
LLAMA = "meta.llama3-1-8b-instruct-v1:0"
ON_DEMAND = ("Invocation of model ID {} with on-demand throughput isn't supported. Retry your request with "
             "the ID or ARN of an inference profile that contains this model.")


@pytest.fixture
def lemu():
    return Emulator(seed=0, lifecycle=True)


@pytest.fixture
def runtime(lemu, mode):
    """runtime(region, config=...) -> a bedrock-runtime client for ``lemu`` in the current mode."""
    servers = []

    def _make(region="us-east-1", config=NO_RETRY):
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
        if mode == "inprocess":
            return lemu.attach(session.client("bedrock-runtime", config=config))
        if not servers:
            servers.append(lemu.serve())
        return session.client("bedrock-runtime", endpoint_url=servers[0].url, config=config)

    yield _make
    for s in servers:
        s.shutdown()


def _err(call):
    with pytest.raises(Exception) as info:
        call()
    r = info.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def _all_ops(client, model_id):
    """The same question through Converse, ConverseStream, CountTokens and InvokeModel."""
    msgs = user("hi")
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": msgs}
                      if "anthropic" in model_id else {"messages": msgs})
    return [
        lambda: client.converse(modelId=model_id, messages=msgs),
        lambda: client.converse_stream(modelId=model_id, messages=msgs),
        lambda: client.count_tokens(modelId=model_id, input={"converse": {"messages": msgs}}),
        lambda: client.invoke_model(modelId=model_id, body=body),
    ]


def test_end_of_life_in_us_east_1_on_every_operation(runtime):
    c = runtime("us-east-1")
    for call in _all_ops(c, HAIKU3):
        assert _err(call) == ("ResourceNotFoundException", 404, END_OF_LIFE)
    assert _err(lambda: c.converse(modelId=f"us.{HAIKU3}", messages=user("hi")))[:2] == (
        "ResourceNotFoundException", 404)


def test_same_model_still_active_in_ca_central_1(runtime):
    c = runtime("ca-central-1")
    r = c.converse(modelId=HAIKU3, messages=user("hi"))
    assert r["stopReason"] == "end_turn"


def test_profile_only_model_by_bare_id_is_refused_and_us_profile_accepted(runtime, lemu):
    c = runtime("us-east-1")
    for call in _all_ops(c, HAIKU45):
        assert _err(call) == ("ValidationException", 400, ON_DEMAND.format(HAIKU45))
    r = c.converse(modelId=f"us.{HAIKU45}", messages=user("hi"))
    assert r["output"]["message"]["content"][0]["text"].startswith(f"[bedrock_local · us.{HAIKU45}]")
    assert lemu.calls[-1].resolved_model_id == HAIKU45 and lemu.calls[-1].region == "us-east-1"
    # Nova Pro takes its bare id in us-east-1 ...
    assert c.converse(modelId=NOVA_PRO, messages=user("hi"))["stopReason"] == "end_turn"
    # ... but not in us-west-2, where it is served through the us. profile only.
    w = runtime("us-west-2")
    assert _err(lambda: w.converse(modelId=NOVA_PRO, messages=user("hi")))[2] == ON_DEMAND.format(NOVA_PRO)
    assert w.converse(modelId=f"us.{NOVA_PRO}", messages=user("hi"))["stopReason"] == "end_turn"


def test_geo_profile_outside_its_geography(runtime):
    assert _err(lambda: runtime("us-east-1").converse(modelId=f"eu.{HAIKU45}", messages=user("hi"))) == (
        "ValidationException", 400, "The provided model identifier is invalid.")
    assert runtime("eu-west-1").converse(modelId=f"eu.{HAIKU45}", messages=user("hi"))["stopReason"]
    assert runtime("eu-west-1").converse(modelId=f"global.{HAIKU45}", messages=user("hi"))["stopReason"]


def test_legacy_inactive_fault_only_hits_legacy_models(runtime, lemu):
    lemu.add_fault("*", legacy_inactive=True)
    seoul = runtime("ap-northeast-2")  # Claude 3 Haiku is LEGACY there
    assert _err(lambda: seoul.converse(modelId=HAIKU3, messages=user("hi"))) == (
        "ResourceNotFoundException", 404, LEGACY_INACTIVE)
    assert seoul.converse(modelId=f"apac.{HAIKU45}", messages=user("hi"))["stopReason"] == "end_turn"


def test_lifecycle_off_serves_retired_models():
    emu = Emulator(lifecycle=False)
    c = emu.attach(boto3.Session(aws_access_key_id="t", aws_secret_access_key="t",
                                 region_name="us-east-1").client("bedrock-runtime", config=NO_RETRY))
    assert c.converse(modelId=HAIKU3, messages=user("hi"))["stopReason"] == "end_turn"


# ---------------------------------------------------------------------------- request fields
def _converse(c, model=f"us.{HAIKU45}", **kw):
    return lambda: c.converse(modelId=model, messages=kw.pop("messages", user("hi")), **kw)


def test_cache_point_on_a_model_without_prompt_caching(runtime):
    c = runtime("us-west-2")
    msgs = [{"role": "user", "content": [{"text": "hi"}, {"cachePoint": {"type": "default"}}]}]
    assert _err(_converse(c, LLAMA, messages=msgs)) == (
        "AccessDeniedException", 403, "You invoked an unsupported model or your request did not allow "
        "prompt caching. See the documentation for more information.")
    # A model with prompt caching accepts the same request.
    assert c.converse(modelId=f"us.{HAIKU45}", messages=msgs)["stopReason"] == "end_turn"


def test_reasoning_and_unknown_fields_on_anthropic(runtime):
    c = runtime("ca-central-1")  # Claude 3 Haiku: active there, no extended thinking
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert _err(_converse(c, HAIKU3, additionalModelRequestFields=thinking)) == (
        "ValidationException", 400, "The model returned the following errors: thinking: Extra inputs are not permitted")
    assert _err(_converse(c, HAIKU3, additionalModelRequestFields={"guardrails": 1}))[2] == (
        "The model returned the following errors: guardrails: Extra inputs are not permitted")
    us = runtime("us-east-1")
    assert us.converse(modelId=f"us.{HAIKU45}", messages=user("hi"), inferenceConfig={"maxTokens": 2000},
                       additionalModelRequestFields=thinking)["stopReason"]


def test_reasoning_config_on_nova_without_reasoning(runtime):
    c = runtime("us-east-1")
    cfg = {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"}}
    assert _err(_converse(c, NOVA_PRO, additionalModelRequestFields=cfg)) == (
        "ValidationException", 400, "The model returned the following errors: Malformed input request: #: "
        "extraneous key [reasoningConfig] is not permitted, please reformat your input and try again.")
    assert c.converse(modelId="us.amazon.nova-2-lite-v1:0", messages=user("hi"),
                      additionalModelRequestFields=cfg)["stopReason"]


def test_service_tier_and_latency_the_model_does_not_offer(runtime):
    c = runtime("us-east-1")
    assert _err(_converse(c, serviceTier={"type": "flex"})) == (
        "ValidationException", 400, "service tier provided is invalid")
    assert _err(_converse(c, serviceTier={"type": "reserved"}))[2] == "Reservation not found."
    assert c.converse(modelId=NOVA_PRO, messages=user("hi"), serviceTier={"type": "flex"})["stopReason"]
    assert _err(_converse(c, performanceConfig={"latency": "turbo"}))[2] == (
        "Value 'turbo' at 'performanceConfig.latency' failed to satisfy constraint: "
        "Member must satisfy enum value set: [optimized, standard]")
    assert _err(_converse(c, performanceConfig={"latency": "optimized"}))[:2] == ("ValidationException", 400)
    ohio = runtime("us-east-2")  # Nova Pro's latency-optimized region
    assert ohio.converse(modelId=f"us.{NOVA_PRO}", messages=user("hi"),
                         performanceConfig={"latency": "optimized"})["stopReason"]


def test_tool_choice_the_model_does_not_offer(runtime):
    c = runtime("us-west-2")
    tools = [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}]
    for mode, value in (("any", {}), ("tool", {"name": "t"})):
        cfg = {"tools": tools, "toolChoice": {mode: value}}
        assert _err(_converse(c, LLAMA, toolConfig=cfg)) == (
            "ValidationException", 400, f"This model doesn't support the toolConfig.toolChoice.{mode} field. "
            f"Remove toolConfig.toolChoice.{mode} and try again.")
    assert c.converse(modelId=LLAMA, messages=user("hi"), toolConfig={"tools": tools, "toolChoice": {"auto": {}}})


def test_unknown_guardrail(runtime, lemu):
    c = runtime("us-east-1")
    cfg = {"guardrailIdentifier": "abc123", "guardrailVersion": "1"}
    assert _err(_converse(c, guardrailConfig=cfg)) == (
        "ValidationException", 400, "The provided guardrail identifier is invalid.")
    lemu.guardrails["abc123"] = {}
    assert c.converse(modelId=f"us.{HAIKU45}", messages=user("hi"), guardrailConfig=cfg)["stopReason"]


@pytest.mark.parametrize("name, ok", [
    ("report", True), ("Q3 report (final) [v2]-x_y", True), ("report.pdf", False),
    ("John's report", False), ("two  spaces", False), ("résumé", False), ("x" * 201, False),
])
def test_document_names(runtime, name, ok):
    c = runtime("us-east-1")
    msgs = [{"role": "user", "content": [{"text": "Read it."}, {"document": {
        "format": "txt", "name": name, "source": {"bytes": b"Some text."}}}]}]
    if ok:
        assert c.converse(modelId=f"us.{HAIKU45}", messages=msgs)["stopReason"]
    else:
        code, status, msg = _err(_converse(c, messages=msgs))
        assert (code, status) == ("ValidationException", 400)
        assert msg.startswith("The document file name can only contain alphanumeric characters, whitespace "
                              "characters, hyphens, parentheses, and square brackets.")


def test_temperature_and_max_tokens_bounds(runtime, mode):
    # botocore validates maxTokens >= 1 itself; turn its checks off to reach the service, as a
    # non-boto3 client would.
    c = runtime("us-east-1", Config(retries={"total_max_attempts": 1}, parameter_validation=False))
    assert _err(_converse(c, inferenceConfig={"temperature": 1.5})) == (
        "ValidationException", 400, "Value '1.5' at 'inferenceConfig.temperature' failed to satisfy constraint: "
        "Member must have value less than or equal to 1")
    assert _err(_converse(c, inferenceConfig={"maxTokens": 0})) == (
        "ValidationException", 400, "Value '0' at 'inferenceConfig.maxTokens' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")


def test_unsigned_request_body(lemu):
    import urllib.error
    import urllib.request

    with lemu.serve() as server:
        req = urllib.request.Request(f"{server.url}/model/{NOVA_PRO}/converse", method="POST",
                                     data=json.dumps({"messages": user("hi")}).encode())
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=5)
        assert info.value.code == 403
        assert json.loads(info.value.read()) == {"Message": "Authorization header is missing"}


# ---------------------------------------------------------------------------- token overheads
def test_tool_image_and_pdf_overheads_in_usage_and_count_tokens(runtime, lemu):
    c = runtime("us-east-1")
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather for a city",
                                     "inputSchema": {"json": {"type": "object", "properties": {
                                         "city": {"type": "string"}}, "required": ["city"]}}}}]}
    plain = c.count_tokens(modelId=f"us.{HAIKU45}", input={"converse": {"messages": user("Weather in Oslo?")}})
    with_tool = c.count_tokens(modelId=f"us.{HAIKU45}", input={"converse": {
        "messages": user("Weather in Oslo?"), "toolConfig": tools}})
    # Claude 4.x tool-use system prompt (346, auto) plus the tool's own JSON.
    assert with_tool["inputTokens"] - plain["inputTokens"] >= 346
    r = c.converse(modelId=f"us.{HAIKU45}", messages=user("Weather in Oslo?"), toolConfig=tools)
    assert r["usage"]["inputTokens"] == with_tool["inputTokens"] == lemu.calls[-1].input_tokens
    img = [{"role": "user", "content": [{"text": "What is this?"},
                                        {"image": {"format": "png", "source": {"bytes": png_bytes(300, 200)}}}]}]
    n = c.count_tokens(modelId=f"us.{HAIKU45}", input={"converse": {"messages": img}})["inputTokens"]
    assert n >= 300 * 200 // 750  # Anthropic: width*height/750
    nova = c.count_tokens(modelId=NOVA_PRO, input={"converse": {"messages": img}})["inputTokens"]
    assert nova >= 1800  # Nova: ~1,800 per small image (measured)


def test_cli_enforces_lifecycle_unless_told_not_to():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from bl_helpers import make_client

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "BEDROCK_LOCAL_LIFECYCLE": "1"}
    outcomes = []
    for extra in ([], ["--no-lifecycle"]):
        proc = subprocess.Popen([sys.executable, "-m", "bedrock_local", "--port", "0", "--latency-scale", "0", *extra],
                                cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            c = make_client(proc.stdout.readline().strip())
            try:
                outcomes.append(c.converse(modelId=HAIKU3, messages=user("hi"))["stopReason"])
            except Exception as exc:  # noqa: BLE001 - the ClientError is the outcome under test
                outcomes.append(exc.response["Error"]["Code"])
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert outcomes == ["ResourceNotFoundException", "end_turn"]


def test_region_comes_from_the_sigv4_scope_then_the_host():
    from bedrock_local.catalogue import region_from_headers

    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/eu-west-3/bedrock/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc")
    assert region_from_headers({"Authorization": auth, "Host": "bedrock-runtime.us-east-1.amazonaws.com"}) == "eu-west-3"
    assert region_from_headers({"Authorization": "Bearer token", "Host": "bedrock-runtime.ap-south-1.amazonaws.com"}) \
        == "ap-south-1"
    assert region_from_headers({"Authorization": "Bearer token"}, default="ca-central-1") == "ca-central-1"
