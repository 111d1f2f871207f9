"""Model choice and model calls for the token-aware strategies (``map_reduce``, ``chat``): the one place
that decides whether the router (``chains/router.py``) and the fallback layer (``chains/resilience.py``)
are used.

When those modules exist, ``choose`` asks ``router.decide`` and ``call`` goes through
``resilience.call_with_fallbacks``. Until then (and for a caller that passes its own candidate list),
``choose`` takes the configured models cheapest first, keeps those whose window fits the estimate
(``chains.tokens.fits``) and whose estimated cost fits ``options.max_cost_usd``, and ``call`` tries them
in that order through ``chains.calls.invoke_model``, falling over on the error classes another model
may not have (``FALLBACK_CLASSES``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from chains.calls import Attempt, CallOutcome, invoke_model
from chains.errors import (
    FALLBACK_CLASSES,
    AllModelsFailed,
    BudgetExceeded,
    DeadlineExceeded,
    ModelCallError,
)
from chains.tokens import estimate, output_tokens, price_order, too_large
from chains.usage import estimate_cost


@dataclass
class Route:
    """A chosen model and the ones behind it (fallback order), with why and what it was expected to cost."""

    alias: str
    candidates: List[str]  # the chosen alias first
    reason: str
    details: Dict[str, Any] = field(default_factory=dict)  # estimated_input_tokens, estimated_cost_usd ...
    decision: Any = None  # the router's RouteDecision, when the router chose

    def to_dict(self) -> Dict[str, Any]:
        return {"model": self.alias, "reason": self.reason, "candidates": list(self.candidates), **self.details}

    def restricted(self, aliases: Sequence[str], reason: Optional[str] = None) -> "Route":
        """The same route with only ``aliases`` (order kept); the first remaining one is chosen."""
        kept = [a for a in self.candidates if a in aliases]
        return Route(kept[0], kept, reason or self.reason, dict(self.details), None)


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module exists but something it imports is missing: a real error
            raise
        return None


def router_module() -> Any:
    mod = _optional("chains.router")
    return mod if mod is not None and hasattr(mod, "decide") else None


def resilience_module() -> Any:
    mod = _optional("chains.resilience")
    return mod if mod is not None and hasattr(mod, "call_with_fallbacks") else None


def routed_module() -> Any:
    mod = _optional("chains.routed")
    return mod if mod is not None and hasattr(mod, "run") else None


def routed_call(chain: Any, request: Any, config: Any) -> Dict[str, Any]:
    """The ordinary routed call of the chain's prompt (the ``routed`` strategy when it exists: attachments,
    domain preamble, fallbacks); raises ``InputTooLarge`` when no model's window takes the input."""
    routed = routed_module()
    if routed is not None:
        return routed.run(chain, request, config)
    messages = request.prompt.format_messages(request.inputs)
    route = choose(chain, request, messages, config)
    outcome, attempts = call(chain, request, route, messages, config)
    return {
        "output": outcome.text,
        "model": outcome.model_id,
        "route": route.to_dict(),
        "attempts": attempts,
        "stop_reason": outcome.stop_reason,
    }


def routed_stream(chain: Any, request: Any, config: Any) -> Iterator[Dict[str, Any]]:
    """The same call streamed (``routed.stream``), or its result as one chunk without it."""
    routed = routed_module()
    if routed is not None and hasattr(routed, "stream"):
        yield from routed.stream(chain, request, config)
    else:
        yield routed_call(chain, request, config)


def stream_call(
    chain: Any, request: Any, route: Route, messages: Sequence[Any], config: Any, max_tokens: Optional[int] = None
) -> Iterator[Dict[str, Any]]:
    """``call`` streamed: ``{"output": delta}`` chunks, then ``{"outcome": CallOutcome, "attempts": [...]}``."""
    resilience = resilience_module()
    if resilience is not None and hasattr(resilience, "stream_with_fallbacks"):
        yield from resilience.stream_with_fallbacks(
            chain, request, list(route.candidates), list(messages), config, max_tokens=max_tokens
        )
        return
    outcome, attempts = call(chain, request, route, messages, config, max_tokens)
    yield {"output": outcome.text}
    yield {"outcome": outcome, "attempts": attempts}


def chain_candidates(chain: Any, request: Any) -> List[str]:
    """The models this chain may use: the pinned one first (alone if ``options.fallbacks`` is false)."""
    settings = chain.settings
    aliases = list(chain.cfg.models or ([chain.cfg.model] if chain.cfg.model else settings.models))
    pinned = request.options.model
    if pinned:
        if not request.options.fallbacks:
            return [pinned]
        return [pinned] + [a for a in aliases if a != pinned]
    return aliases


def requested_max_tokens(request: Any) -> Optional[int]:
    """Output cap asked for: ``options.max_tokens``, else the prompt file's per-task ``max_tokens``."""
    return request.options.max_tokens or request.prompt.metadata.max_tokens


# --- choosing ----------------------------------------------------------------------------------------------
def choose(
    chain: Any,
    request: Any,
    messages: Sequence[Any],
    config: Any,
    *,
    candidates: Optional[Sequence[str]] = None,
    max_tokens: Optional[int] = None,
) -> Route:
    """The route for one call with ``messages``: ``InputTooLarge`` when no model's window fits them,
    ``BudgetExceeded`` when none fits ``options.max_cost_usd``."""
    router = router_module()
    if router is not None and candidates is None and max_tokens is None:
        return _from_decision(router.decide(chain, request, list(messages), config))
    return cheapest_fitting(chain, request, messages, candidates, max_tokens)


