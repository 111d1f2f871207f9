"""Token usage and cost: Bedrock's own counts, collected by langchain-core's usage callback.

One ``UsageMetadataCallbackHandler`` is attached per request and inherited by every model call beneath it
(router classifier, map steps, judge, agent tools), so the totals are what Bedrock reported, never
hand-summed strings. Costs are usage times the configured on-demand prices.

Prompt caching: langchain-aws 1.9.1 (``_extract_usage_metadata``) reports ``input_tokens`` as Bedrock's
``inputTokens`` PLUS ``cacheReadInputTokens`` and ``cacheWriteInputTokens``, and puts the two in
``input_token_details`` as ``cache_read`` and ``cache_creation`` (or, when Bedrock sends ``cacheDetails``,
as ``ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens`` with ``cache_creation`` 0). So the response's
``input_tokens`` is the uncached part only (as Bedrock's own ``inputTokens``), ``cache_read_input_tokens`` and
``cache_write_input_tokens`` the cached parts, and each kind is priced once, at its own rate.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from langchain_core.callbacks import BaseCallbackManager, UsageMetadataCallbackHandler
from langchain_core.messages.ai import add_usage

from chains.caching.facts import CachePrices, cache_prices
from chains.config import Price, Settings
from chains.profiles import invoked_model_id

CACHE_READ = "cache_read_input_tokens"
CACHE_WRITE = "cache_write_input_tokens"
# The part of CACHE_WRITE written with the 1-hour TTL (priced at its own rate); in a response only when not 0.
CACHE_WRITE_1H = "cache_write_1h_input_tokens"
EMPTY_USAGE = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0, CACHE_READ: 0, CACHE_WRITE: 0}
_WRITE_DETAILS = ("cache_creation", "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")


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


class ModelEventsOnly:
    """What our per-call callback handlers (the usage collector below, the model call observer) tell LangChain:
    model events only (chain, retriever, agent, retry and custom events are skipped before dispatch); run inline,
    in the calling thread even under async managers (the work is tiny and under a lock); and fed directly by
    the timed call (``direct_feed``: chains.calls.direct), other model calls reaching them through LangChain."""

    run_inline = True
    direct_feed = True
    ignore_chain = True
    ignore_retriever = True
    ignore_agent = True
    ignore_retry = True
    ignore_custom_event = True


class UsageCollector(ModelEventsOnly, UsageMetadataCallbackHandler):
    """langchain-core's usage callback (same totals, from each model call's ``on_llm_end``), minus the cost of
    the events it does not use.

    It has no ``on_chat_model_start``: langchain-core then raises and catches ``NotImplementedError`` and
    renders every message to a string for an ``on_llm_start`` fallback, on every model call (~20 us).
    """

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        return None

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        # A prompt router's answer is named by the model it invoked, so its usage is priced as that model.
        for generation in (g for gs in getattr(response, "generations", None) or [] for g in gs):
            message = getattr(generation, "message", None)
            invoked = invoked_model_id(getattr(message, "response_metadata", None))
            if invoked:
                message.response_metadata["model_name"] = invoked
        super().on_llm_end(response, **kwargs)
        # The usage of calls served at a tier other than default (Converse echoes ``serviceTier``), per model,
        # so the cost uses the tier's price multiplier.
        try:
            message = response.generations[0][0].message
        except (IndexError, AttributeError):
            return
        meta = getattr(message, "response_metadata", None) or {}
        tier = (meta.get("serviceTier") or {}).get("type") if isinstance(meta.get("serviceTier"), Mapping) else None
        usage, model = getattr(message, "usage_metadata", None), meta.get("model_name")
        if tier and tier != "default" and usage and model:
            with self._lock:
                by_tier = self.tier_usage.setdefault(model, {})
                by_tier[tier] = add_usage(by_tier[tier], usage) if tier in by_tier else usage

    @property
    def tier_usage(self) -> Dict[str, Dict[str, Any]]:
        if "_tier_usage" not in self.__dict__:
            self.__dict__["_tier_usage"] = {}
        return self.__dict__["_tier_usage"]


def new_collector() -> UsageMetadataCallbackHandler:
    return UsageCollector()


def split_usage(usage_metadata: Mapping[str, Any]) -> Dict[str, int]:
    """langchain-core ``usage_metadata`` -> the response's five counts (input = the uncached part)."""
    details = usage_metadata.get("input_token_details") or {}
    read = int(details.get("cache_read", 0) or 0)
    write = sum(int(details.get(k, 0) or 0) for k in _WRITE_DETAILS)
    counts = {
        "input_tokens": max(0, int(usage_metadata.get("input_tokens", 0) or 0) - read - write),
        "output_tokens": int(usage_metadata.get("output_tokens", 0) or 0),
        "total_tokens": int(usage_metadata.get("total_tokens", 0) or 0),
        CACHE_READ: read,
        CACHE_WRITE: write,
    }
    write_1h = int(details.get("ephemeral_1h_input_tokens", 0) or 0)  # Bedrock's cacheDetails, ttl "1h"
    if write_1h:
        counts[CACHE_WRITE_1H] = write_1h
    return counts


