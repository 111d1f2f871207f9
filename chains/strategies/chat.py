"""The ``chat`` strategy: a conversation (``messages`` input) trimmed to fit, then one routed call.

The history is trimmed with langchain-core's ``trim_messages`` measured by our estimator: the prompt file's
system message is always kept, then the latest turns that fit, starting on a user turn (Bedrock requires
it). The room is the largest candidate window after its margin and output reserve, or
``tokens.history_max_tokens`` when that is lower (a cost cap). When not even the system message and the last
user turn fit, the answer is a 413 naming the sizes. The response adds ``history``: messages and estimated
tokens before and after trimming.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from langchain_core.messages import HumanMessage, SystemMessage, trim_messages
from langchain_core.runnables import RunnableConfig
from pydantic import Field

from chains.calls.fallback import call_with_fallbacks, stream_with_fallbacks
from chains.chain import ChainOutput, StrategySpec
from chains.errors import BadRequest
from chains.guardrails import response_fields
from chains.reasoning import response_fields as reasoning_fields
from chains.limits import output_reserve, requested_max_tokens
from chains.routing.decision import RouteDecision, candidates, decide
from chains.tokens.estimator import estimate_messages, input_budget, too_large
from chains.tokens.settings import tokens_config


class Output(ChainOutput):
    history: Dict[str, Any] = Field(description="messages/tokens before and after trimming the history.")
    stop_reason: Optional[str] = Field(default=None, description="Why Bedrock stopped.")


def history_room(chain: Any, request: Any) -> int:
    """Estimated input tokens the conversation may take: the largest candidate's, capped by config."""
    settings = chain.settings
    wanted = requested_max_tokens(request)
    room = max(input_budget(settings, a, output_reserve(settings, a, wanted)) for a in candidates(chain, request))
    cap = tokens_config(settings).history_max_tokens
    return min(room, cap) if cap else room


def trim_history(messages: List[Any], room: int) -> List[Any]:
    """The system message(s) and the latest turns within ``room`` estimated tokens, starting on a user turn."""
    return trim_messages(
        messages,
        max_tokens=room,
        token_counter=estimate_messages,
        strategy="last",
        include_system=True,
        start_on="human",
        allow_partial=False,
    )


def prepare(chain: Any, request: Any, config: RunnableConfig) -> Tuple[List[Any], Dict[str, Any], RouteDecision]:
    """The trimmed messages, the ``history`` report and the route for them."""
    messages = request.prompt.format_messages(request.inputs, cache=request.cache)
    conversation = [m for m in messages if not isinstance(m, SystemMessage)]
    if not conversation or not isinstance(conversation[-1], HumanMessage):
        raise BadRequest("the conversation must end with a user message", field=",".join(request.prompt.placeholders))
    room = history_room(chain, request)
    kept = trim_history(messages, room)
    tokens_before, tokens_after = estimate_messages(messages), estimate_messages(kept)
    last = messages[-1]
    if not kept or kept[-1].type != "human" or kept[-1].content != last.content or tokens_after > room:
        system_and_last = [m for m in messages if isinstance(m, SystemMessage)] + [last]
        raise too_large(
            chain.settings,
            candidates(chain, request),
            estimate_messages(system_and_last),
            requested_max_tokens(request),
            what="system prompt and last user message",
        )
    history = {
        "messages_before": len(messages),
        "messages_after": len(kept),
        "tokens_before": tokens_before,
        "tokens_after": tokens_after,
        "trimmed": len(kept) < len(messages),
        "room_tokens": room,
    }
    return kept, history, decide(chain, request, kept, config)


def run(chain: Any, request: Any, config: RunnableConfig) -> Dict[str, Any]:
    kept, history, route = prepare(chain, request, config)
    outcome, attempts = call_with_fallbacks(chain, request, route.candidates, kept, config, route.max_tokens)
    return {
        "output": outcome.text,
        "model": outcome.model_id,
        "route": route.to_dict(),
        "attempts": attempts,
        "stop_reason": outcome.stop_reason,
        "history": history,
        **response_fields(request, outcome), **reasoning_fields(request, outcome),
    }


def stream(chain: Any, request: Any, config: RunnableConfig) -> Iterator[Dict[str, Any]]:
    """The same call streamed: text deltas, then the other keys of ``run``."""
    kept, history, route = prepare(chain, request, config)
    for piece in stream_with_fallbacks(chain, request, route.candidates, kept, config, route.max_tokens):
        if "outcome" not in piece:
            yield piece
            continue
        outcome = piece["outcome"]
        yield {
            "model": outcome.model_id,
            "route": route.to_dict(),
            "attempts": piece["attempts"],
            "stop_reason": outcome.stop_reason,
            "history": history,
            **response_fields(request, outcome), **reasoning_fields(request, outcome),
        }


CHAT = StrategySpec("chat", run, stream, Output)
