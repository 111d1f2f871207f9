"""Model choice and model calls for the token-aware strategies (``map_reduce``, ``chat``).

They route and fall over exactly like the ``routed`` strategy: ``choose`` asks ``router.decide`` and ``call`` /
``stream_call`` go through ``resilience.call_with_fallbacks`` / ``stream_with_fallbacks``. This module only
adapts those to the strategies' needs (a route over messages the strategy built itself, such as one map chunk
or a trimmed history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from chains import resilience, routed, router
from chains.calls import CallOutcome


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


def routed_call(chain: Any, request: Any, config: Any) -> Dict[str, Any]:
    """The ordinary routed call of the chain's prompt (attachments, domain preamble, fallbacks); raises
    ``InputTooLarge`` when no model's window takes the input."""
    return routed.run(chain, request, config)


def routed_stream(chain: Any, request: Any, config: Any) -> Iterator[Dict[str, Any]]:
    """The same call streamed (``routed.stream``)."""
    yield from routed.stream(chain, request, config)


def stream_call(
    chain: Any, request: Any, route: Route, messages: Sequence[Any], config: Any, max_tokens: Optional[int] = None
) -> Iterator[Dict[str, Any]]:
    """``call`` streamed: ``{"output": delta}`` chunks, then ``{"outcome": CallOutcome, "attempts": [...]}``."""
    yield from resilience.stream_with_fallbacks(
        chain, request, list(route.candidates), list(messages), config, max_tokens=max_tokens
    )


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
def choose(chain: Any, request: Any, messages: Sequence[Any], config: Any) -> Route:
    """The route for one call with ``messages``: ``InputTooLarge`` when no model's window fits them,
    ``BudgetExceeded`` when none fits ``options.max_cost_usd``."""
    return _from_decision(router.decide(chain, request, list(messages), config))


def _from_decision(decision: Any) -> Route:
    as_dict = decision.to_dict() if hasattr(decision, "to_dict") else dict(getattr(decision, "__dict__", {}))
    alias = getattr(decision, "model", None) or as_dict.get("model")
    candidates = list(getattr(decision, "candidates", None) or as_dict.get("candidates") or [alias])
    if alias in candidates:
        candidates.remove(alias)
    details = {k: v for k, v in as_dict.items() if k not in ("model", "reason", "candidates")}
    reason = getattr(decision, "reason", None) or as_dict.get("reason") or "chosen by the router"
    return Route(alias, [alias] + candidates, reason, details, decision)


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
    return resilience.call_with_fallbacks(
        chain, request, list(route.candidates), list(messages), config, max_tokens=max_tokens
    )
