"""The ``bedrock`` control plane through plain boto3 clients (attached in-process, and over HTTP)."""
from __future__ import annotations

import boto3
import pytest
from bl_helpers import NO_RETRY, user

from bedrock_local import Emulator

HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
ROUTER = "arn:aws:bedrock:us-east-1:123456789012:default-prompt-router/anthropic.claude:1"


@pytest.fixture
def cemu():
    return Emulator(seed=0, lifecycle=True)


@pytest.fixture
def clients(cemu, mode):
    """clients(region) -> (bedrock control-plane client, bedrock-runtime client)."""
    servers = []

    def _make(region="us-east-1"):
        s = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
        if mode == "inprocess":
            return (cemu.attach(s.client("bedrock", config=NO_RETRY)),
                    cemu.attach(s.client("bedrock-runtime", config=NO_RETRY)))
        if not servers:
            servers.append(cemu.serve())
        url = servers[0].url
        return (s.client("bedrock", endpoint_url=url, config=NO_RETRY),
                s.client("bedrock-runtime", endpoint_url=url, config=NO_RETRY))

    yield _make
    for srv in servers:
        srv.shutdown()


def _code(call):
    with pytest.raises(Exception) as info:
        call()
    r = info.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_list_foundation_models_and_filters(clients):
    bedrock, _ = clients("us-east-1")
    models = {m["modelId"]: m for m in bedrock.list_foundation_models()["modelSummaries"]}
    assert HAIKU45 in models and NOVA_PRO in models
    assert HAIKU3 not in models  # end of life in us-east-1: no longer listed
    h = models[HAIKU45]
    assert h["providerName"] == "Anthropic" and h["modelLifecycle"]["status"] == "ACTIVE"
    assert h["inferenceTypesSupported"] == ["INFERENCE_PROFILE"]
    assert models[NOVA_PRO]["inferenceTypesSupported"] == ["ON_DEMAND", "INFERENCE_PROFILE"]
    assert h["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU45}"
    amazon = bedrock.list_foundation_models(byProvider="Amazon")["modelSummaries"]
    assert amazon and all(m["providerName"] == "Amazon" for m in amazon)
    on_demand = bedrock.list_foundation_models(byInferenceType="ON_DEMAND")["modelSummaries"]
    assert NOVA_PRO in {m["modelId"] for m in on_demand} and HAIKU45 not in {m["modelId"] for m in on_demand}
    assert bedrock.list_foundation_models(byOutputModality="IMAGE")["modelSummaries"] == []
    # In ca-central-1 Claude 3 Haiku is still active, and listed.
    ca, _ = clients("ca-central-1")
    assert HAIKU3 in {m["modelId"] for m in ca.list_foundation_models()["modelSummaries"]}


def test_get_foundation_model_lifecycle(clients):
    bedrock, _ = clients("ca-central-1")
    d = bedrock.get_foundation_model(modelIdentifier=HAIKU3)["modelDetails"]
    assert d["modelId"] == HAIKU3 and d["modelLifecycle"]["status"] == "ACTIVE"
    assert d["modelLifecycle"]["startOfLifeTime"].year == 2024
    seoul, _ = clients("ap-northeast-2")
    lc = seoul.get_foundation_model(modelIdentifier=HAIKU3)["modelDetails"]["modelLifecycle"]
    assert lc["status"] == "LEGACY" and "legacyTime" in lc
    us, _ = clients("us-east-1")
    assert _code(lambda: us.get_foundation_model(modelIdentifier=HAIKU3)) == (
        "ResourceNotFoundException", 404, "Could not resolve the foundation model from the provided model identifier.")
    assert _code(lambda: us.get_foundation_model(modelIdentifier="nonsense"))[:2] == ("ResourceNotFoundException", 404)


def test_system_inference_profiles(clients):
    bedrock, _ = clients("us-east-1")
    profs = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    ids = {p["inferenceProfileId"] for p in profs}
    assert f"us.{HAIKU45}" in ids and f"global.{HAIKU45}" in ids and f"eu.{HAIKU45}" not in ids
    p = bedrock.get_inference_profile(inferenceProfileIdentifier=f"us.{HAIKU45}")
    assert p["type"] == "SYSTEM_DEFINED" and p["status"] == "ACTIVE"
    assert {m["modelArn"].split(":")[3] for m in p["models"]} == {"us-east-1", "us-east-2", "us-west-2"}
    assert all(m["modelArn"].endswith(HAIKU45) for m in p["models"])
    assert _code(lambda: bedrock.get_inference_profile(inferenceProfileIdentifier="us.nope-v1:0"))[:2] == (
        "ResourceNotFoundException", 404)
    page = bedrock.list_inference_profiles(typeEquals="SYSTEM_DEFINED", maxResults=2)
    assert len(page["inferenceProfileSummaries"]) == 2 and page["nextToken"]


def test_application_profile_lifecycle_tags_and_billing(clients, cemu):
    bedrock, runtime = clients("us-east-1")
    source = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU45}"
    arn = bedrock.create_inference_profile(
        inferenceProfileName="team-a", description="Team A's Haiku", modelSource={"copyFrom": source},
        tags=[{"key": "team", "value": "a"}])["inferenceProfileArn"]
    assert ":application-inference-profile/" in arn
    got = bedrock.get_inference_profile(inferenceProfileIdentifier=arn)
    assert got["type"] == "APPLICATION" and got["inferenceProfileName"] == "team-a"
    assert all(m["modelArn"].endswith(HAIKU45) for m in got["models"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "a"}]
    apps = bedrock.list_inference_profiles(typeEquals="APPLICATION")["inferenceProfileSummaries"]
    assert [a["inferenceProfileArn"] for a in apps] == [arn]
    # A model call through the application profile works and is billed as the base model.
    r = runtime.converse(modelId=arn, messages=user("Hello there"))
    assert r["stopReason"] == "end_turn"
    rec = cemu.calls[-1]
    assert rec.model_id == arn and rec.resolved_model_id == HAIKU45
    price = cemu.catalogue.get(HAIKU45).price
    assert rec.cost_usd == pytest.approx(price.cost(rec.input_tokens, rec.output_tokens)) and rec.cost_usd > 0
    # Deleted: gone from the control plane and from the runtime.
    bedrock.delete_inference_profile(inferenceProfileIdentifier=arn)
    assert _code(lambda: bedrock.get_inference_profile(inferenceProfileIdentifier=arn))[:2] == (
        "ResourceNotFoundException", 404)
    assert _code(lambda: runtime.converse(modelId=arn, messages=user("hi")))[:2] == ("ValidationException", 400)


