"""Request fields a model may not offer, refused in Bedrock's own words.

Runs after the structural checks in validation.py, on the Converse-shaped request, with the
catalogue entry of the model that will serve it.  Each message cites where the text comes
from; "estimate" marks the few for which no recorded Bedrock answer was found.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import BedrockError, validation

# vercel/ai issue 20365 (recorded 400 from bedrock-runtime; same on Nova, so the service validates it);
# rule per https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html
# (alphanumerics, whitespace, hyphens, parentheses, square brackets; no consecutive whitespace;
# 1-200 chars). Underscores are accepted live (vercel/ai PR 20366).
DOC_NAME = ("The document file name can only contain alphanumeric characters, whitespace characters, "
            "hyphens, parentheses, and square brackets. The name can't contain more than one consecutive "
            "whitespace character. Check that the file name conforms to these restrictions and retry your "
            "request.")
_DOC_NAME_OK = re.compile(r"^[A-Za-z0-9_\-()\[\]\s]{1,200}$")
# aws-samples/generative-ai-use-cases issue 1685 (production Bedrock logs).
DUPLICATE_DOCS = "Messages can't contain duplicate document names."
TOO_MANY_DOCS = "You can't include more than 5 documents in a request."
# strands-agents/harness-sdk PR 1807 (AccessDeniedException on Llama), BerriAI/litellm PR 39210 (403);
# full text as recorded in the find_string hits of that error (".. See the documentation ..").
NO_CACHING = ("You invoked an unsupported model or your request did not allow prompt caching. "
              "See the documentation for more information.")
# BerriAI/litellm issues 13825, 13609, 15637; langchain-ai/langchainjs PR 8338 ("thinking: Extra inputs
# are not permitted" when the model has no extended thinking).
EXTRA_INPUTS = "The model returned the following errors: {key}: Extra inputs are not permitted"
# BerriAI/litellm issue 9128 (Nova, unknown key in additionalModelRequestFields).
NOVA_EXTRANEOUS = ("The model returned the following errors: Malformed input request: #: extraneous key "
                   "[{key}] is not permitted, please reformat your input and try again.")
# NousResearch/hermes-agent PR 34476 (live table): unknown tier, reserved without a reservation,
# unknown latency value.
TIER_INVALID = "service tier provided is invalid"
NO_RESERVATION = "Reservation not found."
LATENCY_ENUM = ("Value '{value}' at 'performanceConfig.latency' failed to satisfy constraint: "
                "Member must satisfy enum value set: [optimized, standard]")
# estimate: no recorded answer found for latency=optimized on a model/Region without it.
NO_LATENCY_OPTIMIZED = ("Latency optimized inference is not supported for this model in this Region. "
                        "Retry your request with performanceConfig latency set to standard.")
# strands-agents/sdk-python issue 1241 and BerriAI/litellm's Bedrock docs (Llama, Mistral Large).
NO_TOOL_CHOICE = ("This model doesn't support the toolConfig.toolChoice.{mode} field. "
                  "Remove toolConfig.toolChoice.{mode} and try again.")
# openclaw/openclaw PR 58588 (invalid guardrail id, live test).
BAD_GUARDRAIL = "The provided guardrail identifier is invalid."
# stdapi-ai/stdapi.ai issue 224 (live, nova-micro): the Converse shape's range constraint.
RANGE_MAX = "Value '{value}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {limit}"
RANGE_MIN = "Value '{value}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {limit}"

# Keys Anthropic's Messages API takes through additionalModelRequestFields on Bedrock.
_ANTHROPIC_KEYS = {"top_k", "anthropic_beta", "anthropic_version", "stop_sequences", "output_config",
                   "tool_choice", "metadata", "context_management"}
_NOVA_KEYS = {"inferenceConfig"}
_TIERS = {"default", "priority", "flex", "reserved"}


def _bounded(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _number(value: Any) -> str:
    return _bounded(value)  # as Bedrock echoes it: 1.5 -> '1.5', 2 -> '2'


def check_inference_bounds(request: Mapping[str, Any]) -> None:
    cfg = request.get("inferenceConfig") or {}
    for key, lo, hi in (("temperature", 0, 1), ("topP", 0, 1), ("maxTokens", 1, None)):
        if key not in cfg or not isinstance(cfg[key], (int, float)):
            continue
        path = f"inferenceConfig.{key}"
        if hi is not None and cfg[key] > hi:
            raise validation(RANGE_MAX.format(value=_number(cfg[key]), path=path, limit=hi))
        if cfg[key] < lo:
            raise validation(RANGE_MIN.format(value=_number(cfg[key]), path=path, limit=lo))


def _blocks(request: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from (b for b in request.get("system") or [] if isinstance(b, Mapping))
    for msg in request.get("messages") or []:
        yield from (b for b in msg.get("content") or [] if isinstance(b, Mapping))
    yield from (t for t in (request.get("toolConfig") or {}).get("tools") or [] if isinstance(t, Mapping))


def check_documents(request: Mapping[str, Any]) -> None:
    names: list[str] = []
    for msg in request.get("messages") or []:
        for block in msg.get("content") or []:
            doc = block.get("document") if isinstance(block, Mapping) else None
            if not doc or not doc.get("name"):
                continue
            name = str(doc["name"])
            if not _DOC_NAME_OK.match(name) or re.search(r"\s\s", name):
                raise validation(DOC_NAME)
            names.append(name)
    if len(names) != len(set(names)):
        raise validation(DUPLICATE_DOCS)
    if len(names) > 5:
        raise validation(TOO_MANY_DOCS)


def check_tool_choice(request: Mapping[str, Any], entry: Any) -> None:
    choice = (request.get("toolConfig") or {}).get("toolChoice")
    if isinstance(choice, Mapping):
        for mode in choice:
            if mode in ("auto", "any", "tool") and mode not in entry.capabilities.tool_choice:
                raise validation(NO_TOOL_CHOICE.format(mode=mode))


def check_prompt_caching(request: Mapping[str, Any], entry: Any) -> None:
    if entry.capabilities.prompt_caching is None and any("cachePoint" in b for b in _blocks(request)):
        raise BedrockError("AccessDeniedException", NO_CACHING)


def check_additional_fields(request: Mapping[str, Any], entry: Any) -> None:
    extra = request.get("additionalModelRequestFields")
    if not isinstance(extra, Mapping):
        return
    provider = entry.id.split(".", 1)[0]
    reasoning = entry.capabilities.reasoning
    if provider == "anthropic":
        allowed = _ANTHROPIC_KEYS | ({"thinking"} if reasoning else set())
        for key in extra:
            if key not in allowed:
                raise validation(EXTRA_INPUTS.format(key=_bounded(key)))
    elif provider == "amazon":
        allowed = _NOVA_KEYS | ({"reasoningConfig"} if reasoning else set())
        for key in extra:
            if key not in allowed:
                raise validation(NOVA_EXTRANEOUS.format(key=_bounded(key)))
    elif provider == "openai" and not reasoning and "reasoning_effort" in extra:
        raise validation(EXTRA_INPUTS.format(key="reasoning_effort"))


def check_performance(request: Mapping[str, Any], entry: Any, region: str) -> None:
    perf = request.get("performanceConfig") or {}
    latency = perf.get("latency")
    if latency is not None:
        if latency not in ("standard", "optimized"):
            raise validation(LATENCY_ENUM.format(value=_bounded(latency)))
        if latency == "optimized" and region not in entry.capabilities.latency_optimized:
            raise validation(NO_LATENCY_OPTIMIZED)
    tier = (request.get("serviceTier") or {}).get("type")
    if tier is not None:
        if tier not in _TIERS:
            raise validation(TIER_INVALID)
        if tier == "reserved":
            raise validation(NO_RESERVATION)
        if tier not in entry.capabilities.service_tiers:
            # estimate: Bedrock's text for a valid tier this model does not offer was not found;
            # the invalid-tier text is the closest recorded answer.
            raise validation(TIER_INVALID)


_GUARDRAIL_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:guardrail/(?P<id>[a-z0-9]+)$")


def guardrail_id(identifier: str) -> str:
    m = _GUARDRAIL_ARN.match(identifier or "")
    return m.group("id") if m else (identifier or "")


def check_guardrail(request: Mapping[str, Any], known: Any) -> None:
    """``known``: the guardrail ids the emulator is configured with (a container)."""
    cfg = request.get("guardrailConfig")
    if not isinstance(cfg, Mapping):
        return
    gid = guardrail_id(str(cfg.get("guardrailIdentifier", "")))
    if not gid or gid not in (known or ()):
        raise validation(BAD_GUARDRAIL)


def check_model_fields(request: Mapping[str, Any], entry: Any, region: str, guardrails: Any = ()) -> None:
    """Every check above, in the order Bedrock's front end applies them (shape, then model)."""
    check_inference_bounds(request)
    check_documents(request)
    check_performance(request, entry, region)
    check_guardrail(request, guardrails)
    check_tool_choice(request, entry)
    check_additional_fields(request, entry)
    check_prompt_caching(request, entry)
