"""A Bedrock prompt router ARN as a model alias: the response names the model it invoked
(``trace.promptRouter.invokedModelId``), usage is priced as that model, ``--check`` lists its models."""

from __future__ import annotations

import pytest

HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"


def _router_arn(clean_env):
    """The default Anthropic router of us-east-1, as ListPromptRouters gives it (bedrock_local control plane)."""
    from chains import build_runtime

    control = build_runtime(backend="local", notice=False).factory.control_client()
    routers = control.list_prompt_routers()["promptRouterSummaries"]
    return next(r["promptRouterArn"] for r in routers if "anthropic" in r["promptRouterArn"])


@pytest.mark.parametrize("question, invoked", [
    ("What is two plus two?", HAIKU45),
    ("Explain step by step why the design trade-off matters; compare and prove it.", SONNET45),
])
def test_router_alias_answers_as_the_invoked_model_and_is_priced_as_it(clean_env, question, invoked):
    from chains import build_runtime, get_chain
    from chains.catalogue import model_facts

    arn = _router_arn(clean_env)
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", arn)
    rt = build_runtime(backend="local", notice=False)
    assert rt.settings.model("claude_haiku").model_id == arn
    out = get_chain("qa_fallback", rt).invoke({"question": question})
    assert out["route"]["model"] == "claude_haiku"
    assert out["model"] == f"us.{invoked}"  # the profile Bedrock's router invoked, not the router ARN
    assert rt.factory.emulator.calls[-1].model_id == arn
    price = model_facts(invoked)["price"]
    assert out["cost_usd"] > 0
    assert out["cost_usd"] == pytest.approx(
        (out["usage"]["input_tokens"] * price["input_per_1k"]
         + out["usage"]["output_tokens"] * price["output_per_1k"]) / 1000, rel=1e-6)
    assert list(out["usage_by_model"]) == [f"us.{invoked}"]


def test_router_alias_plans_with_its_smallest_limits_and_dearest_price(clean_env):
    from chains.catalogue import model_facts

    arn = "arn:aws:bedrock:us-east-1:123456789012:default-prompt-router/anthropic.claude:1"
    facts, haiku, sonnet = model_facts(arn), model_facts(HAIKU45), model_facts(SONNET45)
    assert facts["context_window"] == min(haiku["context_window"], sonnet["context_window"])
    assert facts["price"]["output_per_1k"] == max(haiku["price"]["output_per_1k"], sonnet["price"]["output_per_1k"])


def test_check_lists_the_routers_models(clean_env, capsys):
    from chains.cli import main

    arn = _router_arn(clean_env)
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", arn)
    code = main(["--check"])
    out = capsys.readouterr().out
    assert code == 0, out
    line = next(line for line in out.splitlines() if "prompt router:" in line)
    assert f"models us.{HAIKU45}, us.{SONNET45}" in line and f"fallback us.{SONNET45}" in line
    assert "responseQualityDifference 0.25" in line
