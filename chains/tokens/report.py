"""What every response says about tokens and budget (``optimization``, ``budget``)."""

from __future__ import annotations

import logging
from typing import Any, Dict

logger = logging.getLogger(__name__)


def token_report(request: Any, result: Dict[str, Any]) -> Dict[str, Any]:
    """Keys added to every response: ``optimization`` (when inputs were optimised) and ``budget`` (when
    ``options.max_cost_usd`` was given: the ceiling, the estimate checked before spending, the actual cost)."""
    out: Dict[str, Any] = {}
    if getattr(request, "cache", None) == "1h":  # which TTL each caching model was sent (5m where 1h is not offered)
        from chains.caching.facts import report_ttls

        report_ttls(result.get("usage_by_model") or {}, "1h")
    if getattr(request, "optimization", None):
        out["optimization"] = request.optimization
    ceiling = getattr(getattr(request, "options", None), "max_cost_usd", None)
    if ceiling is not None:
        route = result.get("route") or {}
        actual = result.get("cost_usd")
        budget = {
            "max_cost_usd": ceiling,
            "estimated_cost_usd": route.get("estimated_cost_usd"),
            "cost_usd": actual,
            "within_budget": None if actual is None else actual <= ceiling,
        }
        if actual is not None and actual > ceiling:
            # Estimates are checked before spending; a real count above the ceiling means the margin is short.
            logger.warning(
                "actual cost above options.max_cost_usd",
                extra={"max_cost_usd": ceiling, "cost_usd": actual, "estimated_cost_usd": budget["estimated_cost_usd"]},
            )
        out["budget"] = budget
    return out
