"""The ``agent`` strategy: langchain's ``create_agent`` on a configured model, the other chains as its tools.

Each tool is ``get_chain(name).as_tool()``: the model reads the chain's answer text, the chain's full result
(model, usage, cost) is the ToolMessage artifact and becomes a ``steps`` entry. The config this strategy
receives carries the request's usage callback, and the agent passes it to every model call and tool run, so
``usage``/``cost_usd`` include the agent's own calls and every call made inside a tool.

A tool chain's input error (BadRequest, BudgetExceeded, InputTooLarge: the model wrote those arguments) is a
failed tool result the model can recover from; a model-call failure or the deadline fails the request.

Prompt caching: ``chains.caching.agent.AgentCaching`` places cachePoints after the tool definitions, the system
prompt and the history on the agent's own model calls, per model (none on a model without caching, none below its
minimum); ``options.cache`` / the chain's ``cache`` turn it off or ask the 1-hour TTL.

Limits: ``ToolCallLimitMiddleware`` blocks tool calls beyond ``max_tool_calls`` (the model is told so and
answers from what it has), ``ModelCallLimitMiddleware`` ends the run after ``max_model_calls``, and the
request deadline (``options.timeout_ms``) is checked before every model call and tool run.

Chain settings (``chains.<name>.settings`` in config.yaml):
    tools: [qa, summarize, compare]   # chains offered as tools (default: every chain that is not an agent)
    max_tool_calls: 3
    max_model_calls: 5                 # default: max_tool_calls + 2
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import chains.deadline as deadline
from chains.calls.bounded import CallAbandoned, run_bounded
from chains.calls.call import message_text
from chains.echo import clip
from chains.config import StrictModel
from chains.chain import ChainOutput, ChainRequest, StrategySpec
from chains.limits import call_max_tokens, requested_max_tokens
from chains.errors import (
    BadRequest,
    BudgetExceeded,
    ChainsError,
    ConfigError,
    DeadlineExceeded,
    InputTooLarge,
    to_model_error,
)

logger = logging.getLogger(__name__)

AGENT_STRATEGY = "agent"
# An inner chain's errors about its input (which the agent's model wrote) go back to the model as a failed
# tool result; model-call failures and the deadline end the request with their own status.
TOOL_INPUT_ERRORS = (BadRequest, BudgetExceeded, InputTooLarge)


class AgentSettings(StrictModel):
    tools: Optional[List[str]] = Field(default=None, description="Chains offered as tools.")
    max_tool_calls: int = Field(default=3, ge=1, le=20)
    max_model_calls: Optional[int] = Field(default=None, ge=1, le=40)

    @model_validator(mode="after")
    def _model_calls_cover_tool_calls(self) -> "AgentSettings":
        if self.max_model_calls is None:
            self.max_model_calls = self.max_tool_calls + 2
        return self


class Step(BaseModel):
    tool: str
    args: Dict[str, Any]
    ok: bool
    output: str = Field(description="What the agent's model read (the tool result text).")
    model: Optional[str] = None
    cost_usd: Optional[float] = None
    usage: Optional[Dict[str, int]] = None
    latency_ms: Optional[float] = None


class Output(ChainOutput):
    steps: List[Step] = Field(description="Each tool call the agent made, with the inner chain's model and cost.")
    stop_reason: str = Field(description="end_turn, tool_call_limit or model_call_limit.")


@dataclass
class _RunContext:
    """Per-request values the shared (cached) agent graph reads through LangGraph's runtime context."""

    request: ChainRequest


def settings_for(chain: Any) -> AgentSettings:
    try:
        settings = AgentSettings.model_validate(chain.cfg.settings or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"chains.{chain.name}.settings: {problems}") from None
    configured = chain.settings.chains
    if settings.tools is None:
        settings.tools = [n for n, c in configured.items() if c.strategy != AGENT_STRATEGY]
    for name in settings.tools:
        if name not in configured:
            raise ConfigError(
                f"chains.{chain.name}.settings.tools names chain '{name}', which is not configured "
                f"(configured: {', '.join(sorted(configured))})"
            )
        if configured[name].strategy == AGENT_STRATEGY:
            raise ConfigError(f"chains.{chain.name}.settings.tools: '{name}' is an agent; agents cannot be tools")
    if not settings.tools:
        raise ConfigError(f"chains.{chain.name}: an agent needs at least one other chain as a tool")
    return settings


