"""options.service_tier on bedrock_local: sent as Converse serviceTier where the model offers it, a 400 naming
the models that do where it does not; a throttled flex call is answered by the same model at the default tier
before any other model; the cost uses the tier's price multiplier."""

from __future__ import annotations

import pytest

import handler
from chains.usage import call_cost

NOVA = "us.amazon.nova-pro-v1:0"


def ask(runtime, chain="qa", **options):
    return handler.handle({"chain": chain, "input": {"question": "What is Amazon S3?"}, "options": options},
                          None, runtime=runtime)


def test_flex_answers_at_half_price_and_is_sent_as_service_tier(runtime, emulator):
    status, flex = ask(runtime, model="nova_pro", service_tier="flex")
    assert status == 200 and flex["model"] == NOVA
    assert emulator.calls[-1].body["serviceTier"] == {"type": "flex"}
    usage = flex["usage_by_model"][NOVA]
    default_cost = call_cost(runtime.settings, NOVA, usage)
    assert flex["cost_usd"] == pytest.approx(0.5 * default_cost, rel=1e-6)  # Nova flex: 0.5 (catalogue)
    assert usage["service_tiers"] == {"flex": usage["total_tokens"]}


def test_a_throttled_flex_call_falls_back_to_the_default_tier_of_the_same_model(runtime, emulator):
    emulator.add_fault(NOVA, error="ThrottlingException", service_tier="flex")
    status, body = ask(runtime, model="nova_pro", service_tier="flex")
    assert status == 200 and body["model"] == NOVA and body["route"]["answered_by"] == "nova_pro"
    [flex] = body["attempts"]
    assert flex["alias"] == "nova_pro" and flex["service_tier"] == "flex" and flex["code"] == "ThrottlingException"
    tiers = [(c.body or {}).get("serviceTier") for c in emulator.calls_for(NOVA)]
    assert tiers == [{"type": "flex"}, None]  # flex refused, then the default tier (no serviceTier sent)
    usage = body["usage_by_model"][NOVA]
    assert "service_tiers" not in usage and body["cost_usd"] == pytest.approx(call_cost(runtime.settings, NOVA, usage))
    assert runtime.cooldown.snapshot() == {}  # flex capacity ran out, not the model


def test_a_pinned_model_without_the_tier_is_a_400_naming_those_that_offer_it(runtime, emulator):
    status, body = ask(runtime, model="claude_haiku", service_tier="priority")
    assert status == 400 and body["error"]["type"] == "BadRequest"
    assert "claude_haiku" in body["error"]["message"] and "nova_pro" in body["error"]["message"]
    assert emulator.calls == []
    status, body = ask(runtime, service_tier="premium")
    assert status == 400 and "options.service_tier" in body["error"]["message"]
