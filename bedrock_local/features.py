"""The Converse features around the model's answer, in the order Bedrock applies them.

    checks (cachePoint placement and limits, thinking budget; request_fields.py has already
            refused what the model does not offer: caching, reasoning keys, tiers, guardrail ids)
    -> input guardrail (may answer instead of the model)
    -> the model's answer (answers.respond) -> citations -> reasoning block
    -> output guardrail -> prompt-cache accounting -> response extras

Each feature lives in its own module (cache, reasoning, citations, guardrails, tiers); this one
only sequences them, so the emulator's handler has a single call to make.  What a model offers
comes from the catalogue entry; a model the catalogue does not know (configured only in
config.yaml) gets no checks and no extras beyond guardrails.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from . import answers, cache, citations, guardrails, reasoning, tiers
from .converse import Extras
from .tokens import estimate_tokens


@dataclass
class Outcome:
    completion: answers.Completion
    extras: Extras
    input_tokens: int  # what the call is billed for (0 when the input guardrail blocked it)


def _question(request: Mapping[str, Any]) -> str:
    users = [m for m in request.get("messages") or [] if m.get("role") == "user"]
    return "\n".join(answers._texts(users[-1].get("content") or [])) if users else ""


def _provider_of(model_id: str) -> str:
    parts = model_id.rsplit("/", 1)[-1].split(".")
    return parts[1] if len(parts) > 2 and parts[0] in ("us", "eu", "apac", "global", "us-gov",
                                                       "ca", "jp", "au", "sa") else parts[0]


def _reports_cache_fields(entry: Any) -> bool:
    # Newer Claude models (the ones that reason) report both cache fields, as 0, even when the
    # request has no cachePoint (recorded real responses: FACTS.md "Recorded real responses").
    caps = entry.capabilities
    return entry.provider_key == "anthropic" and caps.prompt_caching is not None and caps.reasoning


def run(request: Mapping[str, Any], model_id: str, entry: Any, input_tokens: int, *,
        prompt_cache: cache.PromptCache, guards: guardrails.GuardrailSet) -> Outcome:
    caps = entry.capabilities if entry is not None else None
    provider = entry.provider_key if entry is not None else _provider_of(model_id)
    points = cache.check(request, caps.prompt_caching, entry) if caps is not None else []
    plan = reasoning.plan(request, provider, caps.reasoning) if caps is not None else None
    echo = tiers.echo(request)
    verdict = guardrails.check_input(guards, request)
    extras = Extras(cache_fields=entry is not None and _reports_cache_fields(entry), echo=echo)

    if verdict is not None and verdict.input_assessment is not None:
        # The model never sees a blocked input; the answer is the guardrail's message.
        text = verdict.guardrail.blocked_input_messaging
        extras.trace = {"guardrail": verdict.trace_body()} if verdict.trace else None
        done = answers.Completion([{"text": text}], "guardrail_intervened", 0,
                                  text_pieces=answers._pieces(text))
        return Outcome(done, extras, 0)

    c = answers.respond(request, model_id)
    if caps is not None and caps.citations:
        c.blocks = citations.cite(c.blocks, request)
    thinking_tokens = 0
    if plan is not None and c.blocks:
        thought = reasoning.reasoning_text(_question(request), c.blocks, plan.budget)
        thinking_tokens = estimate_tokens(thought)
        c.blocks = [reasoning.block(thought, plan.signed)] + c.blocks
        c.output_tokens += thinking_tokens
    if verdict is not None:
        guardrails.check_output(verdict, c.blocks)
        if verdict.output_assessment is not None:
            text = verdict.guardrail.blocked_outputs_messaging
            c = answers.Completion([{"text": text}], "guardrail_intervened", c.output_tokens,
                                   text_pieces=answers._pieces(text))
        if verdict.trace:
            extras.trace = {"guardrail": verdict.trace_body()}
    if points and caps is not None and caps.prompt_caching is not None:
        split = prompt_cache.account(entry.id, points, caps.prompt_caching.min_tokens, input_tokens)
        extras.cache_read, extras.cache_write = split.read, split.write
        extras.cache_write_ttl = split.write_ttl or "5m"
        extras.cache_fields = True
    extras.response_fields = reasoning.response_fields(request, provider, input_tokens,
                                                       c.output_tokens, thinking_tokens)
    return Outcome(c, extras, input_tokens)
