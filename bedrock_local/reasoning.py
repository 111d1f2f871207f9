"""Reasoning (extended thinking): what asks for it, Bedrock's refusals, and the reasoning blocks.

Request shapes (``additionalModelRequestFields``), as langchain-aws 1.9.1 sends them
(``langchain_aws.utils.reasoning_effort_additional_fields``) and the Bedrock user guide shows
(https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html):

* Anthropic: ``{"thinking": {"type": "enabled", "budget_tokens": N}}`` or
  ``{"thinking": {"type": "adaptive"}, "output_config": {"effort": "low|medium|high"}}``;
  ``{"thinking": {"type": "disabled"}}`` turns it off.
* Amazon Nova 2: ``{"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low|medium|high"}}``.
* gpt-oss: ``{"reasoning_effort": "low|medium|high"}``.

Refusals, in Bedrock's words (Anthropic's text behind "The model returned the following errors:"):

* budget below 1,024: "thinking.enabled.budget_tokens: Input should be greater than or equal to
  1024" (danny-avila/LibreChat issue 8346, Claude on Bedrock);
* budget not below maxTokens: "`max_tokens` must be greater than `thinking.budget_tokens`. Please
  consult our documentation at ..." (vercel/ai issue 7927, Opus 4.1 on Bedrock);
* temperature other than 1 with thinking: "temperature may only be set to 1 when thinking is
  enabled." (Aider-AI/aider issue 3720, Bedrock);
* thinking on an Anthropic model without it: "thinking: Extra inputs are not permitted" (the
  pydantic-style refusal Anthropic gives unknown fields; FACTS.md "Extra inputs are not
  permitted");
* reasoningConfig / reasoning_effort on another model without reasoning: the Nova/Bedrock
  "Malformed input request: #: extraneous key [...] is not permitted" form (BerriAI/litellm
  issue 17336 shows that wording for an extraneous key).

The answer: one ``reasoningContent`` block (``reasoningText {text, signature}``) before the
answer; its tokens count in ``outputTokens``.  With ``additionalModelResponseFieldPaths``
containing ``/usage`` an Anthropic model also reports
``additionalModelResponseFields.usage.output_tokens_details.thinking_tokens`` (Anthropic's usage
object carries it since Aug 2026, anthropics/anthropic-sdk-python issue 1017), which is where
langchain-aws reads reasoning tokens from.
"""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import validation
from .tokens import estimate_tokens

MIN_BUDGET = 1024
_PREFIX = "The model returned the following errors: "
_DOCS = "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
_EFFORT_TOKENS = {"low": 48, "medium": 96, "high": 160}


@dataclass(frozen=True)
class Plan:
    """Reasoning asked for by a request: how many tokens of reasoning to produce."""
    budget: int
    signed: bool  # Anthropic signs reasoning text; others do not


def _fields(request: Mapping[str, Any]) -> Mapping[str, Any]:
    extra = request.get("additionalModelRequestFields")
    return extra if isinstance(extra, Mapping) else {}


def plan(request: Mapping[str, Any], provider: str, can_reason: bool) -> Plan | None:
    """The reasoning a request asks for, after Bedrock's checks; None when it asks for none."""
    extra = _fields(request)
    if provider == "anthropic":
        thinking = extra.get("thinking")
        if not isinstance(thinking, Mapping) or thinking.get("type") == "disabled":
            return None
        if not can_reason:
            raise validation(_PREFIX + "thinking: Extra inputs are not permitted")
        cfg = request.get("inferenceConfig") or {}
        temperature = cfg.get("temperature")
        if temperature is not None and float(temperature) != 1.0:
            raise validation(_PREFIX + "temperature may only be set to 1 when thinking is enabled.")
        if thinking.get("type") == "adaptive":
            effort = str((extra.get("output_config") or {}).get("effort") or "medium")
            return Plan(_EFFORT_TOKENS.get(effort, 96), True)
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_BUDGET:
            raise validation(_PREFIX + "thinking.enabled.budget_tokens: Input should be greater "
                             "than or equal to 1024")
        max_tokens = cfg.get("maxTokens")
        if max_tokens is not None and budget >= int(max_tokens):
            raise validation(_PREFIX + "`max_tokens` must be greater than `thinking.budget_tokens`. "
                             f"Please consult our documentation at {_DOCS}")
        return Plan(min(budget, 160), True)
    key = next((k for k in ("reasoningConfig", "reasoning_effort") if k in extra), None)
    if key is None:
        return None
    if not can_reason:
        raise validation(_PREFIX + f"Malformed input request: #: extraneous key [{key}] is not "
                         "permitted, please reformat your input and try again.")
    if key == "reasoningConfig":
        cfg = extra[key] if isinstance(extra[key], Mapping) else {}
        if cfg.get("type") != "enabled":
            return None
        return Plan(_EFFORT_TOKENS.get(str(cfg.get("maxReasoningEffort") or "low"), 48), False)
    return Plan(_EFFORT_TOKENS.get(str(extra[key]), 48), False)


def reasoning_text(question: str, answer_blocks: list[Mapping[str, Any]], budget: int) -> str:
    """Deterministic 'thinking' about the question and the answer the emulator is about to give."""
    q = " ".join(question.split())[:160] or "the conversation so far"
    if any("toolUse" in b for b in answer_blocks):
        tool = next(b["toolUse"]["name"] for b in answer_blocks if "toolUse" in b)
        step = f"A tool is offered that fits: I will call {tool} with arguments taken from the request."
    else:
        step = "I will answer from the sentences of the supplied text that share the most words with it."
    text = f"The user asks: \"{q}\". {step} I keep the answer short and factual."
    limit = max(16, budget) * 4
    return text if len(text) <= limit else text[:limit]


def signature(text: str) -> str:
    return base64.b64encode(hashlib.sha256(b"bedrock_local:" + text.encode()).digest() * 2).decode()


def block(text: str, signed: bool) -> dict[str, Any]:
    inner: dict[str, Any] = {"text": text}
    if signed:
        inner["signature"] = signature(text)
    return {"reasoningContent": {"reasoningText": inner}}


def tokens_of(text: str) -> int:
    return estimate_tokens(text)


def response_fields(request: Mapping[str, Any], provider: str, input_tokens: int,
                    output_tokens: int, thinking_tokens: int) -> dict[str, Any] | None:
    """``additionalModelResponseFields`` for the paths the request asked for (Anthropic /usage)."""
    paths = request.get("additionalModelResponseFieldPaths") or []
    if provider != "anthropic" or "/usage" not in paths:
        return None
    return {"usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "output_tokens_details": {"thinking_tokens": thinking_tokens}}}