def _pick_model(chain: Any, request: ChainRequest) -> tuple[str, str]:
    if request.options.model:
        return request.options.model, "pinned by options.model"
    if chain.cfg.model:
        return chain.cfg.model, f"the model configured for chain '{chain.name}'"
    for alias, cfg in chain.settings.models.items():
        if cfg.capabilities.tools:
            return alias, "the first configured model that can call tools"
    raise ConfigError(f"chain '{chain.name}': no configured model can call tools")


def _middleware(settings: AgentSettings) -> List[Any]:
    from langchain.agents.middleware import AgentMiddleware, ModelCallLimitMiddleware, ToolCallLimitMiddleware

    class RequestGuard(AgentMiddleware):
        """The request's deadline before every model call and tool run; tool input errors back to the model."""

        def _time_left(self, runtime: Any, what: str) -> Optional[float]:
            """Seconds the next model call or tool run may take (None: no deadline); none left: 504."""
            context = getattr(runtime, "context", None)
            at = context.request.deadline if isinstance(context, _RunContext) else None
            left = deadline.remaining_s(at) if at is not None else None
            if left is not None and left <= 0:
                raise DeadlineExceeded(f"no time left for the agent's next {what}", remaining_ms=0.0)
            return left

        def _bounded(self, runtime: Any, what: str, call: Callable[[], Any]) -> Any:
            """``call()`` waited for at most the time left: a model call in flight (or a hung one) is abandoned
            at the deadline, as every other chain's calls are (``chains.calls.bounded``)."""
            left = self._time_left(runtime, what)
            try:
                return run_bounded(call, left, name="agent-call")
            except CallAbandoned:
                raise DeadlineExceeded(f"the agent's {what} did not finish before the deadline",
                                       remaining_ms=0.0) from None

        def wrap_model_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            return self._bounded(request.runtime, "model call", lambda: handler(request))

        def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            what = f"tool call ({clip(request.tool_call.get('name'), 60)})"
            # The tool's chain runs under this request's deadline too (chains.deadline, copied into the
            # worker thread), so its own model calls get only what is left.
            return self._bounded(request.runtime, what, lambda: self._tool(request, handler))

        def _tool(self, request: Any, handler: Callable[[Any], Any]) -> Any:
            try:
                return handler(request)
            except TOOL_INPUT_ERRORS as exc:
                # The agent's model chose these arguments, not the caller: tell the model, let it recover.
                from langchain_core.messages import ToolMessage

                return ToolMessage(
                    content=f"error: {exc.type}: {exc.message}", tool_call_id=request.tool_call.get("id", ""),
                    name=request.tool_call.get("name"), status="error",
                )

    from chains.caching.agent import AgentCaching

    def cache_mode(runtime: Any) -> Any:  # the request's options.cache / the chain's cache: False or the TTL
        context = getattr(runtime, "context", None)
        return context.request.cache if isinstance(context, _RunContext) else False

    return [
        RequestGuard(),
        # Prompt caching on the agent's own model calls (tools + system prompt), decided per model.
        AgentCaching(cache_mode),
        # "continue": a blocked call gets a ToolMessage saying so, and the model answers from what it has.
        ToolCallLimitMiddleware(run_limit=settings.max_tool_calls, exit_behavior="continue"),
        ModelCallLimitMiddleware(run_limit=settings.max_model_calls, exit_behavior="end"),
    ]


def _graph(chain: Any, alias: str, settings: AgentSettings, max_tokens: Optional[int], temperature: Optional[float]):
    """The compiled agent for this chain and model, built once (tools and middleware are request-independent)."""
    from langchain.agents import create_agent

    key = ("agent_graph", alias, max_tokens, temperature, tuple(settings.tools or ()), settings.max_tool_calls,
           settings.max_model_calls)
    cache: Dict[Any, Any] = chain.memo
    graph = cache.get(key)
    if graph is None:
        model = chain.runtime.factory.chat_model(alias, max_tokens=max_tokens, temperature=temperature)
        tools = [chain.runtime.chain(name).as_tool() for name in settings.tools or ()]
        graph = cache[key] = create_agent(
            model, tools, middleware=_middleware(settings), context_schema=_RunContext, name=chain.name
        )
    return graph


