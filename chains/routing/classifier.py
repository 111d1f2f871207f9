"""``router.mode: llm``: a cheap model classifies difficulty and domain with structured output; when it
cannot (cooling down, no time left, an error), the rules decide."""

from __future__ import annotations

import time
from typing import Any, Dict, Literal, Optional, Sequence, Tuple

from langchain_core.runnables import RunnableConfig
from pydantic import Field

from chains.calls.bounded import CallAbandoned, run_bounded
from chains.calls.settings import resilience_settings
from chains.errors import to_model_error
from chains.models import structured_output
from chains.routing.settings import CompiledRules
from chains.usage import estimate_cost

_CLASSIFIER_SYSTEM = (
    "You route requests to a fast, cheap model or to a strong, expensive one. Classify the user's request by "
    "calling the tool. difficulty is 'hard' when answering well needs multi-step reasoning, writing or "
    "debugging code, mathematics, or careful analysis of several points; 'easy' for look-ups, short factual "
    "answers, rewording and simple summaries. domain is the subject area ('general' if none fits). "
    "Do not answer the request itself."
)


def _classifier_schema(domains: Sequence[str]) -> Any:
    from pydantic import create_model

    names = tuple(dict.fromkeys([*domains, "general"]))
    return create_model(
        "RouteClassification",
        __doc__="How hard the request is and what it is about.",
        difficulty=(Literal["easy", "hard"], Field(description="easy or hard (see the instructions)")),
        domain=(Literal[names], Field(description=f"one of: {', '.join(names)}")),  # type: ignore[valid-type]
    )


def classify_request(
    chain: Any, request: Any, text: str, rules: CompiledRules, config: Optional[RunnableConfig]
) -> Tuple[Optional[Dict[str, str]], Dict[str, Any]]:
    """Ask the classifier model; returns (None, info) when it is unavailable, so the rules decide."""
    settings = chain.settings
    rs = rules.rs
    alias = rs.llm.model or min(settings.models, key=lambda a: estimate_cost(settings, a, 1000, 1000))
    info: Dict[str, Any] = {"model": alias, "ok": False}
    cooling = chain.runtime.cooldown.status(alias)
    if cooling:
        info["error"] = f"{alias} cooling down after {cooling['error_class']}"
        return None, info
    timeout_ms = float(rs.llm.timeout_ms)
    remaining = request.remaining_ms()
    if remaining is not None:
        timeout_ms = min(timeout_ms, remaining - resilience_settings(settings).min_attempt_ms)
        if timeout_ms <= 0:
            info["error"] = "no time left for the classifier"
            return None, info
    schema = rules.classifier_schema
    if schema is None:
        schema = rules.classifier_schema = _classifier_schema(list(rs.domains))
    model = chain.runtime.factory.chat_model(alias, max_tokens=200, temperature=0.0)
    structured = structured_output(model, settings.model(alias), schema)
    prompt = [("system", _CLASSIFIER_SYSTEM), ("human", text[: rs.llm.max_chars] or "(empty request)")]
    start = time.perf_counter()
    try:
        result = run_bounded(lambda: structured.invoke(prompt, config=config), timeout_ms / 1000.0)
    except CallAbandoned:
        info.update(error="timeout", ms=round((time.perf_counter() - start) * 1000, 1))
        return None, info
    except Exception as exc:  # any failure: the rules decide instead
        err = to_model_error(exc, settings.model(alias).model_id)
        info.update(error=err.error_class, code=err.code, ms=round((time.perf_counter() - start) * 1000, 1))
        seconds = resilience_settings(settings).cooldown_s.get(err.error_class, 0)
        if seconds:
            chain.runtime.cooldown.trip(alias, err.error_class, seconds)
        return None, info
    info.update(ok=True, ms=round((time.perf_counter() - start) * 1000, 1),
                difficulty=result.difficulty, domain=result.domain)
    return {"difficulty": result.difficulty, "domain": result.domain}, info
