"""``options.reasoning``: off, or a token budget (>= 1024) for models whose catalogue entry says they reason.

Claude takes ``additionalModelRequestFields.thinking {type: enabled, budget_tokens}``; Anthropic refuses a
temperature other than 1 with thinking, so none is sent, and maxTokens must exceed the budget
(https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html). Reasoning tokens
are output tokens (Bedrock bills them in ``usage.outputTokens``), so the usage and the one cost formula count
them as they are. The reasoning text is returned under ``reasoning`` only with ``options.return_reasoning``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from chains.errors import BadRequest

MIN_BUDGET = 1024  # Anthropic's minimum budget_tokens


def budget(options: Any) -> Optional[int]:
    value = getattr(options, "reasoning", "off")
    return None if value in (None, "off") else int(value)


def capable(settings: Any) -> List[str]:
    return [a for a, m in settings.models.items() if m.capabilities.reasoning]


def require_capable(settings: Any, alias: str) -> None:
    """A 400 naming the models that reason when ``alias`` does not (or does not in a way we can ask for)."""
    cfg = settings.model(alias)
    if not cfg.capabilities.reasoning or not _anthropic(cfg.model_id):
        able = [a for a in capable(settings) if _anthropic(settings.model(a).model_id)]
        raise BadRequest(f"model '{alias}' does not take options.reasoning; models that do: "
                         f"{', '.join(able) or 'none configured'}", field="options.reasoning", available=able)


def _anthropic(model_id: str) -> bool:
    return "anthropic." in model_id


def model_overrides(options: Any, cfg: Any, max_tokens: Optional[int]) -> Dict[str, Any]:
    """The chat model overrides for a reasoning call (none when reasoning is off or the model does not reason):
    the thinking request field, no temperature, and maxTokens above the budget (within the model's limit)."""
    n = budget(options)
    if n is None or not cfg.capabilities.reasoning or not _anthropic(cfg.model_id):
        return {}
    room = max(max_tokens or 0, n + MIN_BUDGET)
    return {"additional_model_request_fields": {"thinking": {"type": "enabled", "budget_tokens": n}},
            "max_tokens": min(room, cfg.max_output_tokens), "temperature": None, "no_temperature": True}


def text(message: Any) -> str:
    """The reasoning text of an AIMessage (langchain-aws ``reasoning_content`` blocks), joined."""
    parts = []
    for block in getattr(message, "content", None) or []:
        if isinstance(block, Mapping) and block.get("type") == "reasoning_content":
            rc = block.get("reasoning_content") or {}
            parts.append(str(rc.get("text", "")))
    return "".join(parts)


def response_fields(request: Any, outcome: Any) -> Dict[str, Any]:
    if budget(request.options) is None or not getattr(request.options, "return_reasoning", False):
        return {}
    return {"reasoning": text(outcome.message)}


def needs(request: Any) -> set:
    """The capability the router requires of candidates: ``reasoning`` when a budget is asked for."""
    return {"reasoning"} if budget(request.options) is not None else set()