def cost(price: Price, input_tokens: float, output_tokens: float, cache_read_tokens: float = 0,
         cache_write_tokens: float = 0, cache: Optional[CachePrices] = None, cache_write_1h_tokens: float = 0) -> float:
    """THE cost formula: USD at ``price`` (USD per 1,000 tokens) for uncached input, output, and the input read
    from / written to the cache at the cache prices (none known: the input price). ``cache_write_1h_tokens``
    (part of ``cache_write_tokens``) are the writes with the 1-hour TTL, at their own price (none known: the
    5-minute write price)."""
    read = cache.read_per_1k if cache is not None and cache.read_per_1k is not None else price.input_per_1k
    write = cache.write_per_1k if cache is not None and cache.write_per_1k is not None else price.input_per_1k
    write_1h = cache.write_1h_per_1k if cache is not None and cache.write_1h_per_1k is not None else write
    return (input_tokens * price.input_per_1k + output_tokens * price.output_per_1k + cache_read_tokens * read
            + (cache_write_tokens - cache_write_1h_tokens) * write + cache_write_1h_tokens * write_1h) / 1000.0


def _catalogue_price(model_id: str) -> Optional[Price]:
    """The catalogue's price of a model no alias names: the model a prompt router alias invoked."""
    from chains.catalogue import model_facts

    facts = model_facts(model_id)
    return Price.model_validate(facts["price"]) if facts is not None else None


def _price(settings: Settings, model_id: str) -> Optional[Price]:
    """The price of a model: its alias's, else (a model a prompt router invoked) the catalogue's."""
    alias = settings.alias_for_model_id(model_id)
    return settings.models[alias].price if alias is not None else _catalogue_price(model_id)


def tier_multiplier(settings: Settings, model_id: str, tier: Optional[str]) -> float:
    """The price multiplier of a service tier for a model (catalogue ``tier_multipliers``; 1 when unknown)."""
    if not tier:
        return 1.0
    price = _price(settings, model_id)
    return float(price.tier_multipliers.get(tier, 1.0)) if price is not None else 1.0


def call_cost(settings: Settings, model_id: str, usage: Mapping[str, Any], tier: Optional[str] = None) -> float:
    """USD for one model's usage (the five counts of ``split_usage``) at a service tier (None: default): at its
    alias's price, else (a model a prompt router invoked) the catalogue's; 0 for a model id neither knows."""
    price = _price(settings, model_id)
    if price is None:
        return 0.0
    return tier_multiplier(settings, model_id, tier) * cost(price, usage.get("input_tokens", 0), usage.get("output_tokens", 0),
                usage.get(CACHE_READ, 0), usage.get(CACHE_WRITE, 0), cache_prices(model_id), usage.get(CACHE_WRITE_1H, 0))


def cache_saving(settings: Settings, model_id: str, usage: Mapping[str, Any]) -> float:
    """USD the cache saved on this usage: its cost with every cached token billed as input, minus its cost
    (negative when only the write premium was paid)."""
    uncached = dict(usage)
    uncached["input_tokens"] = usage.get("input_tokens", 0) + usage.get(CACHE_READ, 0) + usage.get(CACHE_WRITE, 0)
    uncached[CACHE_READ] = uncached[CACHE_WRITE] = uncached[CACHE_WRITE_1H] = 0
    return call_cost(settings, model_id, uncached) - call_cost(settings, model_id, usage)


def summarise(settings: Settings, by_model_id: Mapping[str, Mapping[str, Any]],
              by_tier: Optional[Mapping[str, Mapping[str, Mapping[str, Any]]]] = None) -> Dict[str, Any]:
    """``usage``, ``usage_by_model`` and ``cost_usd`` for the response, from the collector's totals;
    ``by_tier``: the part of each model's usage served at a non-default service tier (priced at its tier)."""
    total = dict(EMPTY_USAGE)
    per_model: Dict[str, Dict[str, Any]] = {}
    cost = 0.0
    for model_id, usage in by_model_id.items():
        entry: Dict[str, Any] = split_usage(usage)
        entry_cost = call_cost(settings, model_id, entry)
        for tier, tier_usage in ((by_tier or {}).get(model_id) or {}).items():
            counts = split_usage(tier_usage)  # that part re-priced: at the tier instead of the default
            entry_cost += call_cost(settings, model_id, counts, tier) - call_cost(settings, model_id, counts)
            entry.setdefault("service_tiers", {})[tier] = counts["total_tokens"]
        entry["cost_usd"] = round(entry_cost, 8)
        if entry[CACHE_READ] or entry[CACHE_WRITE]:
            entry["cache_saved_usd"] = round(cache_saving(settings, model_id, entry), 8)
        alias = settings.alias_for_model_id(model_id)
        if alias:
            entry["alias"] = alias
        per_model[model_id] = entry
        for k in EMPTY_USAGE:
            total[k] += entry[k]
        if entry.get(CACHE_WRITE_1H):
            total[CACHE_WRITE_1H] = total.get(CACHE_WRITE_1H, 0) + entry[CACHE_WRITE_1H]
        cost += entry_cost
    return {"usage": total, "usage_by_model": per_model, "cost_usd": round(cost, 8)}


def estimate_cost(settings: Settings, alias: str, input_tokens: int, output_tokens: int,
                  cache_read_tokens: int = 0) -> float:
    """Estimated USD of one call to ``alias`` (unknown alias: ``UnknownModel``); ``cache_read_tokens`` of the
    input are expected from the cache (the router's prefix LRU), the rest billed as input."""
    cfg = settings.model(alias)
    return cost(cfg.price, input_tokens - cache_read_tokens, output_tokens, cache_read_tokens, 0,
                cache_prices(cfg.model_id) if cache_read_tokens else None)
