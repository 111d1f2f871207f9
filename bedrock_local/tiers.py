"""Service tiers (``serviceTier``) and latency-optimised inference (``performanceConfig``).

Both are top-level Converse / ConverseStream request members and are echoed in the response
(``ConverseResponse.serviceTier`` / ``.performanceConfig``, and the same members of the stream's
``metadata`` event: botocore's bedrock-runtime service-2.json).  NousResearch/hermes-agent PR
34476 shows real Bedrock echoing both ("200, echoed").

Whether the model offers the tier or the latency is checked before this runs, in Bedrock's
words, by request_fields.check_performance (from the catalogue's ``service_tiers`` /
``latency_optimized``); this module only reads what was asked for and echoes it.  The
requested tier also selects fault rules (FaultRule.service_tier) and the price multiplier.
"""
from __future__ import annotations

from typing import Any, Mapping


def requested_tier(body: Any) -> str:
    """The tier a request asks for ('default' when it names none); never raises."""
    if isinstance(body, Mapping):
        tier = body.get("serviceTier")
        if isinstance(tier, Mapping) and isinstance(tier.get("type"), str):
            return tier["type"]
    return "default"


def echo(request: Mapping[str, Any]) -> dict[str, Any]:
    """The response members that repeat the request's serviceTier / performanceConfig."""
    out: dict[str, Any] = {}
    tier = request.get("serviceTier")
    if isinstance(tier, Mapping) and tier.get("type"):
        out["serviceTier"] = {"type": tier["type"]}
    perf = request.get("performanceConfig")
    if isinstance(perf, Mapping):
        out["performanceConfig"] = {"latency": perf.get("latency", "standard")}
    return out
