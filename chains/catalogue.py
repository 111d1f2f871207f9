"""THE service's view of the model catalogue: every model fact the service plans with comes through here.

The figures themselves (window, output limit, capabilities, prices incl. batch / cache / tier multipliers,
lifecycle per region, successor, system inference profiles) live once, in ``bedrock_local/catalogue.json``
(each fact cites its source), read by ``bedrock_local.catalogue``. This module wraps it for the service:

* ``model_facts(model_id)``: the config.yaml-shaped figures of a model (a bare id, a system inference profile
  id or an ARN of either resolves to its base model); ``None`` for an id the catalogue does not know (then
  config.yaml must give the figures: ``chains.config`` says so).
* ``entry(model_id)``: the catalogue record behind an id (lifecycle, successor, profiles), or ``None``.
* ``lifecycle(model_id, region)``: the status on today's date in ``region`` (per region: Claude 3 Haiku is
  still served in a few regions after its end of life elsewhere).
* ``profile_for(model_id, region)``: the system profile a bare id of a profile-only model is called through.

Stdlib plus bedrock_local.catalogue (stdlib only): no network, nothing parsed at import.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Optional

ACTIVE, LEGACY, END_OF_LIFE = "ACTIVE", "LEGACY", "END_OF_LIFE"


_default_catalogue: Any = None


def _catalogue() -> Any:
    """bedrock_local's catalogue, parsed once per process on first use (not at import: importing this module
    stays free). The function is kept after the first call: an import statement on every look-up (many per
    request) was most of a look-up's cost."""
    global _default_catalogue
    if _default_catalogue is None:
        from bedrock_local.catalogue import default_catalogue

        _default_catalogue = default_catalogue
    return _default_catalogue()


def entry(model_id: str) -> Optional[Any]:
    """The catalogue's ``ModelEntry`` behind a bare id, a system profile id or an ARN of either; else None."""
    return _catalogue().base_of(str(model_id or ""))


def model_facts(model_id: str) -> Optional[Dict[str, Any]]:
    """The figures of ``model_id`` in config.yaml's shape (``models.<alias>``), or None when unknown. A prompt
    router ARN gets ``router_facts``."""
    e = entry(model_id)
    if e is None:
        router = prompt_router(model_id)
        return router_facts(router) if router is not None else None
    caps, price = e.capabilities, e.price
    prices: Dict[str, Any] = {"input_per_1k": price.input, "output_per_1k": price.output}
    for key, value in (("batch_input_per_1k", price.batch_input), ("batch_output_per_1k", price.batch_output),
                       ("cache_read_per_1k", price.cache_read), ("cache_write_per_1k", price.cache_write)):
        if value is not None:
            prices[key] = float(value)
    if price.tier_multipliers:
        prices["tier_multipliers"] = dict(price.tier_multipliers)
    return {
        "context_window": e.context_window,
        "max_output_tokens": e.max_output_tokens,
        "capabilities": {
            "vision": caps.vision, "tools": caps.tools, "documents": caps.documents,
            "reasoning": caps.reasoning, "tool_choice": list(caps.tool_choice),
            "service_tiers": list(caps.service_tiers), "prompt_caching": caps.prompt_caching is not None,
        },
        "price": prices,
        "latency": {"first_token_ms": e.first_token_ms, "per_token_ms": e.per_token_ms},
        "count_tokens_api": caps.count_tokens,
    }


def router_facts(router: Any) -> Dict[str, Any]:
    """A prompt router's figures for planning before the call, when the model it will pick is not known yet: the
    smallest window and output limit of its models, a capability only when all have it, the dearest prices (so
    budgets and estimates hold whichever it picks). The cost after the call is the invoked model's own
    (``chains.usage.call_cost``)."""
    facts = [model_facts(m) for m in router.models]
    facts = [f for f in facts if f is not None]
    dearest = max(facts, key=lambda f: (f["price"]["output_per_1k"], f["price"]["input_per_1k"]))
    caps = dict(dearest["capabilities"])
    for key in ("vision", "tools", "documents", "reasoning", "prompt_caching"):
        caps[key] = all(f["capabilities"][key] for f in facts)
    for key in ("tool_choice", "service_tiers"):
        caps[key] = [v for v in caps[key] if all(v in f["capabilities"][key] for f in facts)]
    return {**dearest, "capabilities": caps,
            "context_window": min(f["context_window"] for f in facts),
            "max_output_tokens": min(f["max_output_tokens"] for f in facts),
            "count_tokens_api": False}


def lifecycle(model_id: str, region: str, on: Optional[_dt.date] = None) -> Optional[Any]:
    """The catalogue's ``Lifecycle`` of ``model_id`` in ``region`` on ``on`` (default today), or None."""
    e = entry(model_id)
    return e.lifecycle_in(region, on) if e is not None else None


def successor(model_id: str) -> Optional[str]:
    e = entry(model_id)
    return e.successor if e is not None else None


def profile_for(model_id: str, region: str) -> Optional[str]:
    """The system inference profile ``model_id`` is called through from ``region``, when the bare id cannot be
    called on demand there (None: call it as given)."""
    e = entry(model_id)
    if e is None or str(model_id) != e.id or e.on_demand_in(region):
        return None
    return e.profile_for(region)


def prompt_router(model_id: str) -> Optional[Any]:
    """The catalogue's ``PromptRouter`` a (default) prompt router ARN names, or None."""
    rest = str(model_id or "").rsplit("/", 1)[-1]
    if ":default-prompt-router/" not in str(model_id) and ":prompt-router/" not in str(model_id):
        return None
    return _catalogue().routers.get(rest)
