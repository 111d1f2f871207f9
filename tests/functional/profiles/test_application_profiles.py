"""An application inference profile ARN as a model id: resolved once (GetInferenceProfile) to its base model,
whose catalogue figures apply; calls go to the ARN as given (on bedrock_local's control plane)."""

from __future__ import annotations

import pytest

HAIKU45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SOURCE = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU45}"


def _profile_runtime(clean_env):
    from chains import build_runtime

    first = build_runtime(backend="local", notice=False)
    arn = first.factory.control_client().create_inference_profile(
        inferenceProfileName="team-a", tags=[{"key": "team", "value": "a"}],
        modelSource={"copyFrom": SOURCE})["inferenceProfileArn"]
    assert ":application-inference-profile/" in arn
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", arn)
    return build_runtime(backend="local", notice=False, emulator=first.factory.emulator), arn


def test_application_profile_takes_its_base_models_figures_and_price(clean_env):
    from chains import get_chain
    from chains.catalogue import model_facts

    rt, arn = _profile_runtime(clean_env)
    cfg = rt.settings.model("claude_haiku")
    facts = model_facts(HAIKU45)
    assert cfg.model_id == arn and cfg.base_model_id == HAIKU45 and not cfg.profile_pending
    assert cfg.context_window == facts["context_window"] and cfg.max_output_tokens == facts["max_output_tokens"]
    assert cfg.price.input_per_1k == facts["price"]["input_per_1k"]
    assert cfg.capabilities.reasoning == facts["capabilities"]["reasoning"]

    # Any further GetInferenceProfile (ours or langchain-aws's own lookup) would be counted here.
    asked = []
    rt.factory.control_client().meta.events.register(
        "before-call.bedrock.GetInferenceProfile", lambda **kw: asked.append(kw))
    emu = rt.factory.emulator
    for question in ("What is two plus two?", "Name a colour."):
        out = get_chain("qa_fallback", rt).invoke({"question": question})
        assert out["route"]["model"] == "claude_haiku"
        assert emu.calls[-1].model_id == arn  # called through the ARN as given
        assert emu.calls[-1].resolved_model_id == HAIKU45
        price = facts["price"]
        assert out["cost_usd"] == pytest.approx(
            (out["usage"]["input_tokens"] * price["input_per_1k"]
             + out["usage"]["output_tokens"] * price["output_per_1k"]) / 1000, rel=1e-6)
        assert out["cost_usd"] == pytest.approx(emu.calls[-1].cost_usd, rel=1e-6)
    assert asked == []


def test_config_yaml_still_overrides_the_base_models_figures(clean_env, tmp_path):
    from chains import build_runtime

    rt, arn = _profile_runtime(clean_env)
    text = (f"models:\n  h:\n    model_id: '{arn}'\n    context_window: 50000\n"
            "chains:\n  c: {prompt: qa, model: h}\n")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    cfg = build_runtime(str(path), backend="local", notice=False, emulator=rt.factory.emulator).settings.model("h")
    assert cfg.context_window == 50000 and cfg.base_model_id == HAIKU45


def test_unknown_application_profile_is_a_config_error(clean_env):
    from chains import build_runtime
    from chains.errors import ConfigError

    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/nosuchprofile"
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", arn)
    with pytest.raises(ConfigError, match="could not be resolved.*ResourceNotFoundException"):
        build_runtime(backend="local", notice=False)