def test_application_profile_from_a_foundation_model_and_bad_sources(clients):
    bedrock, runtime = clients("us-east-1")
    arn = bedrock.create_inference_profile(
        inferenceProfileName="nova", modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_PRO}"}
    )["inferenceProfileArn"]
    assert runtime.converse(modelId=arn, messages=user("hi"))["stopReason"] == "end_turn"
    eol = f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU3}"
    assert _code(lambda: bedrock.create_inference_profile(
        inferenceProfileName="old", modelSource={"copyFrom": eol}))[:2] == ("ResourceNotFoundException", 404)
    assert _code(lambda: bedrock.create_inference_profile(
        inferenceProfileName="nova", modelSource={"copyFrom": f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_PRO}"}
    ))[0] == "ConflictException"


def test_prompt_routers(clients):
    bedrock, _ = clients("us-east-1")
    routers = bedrock.list_prompt_routers()["promptRouterSummaries"]
    by_arn = {r["promptRouterArn"]: r for r in routers}
    assert ROUTER in by_arn and any("meta.llama" in a for a in by_arn)
    r = bedrock.get_prompt_router(promptRouterArn=ROUTER)
    assert r["type"] == "default" and r["status"] == "AVAILABLE" and len(r["models"]) == 2
    assert r["routingCriteria"]["responseQualityDifference"] == pytest.approx(0.25)
    assert r["fallbackModel"]["modelArn"].endswith(f"us.{SONNET45}")
    missing = ROUTER.replace("anthropic.claude:1", "acme.nothing:1")
    assert _code(lambda: bedrock.get_prompt_router(promptRouterArn=missing))[:2] == ("ResourceNotFoundException", 404)


def test_converse_through_a_prompt_router_reports_the_invoked_model(clients, cemu):
    _, runtime = clients("us-east-1")
    easy = runtime.converse(modelId=ROUTER, messages=user("Hi!"))
    assert easy["trace"]["promptRouter"]["invokedModelId"].endswith(f"inference-profile/us.{HAIKU45}")
    assert cemu.calls[-1].resolved_model_id == HAIKU45
    hard_q = ("Explain step by step why this design is slow, compare it with a queue-based design, "
              "and analyse the trade-offs. ") * 4
    hard = runtime.converse(modelId=ROUTER, messages=user(hard_q))
    assert hard["trace"]["promptRouter"]["invokedModelId"].endswith(f"inference-profile/us.{SONNET45}")
    assert cemu.calls[-1].resolved_model_id == SONNET45
    events = list(runtime.converse_stream(modelId=ROUTER, messages=user(hard_q))["stream"])
    meta = events[-1]["metadata"]
    assert meta["trace"]["promptRouter"]["invokedModelId"].endswith(f"us.{SONNET45}")


def test_attach_refuses_other_services():
    s = boto3.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    with pytest.raises(ValueError):
        Emulator().attach(s.client("s3"))


def test_chat_bedrock_converse_resolves_an_application_profile_through_the_control_plane(clients, cemu):
    """langchain-aws asks GetInferenceProfile for the base model of an application profile ARN."""
    from langchain_aws import ChatBedrockConverse

    bedrock, runtime = clients("us-east-1")
    arn = bedrock.create_inference_profile(inferenceProfileName="lc", modelSource={
        "copyFrom": f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU45}"})["inferenceProfileArn"]
    llm = ChatBedrockConverse(model=arn, provider="anthropic", client=runtime, bedrock_client=bedrock,
                              region_name="us-east-1")
    msg = llm.invoke("hello")
    assert msg.response_metadata["model_name"] == HAIKU45
    assert cemu.calls[-1].model_id == arn and cemu.calls[-1].resolved_model_id == HAIKU45
