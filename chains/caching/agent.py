"""Prompt caching on the agent's model calls (langchain ``create_agent``), decided per model here.

The agent's model calls do not go through ``chains.calls`` (where placement happens for every other chain):
the agent graph calls the model itself. Its prefix is long and stable - the tool definitions, then the system
prompt - and Bedrock caches in the order tools -> system -> messages.

The mechanism is langchain-aws's: ``BedrockPromptCachingMiddleware`` passes ``cache_control`` through the
model settings and ``ChatBedrockConverse._apply_cache_points`` places, at request time, a cachePoint after the
tool definitions (not on Nova), after the system prompt, after the last message and (Claude) after the one
before it, at most 4 (langchain-aws ``chat_models/bedrock_converse.py``). That middleware decides only by the
model id's name ("anthropic" / "amazon.nova"), which is wrong for Claude 3 Haiku (no prompt caching there: a
cachePoint is Bedrock's 400) and knows no minimum. So ``AgentCaching`` subclasses it and decides with the
catalogue's facts (``chains.caching.facts``), per model and per call:

- a model without prompt caching, or ``cache: off``: nothing is placed;
- the first checkpoint langchain-aws places (after the tools; on Nova after the system prompt) closes the
  shortest prefix; when it reaches the model's minimum, every one does: ``cache_control`` goes to langchain-aws;
- otherwise, when tools + system prompt reach the minimum: one cachePoint after the system prompt only
  (passed through by langchain-aws as a content block), so no checkpoint sits below the minimum;
- otherwise none. Tool tokens are counted with the emulator's per-model overheads (``chains.caching.media``).
- TTL: the request's (``cache: 1h``) where the model offers it, else 5m (``CacheFacts.ttl_for``); all of a
  call's checkpoints share it, so a 1h one never follows a 5m one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from langchain_aws.middleware.prompt_caching import BedrockPromptCachingMiddleware

from chains.caching.facts import caching_facts
from chains.caching.marks import cache_point, is_cache_point
from chains.caching.media import tool_tokens
from chains.tokens.estimator import estimate_text

LANGCHAIN_AWS_MAX_POINTS = 4  # what ``_apply_cache_points`` may place (langchain-aws ``_MAX_CACHE_POINTS``)


@dataclass(frozen=True)
class AgentCachePlan:
    how: str  # "langchain-aws": cache_control to _apply_cache_points; "system": one cachePoint after the system
    ttl: str
    tool_tokens: int
    prefix_tokens: int  # the shortest prefix a checkpoint closes


def plan(model_id: str, tool_specs: Sequence[Dict[str, Any]], system_texts: Sequence[str], requested_ttl: str,
         tool_choice: str = "auto") -> Optional[AgentCachePlan]:
    """Where the agent's call to ``model_id`` gets cachePoints (None: nowhere). See the module docstring."""
    facts = caching_facts(model_id)
    if facts is None or facts.max_checkpoints <= 0:
        return None
    ttl = facts.ttl_for(requested_ttl)
    tools = tool_tokens(model_id, tool_specs, tool_choice)
    with_system = tools + sum(estimate_text(t) for t in system_texts)
    tools_point = bool(tool_specs) and "tools" in facts.fields
    first = tools if tools_point else with_system
    if facts.max_checkpoints >= LANGCHAIN_AWS_MAX_POINTS and first >= facts.min_tokens \
            and (tools_point or system_texts):
        return AgentCachePlan("langchain-aws", ttl, tools, first)
    if system_texts and "system" in facts.fields and with_system >= facts.min_tokens:
        return AgentCachePlan("system", ttl, tools, with_system)
    return None


def _tool_specs(tools: Sequence[Any]) -> List[Dict[str, Any]]:
    """Converse ``toolSpec`` objects of the agent's tools, converted as langchain-aws converts them."""
    from langchain_aws.chat_models.bedrock_converse import _format_tools

    return [t["toolSpec"] for t in _format_tools([t for t in tools if not is_cache_point(t)]) if "toolSpec" in t]


def _system_texts(request: Any) -> List[str]:
    systems = [request.system_message] if request.system_message is not None else []
    systems += [m for m in request.messages if getattr(m, "type", "") == "system"]
    texts: List[str] = []
    for m in systems:
        content = m.content
        if isinstance(content, str):
            texts.append(content)
        else:
            texts += [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
    return texts


class AgentCaching(BedrockPromptCachingMiddleware):
    """langchain-aws's prompt-caching middleware with the per-model decision of ``plan``.

    ``mode_of(runtime)`` gives the request's caching: False (off) or the TTL asked for ("5m" / "1h"); the graph
    (and this middleware) is shared by every request of a chain, the mode is per request.
    """

    def __init__(self, mode_of: Callable[[Any], Union[bool, str]]) -> None:
        super().__init__(unsupported_model_behavior="ignore")
        self.mode_of = mode_of
        self._specs: Dict[Tuple[str, ...], List[Dict[str, Any]]] = {}

    def plan_for(self, request: Any) -> Optional[AgentCachePlan]:
        mode = self.mode_of(request.runtime)
        model_id = getattr(request.model, "model_id", "") or ""
        if not mode or caching_facts(model_id) is None:  # cheap: no conversion for a model without caching
            return None
        names = tuple(getattr(t, "name", "") or repr(t) for t in request.tools)
        specs = self._specs.get(names)
        if specs is None:
            specs = self._specs[names] = _tool_specs(request.tools)
        choice = request.tool_choice if isinstance(request.tool_choice, str) and request.tool_choice in (
            "auto", "any") else ("tool" if request.tool_choice else "auto")
        return plan(model_id, specs, _system_texts(request), mode if isinstance(mode, str) else "5m", choice)

    def _apply(self, request: Any) -> Any:
        chosen = self.plan_for(request)
        if chosen is None:
            return request
        if chosen.how == "langchain-aws":
            # langchain-aws writes the TTL out only when it is not 5m, and never on Nova (as Bedrock wants).
            return request.override(model_settings={**request.model_settings,
                                                    "cache_control": {"type": "ephemeral", "ttl": chosen.ttl}})
        return _with_system_point(request, chosen.ttl)

    def wrap_model_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return handler(self._apply(request))

    async def awrap_model_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return await handler(self._apply(request))


def _with_system_point(request: Any, ttl: str) -> Any:
    """The request with a cachePoint closing its (last) system message: a copy, the agent state is untouched."""
    def marked(message: Any) -> Any:
        content = message.content
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if blocks and is_cache_point(blocks[-1]):
            return message
        return message.model_copy(update={"content": blocks + [cache_point(ttl)]})

    if request.system_message is not None and not any(getattr(m, "type", "") == "system" for m in request.messages):
        return request.override(system_message=marked(request.system_message))
    last = max(i for i, m in enumerate(request.messages) if getattr(m, "type", "") == "system")
    messages = list(request.messages)
    messages[last] = marked(messages[last])
    return request.override(messages=messages)
