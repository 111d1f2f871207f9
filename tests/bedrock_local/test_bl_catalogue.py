"""The model catalogue: data completeness, addressing and lifecycle per region, config overrides."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from bedrock_local import catalogue as cat_mod
from bedrock_local.catalogue import (APPLICATION_PROFILE, BARE, FOUNDATION_MODEL_ARN, PROMPT_ROUTER,
                                     SYSTEM_PROFILE, default_catalogue, load_catalogue)
from bedrock_local.catalogue_errors import EndOfLife, InvalidModelIdentifier, OnDemandNotSupported

HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
TODAY = dt.date(2026, 12, 1)

REQUIRED = {  # the models issue 16 names, by name
    "Claude 3 Haiku", "Claude 3 Sonnet", "Claude 3.5 Haiku", "Claude Haiku 4.5", "Claude Sonnet 4",
    "Claude Sonnet 4.5", "Claude Sonnet 4.6", "Claude Sonnet 5.5", "Claude Opus 5.5", "Nova Micro",
    "Nova Lite", "Nova Pro", "Nova Premier", "Nova 2 Lite",
}


def test_catalogue_names_every_required_model_with_sources():
    entries = default_catalogue().entries()
    names = {e.name for e in entries}
    assert REQUIRED <= names
    assert {e.provider for e in entries} >= {"Anthropic", "Amazon", "Meta", "Mistral AI", "OpenAI"}
    for e in entries:
        assert e.sources.get("lifecycle") and e.sources.get("prices"), e.id
        assert e.context_window > 0 and e.max_output_tokens > 0 and e.price.input > 0
    raw = json.loads(cat_mod.DATA_FILE.read_text())
    for rec in raw["models"]:
        assert "overheads" in rec and rec["overheads"].get("sources") or rec["provider"] != "Anthropic"


def test_claude3_haiku_lifecycle_per_region():
    e = default_catalogue().get(HAIKU3)
    us = e.lifecycle_in("us-east-1", on=TODAY)
    assert (us.status, us.eol_date) == ("END_OF_LIFE", dt.date(2026, 9, 10))
    assert e.lifecycle_in("ca-central-1", on=TODAY).status == "ACTIVE"
    assert e.lifecycle_in("sa-east-1", on=TODAY).status == "ACTIVE"
    # Before its EOL date the same entry is LEGACY (dates move the status forward only).
    assert e.lifecycle_in("us-east-1", on=dt.date(2026, 6, 1)).status == "LEGACY"
    assert e.successor == HAIKU45


def test_resolve_addressing_forms():
    c = default_catalogue()
    assert c.resolve(NOVA_PRO, "us-east-1").addressed_as == BARE
    r = c.resolve(f"us.{HAIKU45}", "us-east-1")
    assert (r.addressed_as, r.entry.id, r.profile_id) == (SYSTEM_PROFILE, HAIKU45, f"us.{HAIKU45}")
    assert c.resolve(f"global.{HAIKU45}", "eu-west-1").entry.id == HAIKU45
    assert c.resolve(urlq(f"us.{HAIKU45}"), "us-east-1").entry.id == HAIKU45
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA_PRO}"
    assert c.resolve(arn, "us-east-1").addressed_as == FOUNDATION_MODEL_ARN
    prof = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU45}"
    assert c.resolve(prof, "us-east-1").addressed_as == SYSTEM_PROFILE
    app = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"
    r = c.resolve(app, "us-east-1", application_profiles={app: f"us.{HAIKU45}"})
    assert (r.addressed_as, r.entry.id) == (APPLICATION_PROFILE, HAIKU45)
    router = "arn:aws:bedrock:us-east-1:123456789012:default-prompt-router/anthropic.claude:1"
    r = c.resolve(router, "us-east-1")
    assert r.addressed_as == PROMPT_ROUTER and len(r.router.models) == 2


def urlq(s):
    import urllib.parse
    return urllib.parse.quote(s, safe="")


@pytest.mark.parametrize("mid,region,exc", [
    ("anthropic.claude-9-v1:0", "us-east-1", InvalidModelIdentifier),
    (f"eu.{NOVA_PRO}", "us-east-1", InvalidModelIdentifier),      # a geo profile outside its geography
    (HAIKU45, "us-east-1", OnDemandNotSupported),                  # profile-only model by bare id
    ("amazon.nova-2-lite-v1:0", "us-east-1", OnDemandNotSupported),
    (HAIKU3, "us-east-1", EndOfLife),
    (f"us.{HAIKU3}", "us-east-1", EndOfLife),
    ("arn:aws:bedrock:us-east-1:1:application-inference-profile/nope", "us-east-1", InvalidModelIdentifier),
])
def test_resolve_refusals(mid, region, exc):
    with pytest.raises(exc):
        default_catalogue().resolve(mid, region, on=TODAY)


def test_resolve_refusal_texts():
    c = default_catalogue()
    with pytest.raises(OnDemandNotSupported) as info:
        c.resolve(HAIKU45, "us-east-1")
    assert info.value.message == (
        f"Invocation of model ID {HAIKU45} with on-demand throughput isn't supported. Retry your request "
        "with the ID or ARN of an inference profile that contains this model.")
    with pytest.raises(EndOfLife) as info:
        c.resolve(HAIKU3, "us-west-2", on=TODAY)
    assert (info.value.status, info.value.code) == (404, "ResourceNotFoundException")
    assert c.resolve(HAIKU3, "ca-central-1", on=TODAY).entry.id == HAIKU3
    assert c.resolve(HAIKU3, "us-east-1", lifecycle=False).entry.id == HAIKU3


def test_profile_for_region():
    e = default_catalogue().get(HAIKU45)
    assert e.profile_for("us-west-2") == f"us.{HAIKU45}"
    assert e.profile_for("eu-central-1") == f"eu.{HAIKU45}"
    assert e.profile_for("ap-south-1") == f"apac.{HAIKU45}"
    assert default_catalogue().get("openai.gpt-oss-120b-1:0").profile_for("us-east-1") is None


def test_config_entries_override_and_add():
    c = load_catalogue({"models": {
        "claude_haiku": {"model_id": HAIKU3, "context_window": 1000, "max_output_tokens": 10,
                         "capabilities": {"vision": False}, "latency": {"first_token_ms": 7}},
        "mine": {"model_id": "acme.custom-v1:0", "context_window": 5000, "max_output_tokens": 100},
    }})
    e = c.get(HAIKU3)
    assert (e.context_window, e.max_output_tokens, e.capabilities.vision, e.first_token_ms, e.alias) == (
        1000, 10, False, 7.0, "claude_haiku")
    assert e.capabilities.documents is True  # untouched keys keep the catalogue's value
    assert c.resolve("acme.custom-v1:0", "us-east-1").entry.context_window == 5000
    assert default_catalogue().get("acme.custom-v1:0") is None  # the shared default is not mutated
    with pytest.raises(InvalidModelIdentifier):
        c.resolve("acme.other-v1:0", "us-east-1")


def test_prices_and_overheads():
    c = default_catalogue()
    h = c.get(HAIKU45)
    assert h.price.cost(1000, 1000) == pytest.approx(0.006)
    assert h.price.cost(0, 0, cache_read_tokens=1000) == pytest.approx(0.0001)
    assert h.price.cost(1000, 1000, batch=True) == pytest.approx(0.003)
    assert h.capabilities.prompt_caching.min_tokens == 4096
    assert "1h" in h.capabilities.prompt_caching.ttls
    assert h.overheads.tool_prompt("auto") == 346
    assert c.get(HAIKU3).overheads.tool_prompt("any") == 340
    assert h.overheads.image_tokens(750, 100) == 100
    assert h.overheads.image_tokens(4000, 4000) == 1600
    g = c.get("openai.gpt-oss-120b-1:0")
    assert g.price.cost(1000, 0, tier="flex") == pytest.approx(g.price.input * 0.5)
