"""maxTokens is never absent from a Converse call: the request's, else the model's params, else its limit."""

from __future__ import annotations

import yaml

from chains import build_runtime, get_chain
from chains.config import DEFAULT_CONFIG_PATH


def _runtime_without_model_defaults():
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    for m in data["models"].values():
        m["params"].pop("max_tokens", None)
    data["prompts_dir"] = str(DEFAULT_CONFIG_PATH.parent / "prompts")
    return build_runtime(data, backend="local", notice=False)


def test_max_tokens_is_sent_from_the_request_the_prompt_or_the_model(clean_env):
    rt = _runtime_without_model_defaults()
    emulator = rt.factory.emulator
    chain = get_chain("qa_fallback", rt)  # claude_haiku first
    chain.invoke({"question": "Hi?", "options": {"max_tokens": 77}})
    assert emulator.calls[-1].body["inferenceConfig"]["maxTokens"] == 77
    chain.invoke({"question": "Hi?", "options": {"model": "nova_pro", "fallbacks": False}})
    sent = emulator.calls[-1].body["inferenceConfig"]["maxTokens"]
    prompt_default = rt.prompts.load("qa").metadata.max_tokens
    # The prompt file's max_tokens when it has one, else Nova Pro's output limit (catalogue: 5,000).
    assert sent == (min(prompt_default, 5000) if prompt_default else 5000)


def test_a_model_default_is_sent_when_nothing_asks(clean_env):
    rt = _runtime_without_model_defaults()
    emulator = rt.factory.emulator
    from chains.limits import call_max_tokens

    assert call_max_tokens(rt.settings, "nova_pro", None) == 5000
    assert call_max_tokens(rt.settings, "claude_haiku", 10**9) == 64000  # clamped to Haiku 4.5's limit
    rt2 = build_runtime(backend="local", notice=False)
    assert call_max_tokens(rt2.settings, "nova_pro", None) == 1024  # config.yaml params.max_tokens
    assert emulator is not None
