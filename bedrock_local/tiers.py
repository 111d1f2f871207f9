"""Service tiers (``serviceTier``) and latency-optimised inference (``performanceConfig``).

Both are top-level Converse / ConverseStream request members and are echoed in the response
(``ConverseResponse.serviceTier`` / ``.performanceConfig``, and the same members of the stream's
``metadata`` event: botocore's bedrock-runtime service-2.json).

What Bedrock answers, as measured against it (NousResearch/hermes-agent PR 34476,
envoyproxy/ai-gateway PR 1749):

* ``serviceTier.type`` outside the enum: 400 "service tier provided is invalid";
* ``reserved`` without a reservation: 400 "Reservation not found.";
* ``performanceConfig.latency`` outside the enum: 400 "1 validation error detected: Value '...' at
  'performanceConfig.latency' failed to satisfy constraint: Member must satisfy enum value set:
  [optimized, standard]".

A tier the catalogue does not list for the model gets the same "service tier provided is
invalid" (the tier is not valid *for that model*; no distinct public text was found).
``latency: optimized`` where the model or region does not offer it is served at standard
latency and echoed as ``standard``: the user guide says requests over the optimised quota "will
be served with Standard latency" and "the latency configuration for a served request is visible
in API response" (https://docs.aws.amazon.com/bedrock/latest/userguide/latency-optimized-inference.html).
The region is the one the request was signed for (SigV4 credential scope).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .errors import validation

TIERS = ("priority", "default", "flex", "reserved")
LATENCIES = ("standard", "optimized")
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[a-z0-9-]+)/")


def requested_tier(body: Any) -> str:
    """The tier a request asks for ('default' when it names none); never raises."""
    if isinstance(body, Mapping):
        tier = body.get("serviceTier")
        if isinstance(tier, Mapping) and isinstance(tier.get("type"), str):
            return tier["type"]
    return "default"


def region_of(headers: Mapping[str, str], fallback: str = "us-east-1") -> str:
    m = _SCOPE.search(headers.get("authorization", "") or "")
    return m.group("region") if m else fallback


def echo(request: Mapping[str, Any], offered_tiers: tuple[str, ...] | None,
         optimized_regions: tuple[str, ...] | None, region: str) -> dict[str, Any]:
    """Check the request's tier and latency; return the response members to echo."""
    out: dict[str, Any] = {}
    tier = request.get("serviceTier")
    if tier is not None:
        kind = tier.get("type") if isinstance(tier, Mapping) else None
        if kind == "reserved":
            raise validation("Reservation not found.")
        if kind not in TIERS or (offered_tiers is not None and kind not in offered_tiers
                                 and kind != "default"):
            raise validation("service tier provided is invalid")
        out["serviceTier"] = {"type": kind}
    perf = request.get("performanceConfig")
    if perf is not None:
        latency = perf.get("latency", "standard") if isinstance(perf, Mapping) else perf
        if latency not in LATENCIES:
            shown = str(latency)[:200]
            raise validation(f"1 validation error detected: Value '{shown}' at "
                             "'performanceConfig.latency' failed to satisfy constraint: Member "
                             "must satisfy enum value set: [optimized, standard]")
        if latency == "optimized" and optimized_regions is not None and region not in optimized_regions:
            latency = "standard"
        out["performanceConfig"] = {"latency": latency}
    return out
