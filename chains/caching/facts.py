"""Prompt-caching facts per model id, in the shape placement and pricing need.

The facts are the catalogue's, read through ``chains.catalogue`` (the service's one reader of the model
catalogue): a bare id, a ``us.``/``global.`` profile or an ARN all resolve to the base model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional, Tuple

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class CacheFacts:
    """What placement and pricing need to know about one model's prompt caching."""

    min_tokens: int  # per checkpoint: a shorter prefix is not cached (Bedrock: no error, no saving)
    max_checkpoints: int  # a fifth checkpoint is a 400 on Anthropic models
    ttl: str  # the TTL we ask for ("5m": the default every caching model offers)
    fields: Tuple[str, ...]  # where checkpoints may go: system, messages, tools (Nova: no tools)

    @property
    def ttl_s(self) -> float:
        return TTL_SECONDS.get(self.ttl, 300.0)


@dataclass(frozen=True)
class CachePrices:
    """USD per 1,000 tokens read from / written to the cache (None: billed as ordinary input)."""

    read_per_1k: Optional[float]
    write_per_1k: Optional[float]


@functools.lru_cache(maxsize=256)
def caching_facts(model_id: str) -> Optional[CacheFacts]:
    """The model's caching facts; None when it has no prompt caching (a cachePoint would be a 400)."""
    entry = _entry(model_id)
    caching = entry.capabilities.prompt_caching if entry is not None else None
    if caching is None:
        return None
    return CacheFacts(caching.min_tokens, caching.max_checkpoints, "5m", tuple(caching.fields))


@functools.lru_cache(maxsize=256)
def cache_prices(model_id: str) -> CachePrices:
    """Cache read / write prices of the model (catalogue, on-demand, 5-minute TTL)."""
    entry = _entry(model_id)
    if entry is None:
        return CachePrices(None, None)
    return CachePrices(entry.price.cache_read, entry.price.cache_write)


@functools.lru_cache(maxsize=1)
def smallest_min_tokens() -> int:
    """The smallest minimum prefix (tokens per checkpoint) of any model in the catalogue that caches: a
    request shorter than this can have no checkpoint kept on any model."""
    from chains.catalogue import _catalogue

    mins = [e.capabilities.prompt_caching.min_tokens for e in _catalogue().entries()
            if e.capabilities.prompt_caching is not None]
    return min(mins) if mins else 0


def _entry(model_id: str):  # -> Optional[bedrock_local.catalogue.ModelEntry]
    from chains.catalogue import entry  # the one owner of model facts (parsed on first use)

    return entry(model_id)
