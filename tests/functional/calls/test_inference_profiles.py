"""A bare id of a profile-only model is called through the region's geography profile, without an error
reaching the user, and the route says so; an explicit profile is used as given."""

from __future__ import annotations

import pytest

from chains import build_runtime, get_chain

HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"  # profile-only (catalogue: no on-demand regions)


@pytest.mark.parametrize("region, profile", [("us-east-1", "us."), ("eu-west-1", "eu."), ("ap-south-1", "apac.")])
def test_a_bare_profile_only_id_goes_through_the_regions_profile(clean_env, region, profile):
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", HAIKU_45)
    clean_env.setenv("AWS_REGION", region)
    rt = build_runtime(backend="local", notice=False)
    out = get_chain("qa", rt).invoke({"question": "Hi?", "options": {"model": "claude_haiku", "fallbacks": False}})
    assert out["attempts"] == [] and out["route"]["answered_by"] == "claude_haiku"
    [call] = rt.factory.emulator.calls
    assert call.model_id == profile + HAIKU_45 and call.error is None
    assert out["route"]["called_through"] == profile + HAIKU_45
    assert f"called through inference profile {profile}{HAIKU_45}" in out["route"]["reason"]


def test_an_explicit_profile_is_used_as_given(clean_env):
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", "global." + HAIKU_45)
    rt = build_runtime(backend="local", notice=False)
    out = get_chain("qa", rt).invoke({"question": "Hi?", "options": {"model": "claude_haiku", "fallbacks": False}})
    assert rt.factory.emulator.calls[-1].model_id == "global." + HAIKU_45
    assert "called_through" not in out["route"]


def test_a_bare_id_callable_on_demand_is_called_bare(clean_env):
    clean_env.setenv("AMAZON_NOVA_PRO_MODEL_ID", "amazon.nova-pro-v1:0")  # on demand in us-east-1
    rt = build_runtime(backend="local", notice=False)
    get_chain("qa", rt).invoke({"question": "Hi?", "options": {"model": "nova_pro", "fallbacks": False}})
    assert rt.factory.emulator.calls[-1].model_id == "amazon.nova-pro-v1:0"
