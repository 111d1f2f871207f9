"""The ``routed`` and ``fallback`` strategies: the router's decision, then fallbacks along its candidates.

``routed``   chooses by constraints, budget, preference and content (chains.routing);
``fallback`` takes the chain's configured model list in order (still skipping models that cannot take the
             request). Both call through chains.calls.fallback, and both stream (``stream``): they fall over
             only before the first text chunk.

Attachments (``images``, ``documents``) are taken next to the prompt variables (``chains.attachments``).
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

from langchain_core.messages import SystemMessage
from langchain_core.runnables import RunnableConfig

from chains.attachments import ATTACHMENT_INPUTS, build_messages
from chains.calls.fallback import call_with_fallbacks, stream_with_fallbacks
from chains.chain import ChainOutput, StrategySpec
from chains.models import invocation_id
from chains.errors import ChainsError
from chains.guardrails import response_fields
from chains.reasoning import response_fields as reasoning_fields
from chains.routing.decision import RouteDecision, decide
from chains.routing.signals import domain_preamble


def run(chain: Any, request: Any, config: RunnableConfig) -> Dict[str, Any]:
    messages = build_messages(chain, request)
    decision = decide(chain, request, messages, config)
    messages = with_domain_preamble(request, messages, decision)
    try:
        outcome, attempts = call_with_fallbacks(
            chain, request, decision.candidates, messages, config, max_tokens=decision.max_tokens
        )
    except ChainsError as exc:
        exc.details.setdefault("route", decision.to_dict())
        raise
    return {
        "output": outcome.text,
        "model": outcome.model_id,
        "route": _route(chain, decision, outcome, attempts),
        "attempts": attempts,
        "stop_reason": outcome.stop_reason,
        **response_fields(request, outcome), **reasoning_fields(request, outcome),
    }


def stream(chain: Any, request: Any, config: RunnableConfig) -> Iterator[Dict[str, Any]]:
    """``{"output": delta}`` chunks, then one dict with model, route, attempts and stop_reason."""
    messages = build_messages(chain, request)
    decision = decide(chain, request, messages, config)
    messages = with_domain_preamble(request, messages, decision)
    try:
        for piece in stream_with_fallbacks(
            chain, request, decision.candidates, messages, config, max_tokens=decision.max_tokens
        ):
            if "output" in piece:
                yield piece
                continue
            outcome = piece["outcome"]
            yield {
                "model": outcome.model_id,
                "route": _route(chain, decision, outcome, piece["attempts"]),
                "attempts": piece["attempts"],
                "stop_reason": outcome.stop_reason,
                **response_fields(request, outcome), **reasoning_fields(request, outcome),
            }
    except ChainsError as exc:
        exc.details.setdefault("route", decision.to_dict())
        raise


ROUTED = StrategySpec("routed", run, stream, ChainOutput, extra_inputs=ATTACHMENT_INPUTS, bulk="routed")
# Same functions: the strategy tells the router to keep the configured order (no content routing).
FALLBACK = StrategySpec("fallback", run, stream, ChainOutput, extra_inputs=ATTACHMENT_INPUTS, ordered=True,
                        bulk="routed")


def _route(chain: Any, decision: RouteDecision, outcome: Any, attempts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The decision, who answered (and through which inference profile, when the configured bare id cannot be
    called on demand in the region), and the retired models passed over (retired by Bedrock in this container)."""
    route = {**decision.to_dict(), "answered_by": outcome.alias}
    cfg = chain.settings.model(outcome.alias)
    region = cfg.region or chain.settings.region
    called = invocation_id(cfg, region)
    if called != cfg.model_id:
        route["called_through"] = called
        route["reason"] = (f"{route['reason']}; {outcome.alias} called through inference profile {called} "
                           f"({cfg.model_id} has no on-demand throughput in {region})")
    retired = [f"{a['alias']}: {a['message']}" for a in attempts if a.get("error_class") == "retired"]
    if retired:
        route["reason"] = f"{route['reason']}; skipped {', '.join(retired)}"
    return route


def with_domain_preamble(request: Any, messages: List[Any], decision: RouteDecision) -> List[Any]:
    """Prepend the prompt file's preamble for the decided domain (``metadata.domain_preambles``), if any."""
    preamble = domain_preamble(request.prompt, decision.domain)
    return [SystemMessage(content=preamble), *messages] if preamble else messages