def _from_decision(decision: Any) -> Route:
    as_dict = decision.to_dict() if hasattr(decision, "to_dict") else dict(getattr(decision, "__dict__", {}))
    alias = getattr(decision, "model", None) or as_dict.get("model")
    candidates = list(getattr(decision, "candidates", None) or as_dict.get("candidates") or [alias])
    if alias in candidates:
        candidates.remove(alias)
    details = {k: v for k, v in as_dict.items() if k not in ("model", "reason", "candidates")}
    reason = getattr(decision, "reason", None) or as_dict.get("reason") or "chosen by the router"
    return Route(alias, [alias] + candidates, reason, details, decision)


def cheapest_fitting(
    chain: Any,
    request: Any,
    messages: Sequence[Any],
    candidates: Optional[Sequence[str]] = None,
    max_tokens: Optional[int] = None,
) -> Route:
    settings = chain.settings
    aliases = list(candidates or chain_candidates(chain, request))
    pinned = request.options.model if request.options.model in aliases else None
    ordered = ([pinned] if pinned else []) + price_order(settings, [a for a in aliases if a != pinned])
    wanted = max_tokens or requested_max_tokens(request)
    budget = request.options.max_cost_usd
    eligible: List[str] = []
    costs: Dict[str, float] = {}
    over_budget: Dict[str, float] = {}
    estimates: Dict[str, Any] = {}
    for alias in ordered:
        est = estimate(
            settings, alias, messages, exact=request.options.exact_count, factory=chain.runtime.factory
        )
        estimates[alias] = est
        out = output_tokens(settings, alias, wanted)
        if not est.fits(settings, alias, out):
            continue
        cost = estimate_cost(settings, alias, est.tokens, out)
        if budget is not None and cost > budget:
            over_budget[alias] = cost
            continue
        eligible.append(alias)
        costs[alias] = cost
    if not eligible:
        if over_budget:
            cheapest = min(over_budget, key=over_budget.get)
            raise BudgetExceeded(
                f"no model fits options.max_cost_usd={budget}: the cheapest that takes this input "
                f"({cheapest}) would cost ~${over_budget[cheapest]:.6f} (estimate, with the full max_tokens)",
                max_cost_usd=budget,
                estimated_cost_usd=round(over_budget[cheapest], 8),
                model=cheapest,
            )
        tokens = min(e.tokens for e in estimates.values()) if estimates else 0
        raise too_large(settings, aliases, tokens, wanted)
    chosen = eligible[0]
    est = estimates[chosen]
    why = "pinned by options.model" if chosen == pinned else "the cheapest configured model whose window fits"
    skipped = [a for a in ordered if a not in eligible]
    if skipped:
        why += f" (left out: {', '.join(skipped)})"
    details = {
        "estimated_input_tokens": est.tokens,
        "estimate_method": est.method,
        "estimated_cost_usd": round(costs[chosen], 8),
    }
    return Route(chosen, eligible, why, details)


# --- calling -----------------------------------------------------------------------------------------------
def call(
    chain: Any,
    request: Any,
    route: Route,
    messages: Sequence[Any],
    config: Any,
    max_tokens: Optional[int] = None,
) -> Tuple[CallOutcome, List[Dict[str, Any]]]:
    """One model call on ``route`` (falling over along its candidates); returns (outcome, failed attempts)."""
    resilience = resilience_module()
    if resilience is not None:
        return resilience.call_with_fallbacks(
            chain, request, list(route.candidates), list(messages), config, max_tokens=max_tokens
        )
    return call_in_order(chain, request, route.candidates, messages, config, max_tokens)


def call_in_order(
    chain: Any,
    request: Any,
    candidates: Sequence[str],
    messages: Sequence[Any],
    config: Any,
    max_tokens: Optional[int] = None,
) -> Tuple[CallOutcome, List[Dict[str, Any]]]:
    settings = chain.settings
    order = list(candidates) if request.options.fallbacks else list(candidates)[:1]
    wanted = max_tokens or requested_max_tokens(request)
    attempts: List[Dict[str, Any]] = []
    last: Optional[ModelCallError] = None
    for alias in order:
        remaining = request.remaining_ms()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded(
                f"no time left for a call to {alias} (options.timeout_ms={request.options.timeout_ms})",
                attempts=attempts,
            )
        cfg = settings.model(alias)
        model = chain.runtime.factory.chat_model(
            alias, max_tokens=output_tokens(settings, alias, wanted), temperature=request.options.temperature
        )
        try:
            return invoke_model(model, alias, cfg.model_id, list(messages), config), attempts
        except ModelCallError as exc:
            attempts.append(
                Attempt(
                    cfg.model_id, alias, exc.error_class, exc.code, getattr(exc, "elapsed_ms", 0.0), exc.message
                ).to_dict()
            )
            last = exc
            if exc.error_class not in FALLBACK_CLASSES:
                break
    if len(attempts) > 1:
        raise AllModelsFailed(attempts)
    assert last is not None
    last.details["attempts"] = attempts
    raise last
