"""The ``single`` strategy: one configured model (or the pinned one), no routing, no fallback."""

from __future__ import annotations

from typing import Any, Dict

from langchain_core.runnables import RunnableConfig

from chains.calls import invoke_model


def run(chain: Any, request: Any, config: RunnableConfig) -> Dict[str, Any]:
    settings = chain.settings
    alias = request.options.model or chain.cfg.model or next(iter(settings.models))
    reason = "pinned by options.model" if request.options.model else f"the model configured for chain '{chain.name}'"
    cfg = settings.model(alias)
    max_tokens = request.options.max_tokens or request.prompt.metadata.max_tokens
    model = chain.runtime.factory.chat_model(
        alias, max_tokens=min(max_tokens, cfg.max_output_tokens) if max_tokens else None,
        temperature=request.options.temperature,
    )
    messages = request.prompt.format_messages(request.inputs)
    outcome = invoke_model(model, alias, cfg.model_id, messages, config)
    return {
        "output": outcome.text,
        "model": outcome.model_id,
        "route": {"model": alias, "reason": reason, "candidates": [alias]},
        "stop_reason": outcome.stop_reason,
    }
