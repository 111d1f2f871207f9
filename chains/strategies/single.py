"""The ``single`` strategy: one configured model (or the pinned one), no routing, no fallback."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from langchain_core.runnables import RunnableConfig
from pydantic import Field

from chains.calls.call import invoke_model
from chains.calls.stream import stream_model
from chains.chain import ChainOutput, StrategySpec
from chains.guardrails import converse_config, response_fields
import chains.reasoning as reasoning
from chains.limits import call_max_tokens, requested_max_tokens


class Output(ChainOutput):
    stop_reason: Optional[str] = Field(default=None, description="Why Bedrock stopped (end_turn, max_tokens ...).")


def _prepare(chain: Any, request: Any) -> Tuple[str, str, Any, Any, List[Any]]:
    settings = chain.settings
    alias = request.options.model or chain.cfg.model or next(iter(settings.models))
    reason = "pinned by options.model" if request.options.model else f"the model configured for chain '{chain.name}'"
    cfg = settings.model(alias)
    kwargs = dict(max_tokens=call_max_tokens(settings, alias, requested_max_tokens(request)),
                  temperature=request.options.temperature,
                  guardrail_config=converse_config(request.options.guardrail),
                  service_tier=request.options.service_tier)  # refused at parse time (400) where not offered
    kwargs.update(reasoning.model_overrides(request.options, cfg, kwargs["max_tokens"]))
    model = chain.runtime.factory.chat_model(alias, **kwargs)
    messages = request.prompt.format_messages(request.inputs, cache=request.cache)
    return alias, reason, cfg, model, messages


def run(chain: Any, request: Any, config: RunnableConfig) -> Dict[str, Any]:
    alias, reason, cfg, model, messages = _prepare(chain, request)
    outcome = invoke_model(model, alias, cfg.model_id, messages, config)
    return {
        "output": outcome.text,
        "model": outcome.model_id,
        "route": {"model": alias, "reason": reason, "candidates": [alias]},
        "stop_reason": outcome.stop_reason,
        **response_fields(request, outcome),
        **reasoning.response_fields(request, outcome),
    }


def stream(chain: Any, request: Any, config: RunnableConfig) -> Iterator[Dict[str, Any]]:
    """The same call over ConverseStream: text deltas as they arrive, then the other keys of ``run``."""
    alias, reason, cfg, model, messages = _prepare(chain, request)
    outcome = yield from stream_model(model, alias, cfg.model_id, messages, config)
    yield {
        "model": outcome.model_id,
        "route": {"model": alias, "reason": reason, "candidates": [alias]},
        "stop_reason": outcome.stop_reason,
        **response_fields(request, outcome),
        **reasoning.response_fields(request, outcome),
    }


SINGLE = StrategySpec("single", run, stream, Output, bulk="pinned")
