"""Service tiers and latency-optimised inference: accepted where offered, echoed, flex throttled alone."""
from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bedrock_local import Emulator
from bedrock_local.catalogue import default_catalogue
from bedrock_local.profiles import profiles_from_catalogue

NOVA_PRO = "amazon.nova-pro-v1:0"          # default, flex, priority; optimized in us-east-2
HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # default only
HAIKU35 = "us.anthropic.claude-3-5-haiku-20241022-v1:0"  # optimized in us-east-2
MSG = [{"role": "user", "content": [{"text": "Hello there"}]}]


@pytest.fixture
def emu():
    return Emulator(profiles_from_catalogue(default_catalogue()), seed=0)


def test_tier_is_echoed_in_converse_and_stream(client):
    out = client.converse(modelId=NOVA_PRO, messages=MSG, serviceTier={"type": "flex"})
    assert out["serviceTier"] == {"type": "flex"}
    events = list(client.converse_stream(modelId=NOVA_PRO, messages=MSG,
                                         serviceTier={"type": "priority"})["stream"])
    assert next(e for e in events if "metadata" in e)["metadata"]["serviceTier"] == {"type": "priority"}
    assert "serviceTier" not in client.converse(modelId=NOVA_PRO, messages=MSG)


@pytest.mark.parametrize("model, tier, message", [
    (HAIKU45, "flex", "service tier provided is invalid"),
    (NOVA_PRO, "reserved", "Reservation not found."),
])
def test_tiers_the_model_does_not_offer_are_refused(client, model, tier, message):
    with pytest.raises(ClientError) as err:
        client.converse(modelId=model, messages=MSG, serviceTier={"type": tier})
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == message


def test_default_tier_is_accepted_everywhere(client):
    assert client.converse(modelId=HAIKU45, messages=MSG,
                           serviceTier={"type": "default"})["serviceTier"] == {"type": "default"}


def _client_in(emu, region):
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=region)
    return emu.attach(session.client("bedrock-runtime",
                                     config=Config(retries={"total_max_attempts": 1})))


def test_latency_optimized_where_offered(emu):
    ohio, virginia = _client_in(emu, "us-east-2"), _client_in(emu, "us-east-1")
    fast = ohio.converse(modelId=HAIKU35, messages=MSG, performanceConfig={"latency": "optimized"})
    assert fast["performanceConfig"] == {"latency": "optimized"}
    std = virginia.converse(modelId=HAIKU35, messages=MSG, performanceConfig={"latency": "standard"})
    assert std["performanceConfig"] == {"latency": "standard"}
    # Elsewhere request_fields.check_performance refuses it (its text is marked an estimate there).
    with pytest.raises(ClientError) as err:
        virginia.converse(modelId=HAIKU35, messages=MSG, performanceConfig={"latency": "optimized"})
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_latency_value_is_refused(client):
    with pytest.raises(ClientError) as err:
        client.converse(modelId=NOVA_PRO, messages=MSG, performanceConfig={"latency": "turbo"})
    assert err.value.response["Error"]["Message"].endswith(
        "Value 'turbo' at 'performanceConfig.latency' failed to satisfy constraint: Member must "
        "satisfy enum value set: [optimized, standard]")


def test_flex_can_be_throttled_alone(emu, client):
    emu.add_fault(model=NOVA_PRO, error="ThrottlingException", service_tier="flex")
    with pytest.raises(ClientError) as err:
        client.converse(modelId=NOVA_PRO, messages=MSG, serviceTier={"type": "flex"})
    assert err.value.response["Error"]["Code"] == "ThrottlingException"
    assert client.converse(modelId=NOVA_PRO, messages=MSG)["stopReason"] == "end_turn"
    assert client.converse(modelId=NOVA_PRO, messages=MSG,
                           serviceTier={"type": "priority"})["stopReason"] == "end_turn"


def test_flex_rule_from_json(monkeypatch):
    from bedrock_local.faults import rules_from_json

    [rule] = rules_from_json('[{"model": "nova", "error": "ThrottlingException", '
                             '"service_tier": "flex", "rate": 0.5}]')
    assert rule.service_tier == "flex" and rule.matches(NOVA_PRO, None, "flex")
    assert not rule.matches(NOVA_PRO, None, "default")


@pytest.mark.parametrize("mode", ["http"])
def test_chat_bedrock_converse_service_tier(connect, mode):
    from langchain_aws import ChatBedrockConverse

    llm = ChatBedrockConverse(model=NOVA_PRO, region_name="us-east-1", client=connect(),
                              service_tier="flex")
    msg = llm.invoke("Hello there")
    assert msg.response_metadata.get("serviceTier") == {"type": "flex"}