def run(chain: Any, request: ChainRequest, config: RunnableConfig) -> Dict[str, Any]:
    settings = chain.strategy_settings()
    alias, reason = _pick_model(chain, request)
    model_cfg = chain.settings.model(alias)
    if not model_cfg.capabilities.tools:
        raise ConfigError(f"model '{alias}' cannot call tools (capabilities.tools is false)")
    graph = _graph(
        chain, alias, settings, call_max_tokens(chain.settings, alias, requested_max_tokens(request)),
        request.options.temperature,
    )
    messages = request.prompt.format_messages(request.inputs)
    # A configurable model pin is this chain's (like options.model): the tools keep their own models.
    # Overwrite it rather than drop it: LangGraph merges the caller's configurable into the graph's.
    configurable = {**(config.get("configurable") or {}), "model": None}
    graph_config: Dict[str, Any] = {
        **config, "configurable": configurable, "recursion_limit": 2 * (settings.max_model_calls or 1) + 5,
    }
    try:
        state = graph.invoke({"messages": messages}, config=graph_config, context=_RunContext(request))
    except ChainsError:
        raise  # an inner chain's typed error (its usage is in the request totals) or the deadline
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError
        from langchain_core.exceptions import ContextOverflowError

        if isinstance(exc, (ClientError, BotoCoreError, ContextOverflowError, ConnectionError, TimeoutError)):
            raise to_model_error(exc, model_cfg.model_id) from exc
        raise
    steps, stop_reason = _steps(state["messages"], settings)
    final = state["messages"][-1]
    logger.info(
        "agent finished",
        extra={"chain": chain.name, "model": alias, "tool_calls": len(steps), "stop_reason": stop_reason},
    )
    return {
        "output": message_text(final),
        "model": model_cfg.model_id,
        "route": {"model": alias, "reason": reason, "candidates": [alias], "tools": list(settings.tools or ())},
        "steps": steps,
        "stop_reason": stop_reason,
    }


def _steps(messages: List[Any], settings: AgentSettings) -> tuple[List[Dict[str, Any]], str]:
    from langchain_core.messages import AIMessage, ToolMessage

    calls: Dict[str, Dict[str, Any]] = {}
    for m in messages:
        if isinstance(m, AIMessage):
            for call in m.tool_calls:
                calls[call["id"]] = call
    steps: List[Dict[str, Any]] = []
    blocked = False
    for m in messages:
        if not isinstance(m, ToolMessage):
            continue
        call = calls.get(m.tool_call_id, {})
        artifact = m.artifact if isinstance(m.artifact, dict) else {}
        ok = m.status != "error" and bool(artifact)
        # ToolCallLimitMiddleware's refusal ("Tool call limit exceeded. Do not ...").
        blocked = blocked or (m.status == "error" and message_text(m).startswith("Tool call limit exceeded"))
        step = Step(
            tool=m.name or call.get("name", "?"),
            args=call.get("args", {}),
            ok=ok,
            output=message_text(m),
            model=artifact.get("model"),
            cost_usd=artifact.get("cost_usd"),
            usage=artifact.get("usage"),
            latency_ms=artifact.get("latency_ms"),
        )
        steps.append(step.model_dump(exclude_none=True))
    last = messages[-1] if messages else None
    model_calls = sum(1 for m in messages if isinstance(m, AIMessage))
    if isinstance(last, AIMessage) and not last.tool_calls and model_calls > settings.max_model_calls:
        stop = "model_call_limit"
    elif blocked:
        stop = "tool_call_limit"
    else:
        stop = (getattr(last, "response_metadata", None) or {}).get("stopReason") or "end_turn"
    return steps, stop


AGENT = StrategySpec("agent", run, None, Output, settings=settings_for)
