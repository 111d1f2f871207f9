"""A model Bedrock answers "end of life" for is retired for the container: skipped without a call afterwards,
said in route.reason and attempts, one WARNING naming the env var and the successor. Per region."""

from __future__ import annotations

import logging

from chains import build_runtime, get_chain

CLAUDE_3_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _runtime(clean_env, region="us-east-1"):
    clean_env.setenv("ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", CLAUDE_3_HAIKU)
    clean_env.setenv("AWS_REGION", region)
    return build_runtime(backend="local", notice=False)


def test_an_end_of_life_model_is_called_once_then_skipped_for_the_container(clean_env, caplog):
    rt = _runtime(clean_env)
    emulator = rt.factory.emulator
    chain = get_chain("qa_fallback", rt)  # claude_haiku first
    with caplog.at_level(logging.WARNING, logger="chains"):
        first = chain.invoke({"question": "What is Amazon Bedrock?"})
        second = chain.invoke({"question": "What is Amazon S3?"})
        third = chain.invoke({"question": "What is Amazon EC2?"})
    assert first["route"]["answered_by"] == second["route"]["answered_by"] == "nova_pro"
    # The first request met Bedrock's 404 (end of life); later ones never call the model again.
    assert len(emulator.calls_for(CLAUDE_3_HAIKU)) == 1
    assert emulator.calls_for(CLAUDE_3_HAIKU)[0].error == "ResourceNotFoundException"
    assert first["attempts"][0]["code"] == "ResourceNotFoundException"
    assert first["attempts"][0]["retired"] == "retired: end of life"
    for later in (second, third):
        [skip] = [a for a in later["attempts"] if a["alias"] == "claude_haiku"]
        assert skip["skipped"] is True and skip["error_class"] == "retired"
        assert skip["message"] == "retired: end of life"
        assert "skipped claude_haiku: retired: end of life" in later["route"]["reason"]
    warnings = [r for r in caplog.records if getattr(r, "event", None) == "model_retired"]
    assert len(warnings) == 1  # once per container
    text = warnings[0].getMessage()
    assert "ANTHROPIC_CLAUDE_HAIKU_MODEL_ID" in text and "anthropic.claude-haiku-4-5-20251001-v1:0" in text
    # Not the cooldown: nothing is cooling down.
    assert rt.cooldown.snapshot() == {}


def test_lifecycle_is_per_region_the_same_id_still_answers_where_it_is_served(clean_env):
    rt = _runtime(clean_env, region="ca-central-1")  # Claude 3 Haiku still served there (catalogue)
    out = get_chain("qa_fallback", rt).invoke({"question": "What is Amazon Bedrock?"})
    assert out["route"]["answered_by"] == "claude_haiku" and out["model"] == CLAUDE_3_HAIKU
    assert out["attempts"] == [] and rt.retired.snapshot() == {}
