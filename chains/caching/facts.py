"""Prompt-caching facts per model id, in the shape placement and pricing need.

The facts are the catalogue's, read through ``chains.catalogue`` (the service's one reader of the model
catalogue): a bare id, a ``us.``/``global.`` profile or an ARN all resolve to the base model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from chains.catalogue import entry

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class CacheFacts:
    """What placement and pricing need to know about one model's prompt caching."""

    min_tokens: int  # per checkpoint: a shorter prefix is not cached (Bedrock: no error, no saving)
    max_checkpoints: int  # a fifth checkpoint is a 400 on Anthropic models
    ttl: str  # the TTL we ask for ("5m": the default every caching model offers)
    fields: Tuple[str, ...]  # where checkpoints may go: system, messages, tools (Nova: no tools)
    ttls: Tuple[str, ...] = ("5m",)  # the TTLs the model offers (catalogue): "1h" on the Claude 4.5+ models

    @property
    def ttl_s(self) -> float:
        return TTL_SECONDS.get(self.ttl, 300.0)

    def ttl_for(self, requested: str) -> str:
        """The TTL this model is sent for a request that asked ``requested``: a model that offers only 5 minutes
        gets 5 minutes (a TTL it does not offer is Bedrock's 400 "You invoked an unsupported model ...")."""
        return requested if requested in self.ttls else "5m"


@dataclass(frozen=True)
class CachePrices:
    """USD per 1,000 tokens read from / written to the cache (None: billed as ordinary input)."""

    read_per_1k: Optional[float]
    write_per_1k: Optional[float]  # a write with the 5-minute TTL (~1.25x input on Claude)
    # A write with the 1-hour TTL: 2x the input price on Claude ("1 hour cache write tokens are 2x the base
    # input tokens price", https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing; the
    # catalogue's ``cache_write_1h``). None: priced as a 5-minute write.
    write_1h_per_1k: Optional[float] = None


@functools.lru_cache(maxsize=256)
def caching_facts(model_id: str) -> Optional[CacheFacts]:
    """The model's caching facts; None when it has no prompt caching (a cachePoint would be a 400)."""
    entry = _entry(model_id)
    caching = entry.capabilities.prompt_caching if entry is not None else None
    if caching is None:
        return None
    return CacheFacts(caching.min_tokens, caching.max_checkpoints, "5m", tuple(caching.fields), tuple(caching.ttls))


@functools.lru_cache(maxsize=256)
def cache_prices(model_id: str) -> CachePrices:
    """Cache read / write prices of the model (catalogue, on-demand; writes per TTL)."""
    entry = _entry(model_id)
    if entry is None:
        return CachePrices(None, None)
    return CachePrices(entry.price.cache_read, entry.price.cache_write, entry.price.cache_write_1h)


@functools.lru_cache(maxsize=1)
def smallest_min_tokens() -> int:
    """The smallest minimum prefix (tokens per checkpoint) of any model in the catalogue that caches: a
    request shorter than this can have no checkpoint kept on any model."""
    from chains.catalogue import _catalogue

    mins = [e.capabilities.prompt_caching.min_tokens for e in _catalogue().entries()
            if e.capabilities.prompt_caching is not None]
    return min(mins) if mins else 0


def _entry(model_id: str):  # -> Optional[bedrock_local.catalogue.ModelEntry]
    return entry(model_id)  # chains.catalogue: the one owner of model facts (parsed on first use)


def report_ttls(usage_by_model: Dict[str, Dict[str, Any]], requested: str) -> None:
    """Adds ``cache_ttl`` to each caching model's usage entry: the TTL it was sent for a request that asked
    ``requested``; where the model does not offer it, ``cache_ttl_note`` says so (not an error: 5m is used)."""
    for model_id, entry in usage_by_model.items():
        facts = caching_facts(model_id)
        if facts is None:
            continue
        entry["cache_ttl"] = facts.ttl_for(requested)
        if entry["cache_ttl"] != requested:
            entry["cache_ttl_note"] = f"the model offers no {requested} cache TTL ({', '.join(facts.ttls)}): 5m used"
