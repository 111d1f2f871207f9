"""How a default prompt router picks one of its two models for a request.

Bedrock's routers predict each model's response quality; offline we use a deterministic
difficulty proxy instead, so the choice is reproducible and documented (docs/bedrock_local.md).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .catalogue import PromptRouter


def route_prompt(router: PromptRouter, request: Mapping[str, Any]) -> str:
    """The model a default prompt router sends ``request`` to (deterministic; documented rule).

    Difficulty proxy in [0, 1] from the last user turn: half from its length (saturating at
    1,200 characters), half from reasoning cues (why/explain/compare/analy(s|z)e/prove/derive/
    step by step/trade-off/design/debug/code fences), each cue worth 1/3, capped.  The router
    picks the stronger model (router.models[1]) when difficulty exceeds the router's
    responseQualityDifference, the cheaper one (router.models[0]) otherwise: "use the big model
    only when the expected quality gap is larger than the allowed difference".
    """
    return router.models[1] if difficulty(request) > router.response_quality_difference else router.models[0]


_CUES = re.compile(r"\b(why|explain|compare|analy[sz]e|prove|derive|step by step|trade-?offs?|design|"
                   r"debug)\b|```", re.IGNORECASE)


def difficulty(request: Mapping[str, Any]) -> float:
    text = ""
    for msg in reversed(request.get("messages") or []):
        if msg.get("role") == "user":
            text = " ".join(str(b.get("text", "")) for b in msg.get("content") or [] if isinstance(b, Mapping))
            break
    length = min(1.0, len(text) / 1200.0)
    cues = min(1.0, len(_CUES.findall(text)) / 3.0)
    return round(0.5 * length + 0.5 * cues, 4)
