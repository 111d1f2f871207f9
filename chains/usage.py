"""Token usage and cost: Bedrock's own counts, collected by langchain-core's usage callback.

One ``UsageMetadataCallbackHandler`` is attached per request and inherited by every model call beneath it
(router classifier, map steps, judge, agent tools), so the totals are what Bedrock reported, never
hand-summed strings. Costs are usage times the configured on-demand prices.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from langchain_core.callbacks import BaseCallbackManager, UsageMetadataCallbackHandler

from chains.config import Price, Settings

EMPTY_USAGE = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def with_handler(config: Optional[Mapping[str, Any]], handler: Any) -> Dict[str, Any]:
    """A copy of ``config`` whose callbacks also include ``handler`` (inherited by child runs)."""
    config = dict(config or {})
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=True)
        config["callbacks"] = manager
    else:
        config["callbacks"] = list(callbacks or []) + [handler]
    return config


class UsageCollector(UsageMetadataCallbackHandler):
    """langchain-core's usage callback (same totals, from each model call's ``on_llm_end``), minus the cost of
    the events it does not use.

    It has no ``on_chat_model_start``: langchain-core then raises and catches ``NotImplementedError`` and
    renders every message to a string for an ``on_llm_start`` fallback, on every model call (~20 us).
    Chain, retriever, agent and retry events are skipped before dispatch; it runs inline (a dict update
    under a lock).
    """

    run_inline = True
    ignore_chain = True
    ignore_retriever = True
    ignore_agent = True
    ignore_retry = True
    ignore_custom_event = True

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        return None


def new_collector() -> UsageMetadataCallbackHandler:
    return UsageCollector()


def cost(price: Price, input_tokens: float, output_tokens: float) -> float:
    """THE cost formula: USD for ``input_tokens`` and ``output_tokens`` at ``price`` (USD per 1,000 tokens)."""
    return (input_tokens * price.input_per_1k + output_tokens * price.output_per_1k) / 1000.0


def call_cost(settings: Settings, model_id: str, usage: Mapping[str, Any]) -> float:
    """USD for one model's usage; 0 for a model id that is not configured (and so has no price)."""
    alias = settings.alias_for_model_id(model_id)
    if alias is None:
        return 0.0
    return cost(settings.models[alias].price, usage.get("input_tokens", 0), usage.get("output_tokens", 0))


def summarise(settings: Settings, by_model_id: Mapping[str, Mapping[str, Any]]) -> Dict[str, Any]:
    """``usage``, ``usage_by_model`` and ``cost_usd`` for the response, from the collector's totals."""
    total = dict(EMPTY_USAGE)
    per_model: Dict[str, Dict[str, Any]] = {}
    cost = 0.0
    for model_id, usage in by_model_id.items():
        entry = {k: int(usage.get(k, 0) or 0) for k in EMPTY_USAGE}
        entry_cost = call_cost(settings, model_id, entry)
        entry["cost_usd"] = round(entry_cost, 8)
        alias = settings.alias_for_model_id(model_id)
        if alias:
            entry["alias"] = alias
        per_model[model_id] = entry
        for k in EMPTY_USAGE:
            total[k] += entry[k]
        cost += entry_cost
    return {"usage": total, "usage_by_model": per_model, "cost_usd": round(cost, 8)}


def estimate_cost(settings: Settings, alias: str, input_tokens: int, output_tokens: int) -> float:
    """Estimated USD of one call to ``alias`` (unknown alias: ``UnknownModel``)."""
    return cost(settings.model(alias).price, input_tokens, output_tokens)
