"""The Runnable every chain is: input checking, options, usage and cost accounting, the result shape.

A strategy (single, routed, compare, ...) is a ``Strategy``: its ``run(chain, request, config) -> dict``
returns at least ``output``, ``model`` and ``route``, and it declares what it needs (extra inputs, the
configured order, ``options.prompt``, its own settings) instead of generic code testing it by name. This class
adds ``attempts``, ``usage``, ``usage_by_model``,
``cost_usd`` and ``latency_ms``. Because it is a ``Runnable``, ``batch``, ``ainvoke`` and the rest work and
callbacks, tags and metadata in the config reach every model call.

Streaming: a strategy may also have ``stream(chain, request, config)`` yielding ``{"output": delta}``
chunks and then one dict with its other keys; ``BedrockChain.stream`` adds a last chunk with usage, cost and
latency, so the sum of the chunks equals what ``invoke`` returns. A strategy without ``stream`` yields its
``invoke`` result as one chunk. ``ainvoke``/``astream`` run the blocking boto3 calls in the executor:
langchain-aws has no native async (``ChatBedrockConverse.ainvoke`` is ``run_in_executor`` too).
"""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
import json
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Mapping, Optional, Protocol, Tuple, Type, Union

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import (
    ensure_config,
    get_callback_manager_for_config,
    patch_config,
    run_in_executor,
    set_config_context,
)
from langchain_core.runnables.utils import AddableDict, ConfigurableFieldSpec
from pydantic import BaseModel, ConfigDict, Field, create_model

import chains.deadline as deadline
from chains.config import ChainConfig, Settings
from chains.echo import clip, clip_list
from chains.errors import BadRequest, ChainsError
from chains.options import Options, parse_options
from chains.reasoning import require_capable
from chains.prompts import LoadedPrompt
from chains.runtime import Runtime
from chains.tokens.optimize import optimize_request
from chains.tokens.report import token_report
from chains.usage import new_collector, summarise, with_handler

RESERVED_INPUT = "options"


@dataclass
class ChainRequest:
    chain: str
    inputs: Dict[str, Any]
    options: Options
    prompt: LoadedPrompt
    started: float = field(default_factory=time.perf_counter)
    # tokens before/after input optimisation (chains/optimize.py), None when nothing was optimised
    optimization: Optional[Dict[str, Any]] = None
    # The absolute deadline (chains.deadline): the one in force when the request was parsed (the service's,
    # or an outer chain's for the agent's tools), narrowed by this request's own options.timeout_ms.
    deadline_at: Optional[float] = None
    # prompt caching (options.cache, else the chain's ``cache``): False (off), or the TTL asked for ("5m" for
    # auto, "1h"): prompts are formatted with candidate cache checkpoints, kept per model by
    # chains.caching.placement
    cache: Union[bool, str] = False

    def __post_init__(self) -> None:
        if self.deadline_at is None:
            self.deadline_at = deadline.earliest(deadline.after_ms(self.options.timeout_ms, self.started),
                                                 deadline.current())

    @property
    def deadline(self) -> Optional[float]:
        """Absolute ``time.perf_counter()`` by which the request must be answered, if any."""
        return self.deadline_at

    def remaining_ms(self) -> Optional[float]:
        d = self.deadline
        return None if d is None else (d - time.perf_counter()) * 1000.0




class ChainOutput(BaseModel):
    """What every chain returns (strategies add their own keys, e.g. compare's ``results``)."""

    model_config = ConfigDict(extra="allow")
    output: Any = Field(description="The answer.")
    model: Optional[str] = Field(description="Bedrock model id that produced the output.")
    route: Dict[str, Any] = Field(description="Which model was chosen and why.")
    attempts: List[Dict[str, Any]] = Field(description="Tries that failed or were skipped on the way.")
    usage: Dict[str, int] = Field(description="input_tokens, output_tokens, total_tokens over all calls.")
    usage_by_model: Dict[str, Dict[str, Any]] = Field(description="The same, per Bedrock model id.")
    cost_usd: float = Field(description="usage x configured prices, all calls.")
    latency_ms: float = Field(description="Wall time of the whole chain.")


RunFn = Callable[["BedrockChain", ChainRequest, RunnableConfig], Dict[str, Any]]
StreamFn = Callable[["BedrockChain", ChainRequest, RunnableConfig], Iterator[Dict[str, Any]]]


@dataclass(frozen=True)
class StrategySpec:
    """A strategy: how a chain runs, and what it declares to the generic code (chain, router, --check).

    Each strategy module defines one (``chains.registry.STRATEGIES`` names them) instead of generic code
    testing a strategy by its name.
    """

    name: str
    run: RunFn
    stream: Optional[StreamFn] = None  # None: the invoke result is the one chunk
    output: Type[ChainOutput] = ChainOutput  # the response schema (a subclass naming the keys it adds)
    extra_inputs: Tuple[str, ...] = ()  # inputs that are not prompt variables (routed: images, documents)
    ordered: bool = False  # the router keeps the configured order (no content routing): ``fallback``
    takes_prompt_option: bool = False  # ``options.prompt`` names another prompt file: ``compare``
    # How a bulk run (chains.bulk) plans its records: "pinned" (one configured model per record), "routed" (the
    # router decides per record), "compare" (every record on every compared model, then the judge); None: the
    # strategy needs several dependent calls per request and cannot run as batch jobs.
    bulk: Optional[str] = None
    # Validates the chain's own settings (``chains.<name>.settings`` with its config section) and returns
    # them; cached on the chain, run by ``--check`` for every chain.
    settings: Optional[Callable[["BedrockChain"], Any]] = None


class Strategy(Protocol):
    """What ``BedrockChain``, the router and ``--check`` need from a strategy (``StrategySpec`` is one)."""

    name: str
    run: RunFn
    stream: Optional[StreamFn]
    output: Type[ChainOutput]
    extra_inputs: Tuple[str, ...]
    ordered: bool
    takes_prompt_option: bool
    bulk: Optional[str]
    settings: Optional[Callable[["BedrockChain"], Any]]


class BedrockChain(Runnable[Dict[str, Any], Dict[str, Any]]):
    def __init__(self, name: str, cfg: ChainConfig, runtime: Runtime, strategy: Strategy) -> None:
        self.name = name
        self.cfg = cfg
        self.runtime = runtime
        self.strategy = strategy
        self._input_schema: Optional[Type[BaseModel]] = None
        self._strategy_settings: Any = None
        # Per-chain objects a strategy builds once and reuses (the agent's compiled graphs).
        self.memo: Dict[Any, Any] = {}

    def strategy_settings(self) -> Any:
        """The strategy's validated settings for this chain (``StrategySpec.settings``), built once."""
        if self._strategy_settings is None and self.strategy.settings is not None:
            self._strategy_settings = self.strategy.settings(self)
        return self._strategy_settings

    # --- schemas ---------------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def prompt(self, name: Optional[str] = None) -> LoadedPrompt:
        return self.runtime.prompts.load(name or self.cfg.prompt)

    @property
    def description(self) -> str:
        return self.cfg.description or self.prompt().spec.description or f"The '{self.name}' chain."

    def _prompt_fields(self) -> Dict[str, Any]:
        """The prompt's variables as pydantic fields (what a caller, or a model calling a tool, must send)."""
        prompt = self.prompt()
        fields: Dict[str, Any] = {}
        for var in prompt.spec.input_variables:
            if var in prompt.placeholders:  # chat history: a list of {role, content}
                fields[var] = (List[Dict[str, str]], Field(..., description=f"Messages for '{var}'."))
            elif var in prompt.spec.optional_variables:
                default = prompt.spec.optional_variables[var] or None
                fields[var] = (Optional[str], Field(default=default, description=f"Optional input '{var}'."))
            else:
                fields[var] = (str, Field(..., description=f"Required input '{var}'."))
        return fields

    def get_input_schema(self, config: Optional[RunnableConfig] = None) -> Type[BaseModel]:
        if self._input_schema is None:
            fields = self._prompt_fields()
            fields[RESERVED_INPUT] = (Optional[Options], Field(default=None, description="Per-request options."))
            for extra in self.strategy.extra_inputs:  # routed: images, documents
                fields.setdefault(extra, (Optional[List[Dict[str, Any]]], Field(default=None, description=f"Attached {extra}.")))
            self._input_schema = create_model(  # type: ignore[call-overload]
                f"{_camel(self.name)}Input", __config__=ConfigDict(extra="forbid"), __doc__=self.description,
                **fields,
            )
        return self._input_schema

    def tool_args_schema(self) -> Type[BaseModel]:
        """The input schema without ``options``: per-request options are the caller's, not a model's, to set."""
        return create_model(  # type: ignore[call-overload]
            f"{_camel(self.name)}Args", __config__=ConfigDict(extra="forbid"), __doc__=self.description,
            **self._prompt_fields(),
        )

    @property
    def InputType(self) -> Any:  # noqa: N802 - Runnable API
        return Dict[str, Any]

    @property
    def OutputType(self) -> Any:  # noqa: N802 - Runnable API
        return Dict[str, Any]

    def get_output_schema(self, config: Optional[RunnableConfig] = None) -> Type[BaseModel]:
        """``ChainOutput``, or the strategy's ``output`` (a subclass naming the keys it adds)."""
        return create_model(f"{_camel(self.name)}Output", __base__=self.strategy.output)  # type: ignore[call-overload]

    @property
    def config_specs(self) -> List[ConfigurableFieldSpec]:
        return [
            ConfigurableFieldSpec(
                id="model",
                annotation=Optional[str],
                name="Model",
                description=f"Pin a model alias ({', '.join(self.settings.models)}).",
                default=None,
            )
        ]

    # --- running ---------------------------------------------------------------------------------------------
    def parse(self, input: Any, config: Optional[Mapping[str, Any]] = None) -> ChainRequest:
        if not isinstance(input, abc.Mapping):
            raise BadRequest(f"chain input must be an object, got {type(input).__name__}", field="input")
        inputs = {k: v for k, v in input.items() if k != RESERVED_INPUT}
        options = parse_options(input.get(RESERVED_INPUT))
        configured_model = ((config or {}).get("configurable") or {}).get("model")
        if configured_model and not options.model:
            options = options.model_copy(update={"model": configured_model})
        if options.guardrail is None and self.cfg.guardrail is not None:  # the chain's, unless the request names one
            options = options.model_copy(update={"guardrail": self.cfg.guardrail})
        if options.model is not None:
            self.settings.model(options.model)  # UnknownModel (400) lists the configured ones
        pinned = options.model or (self.cfg.model if self.cfg.strategy == "single" else None)
        if options.reasoning != "off" and pinned is not None:
            require_capable(self.settings, pinned)  # 400 naming the models that reason
        if options.service_tier not in (None, "default") and pinned is not None:
            offering = [a for a, m in self.settings.models.items()
                        if options.service_tier in m.capabilities.service_tiers]
            if options.service_tier not in self.settings.model(pinned).capabilities.service_tiers:
                raise BadRequest(f"model '{pinned}' does not offer service tier '{options.service_tier}'; models "
                                 f"that do: {', '.join(offering) or 'none configured'}",
                                 field="options.service_tier", available=offering)
        takes_prompt = self.strategy.takes_prompt_option
        if options.prompt is not None and not takes_prompt:
            # Silently answering with the chain's own prompt would mislead the caller.
            raise BadRequest(f"options.prompt applies to the compare chain only; '{self.name}' always uses "
                             f"prompts/{self.cfg.prompt}.yaml", field="options.prompt")
        if takes_prompt and options.prompt is not None:
            # A prompt named by the request is the caller's mistake when unknown (400), not a config error.
            available = self.runtime.prompts.names()
            if options.prompt not in available:
                raise BadRequest(f"unknown prompt {clip(options.prompt)!r} in options.prompt; available prompts: "
                                 f"{', '.join(available)}", field="options.prompt", available=available)
        prompt = self.prompt(options.prompt if takes_prompt else None)
        # A strategy may take inputs that are not prompt variables (routed: images, documents).
        extra_inputs = self.strategy.extra_inputs
        unknown = sorted(set(inputs) - set(prompt.spec.input_variables) - set(extra_inputs))
        if unknown:
            raise BadRequest(
                f"unknown input field(s) {clip_list(unknown)} for chain '{self.name}' "
                f"(it takes: {', '.join([*prompt.spec.input_variables, *extra_inputs])}, options)",
                field="input",
            )
        prompt.variables(inputs)  # MissingVariables / type errors before any model is called
        request = ChainRequest(chain=self.name, inputs=inputs, options=options, prompt=prompt,
                               cache=_cache_mode(options.cache or self.cfg.cache))
        return optimize_request(self.settings, request)  # whitespace and duplicate lines in long inputs

    def invoke(self, input: Dict[str, Any], config: Optional[RunnableConfig] = None, **kwargs: Any) -> Dict[str, Any]:
        # What Runnable._call_with_config does (one chain run, its callbacks, the child config in the context),
        # without inspecting ``_run``'s signature on every call (~60 us of the per-call budget).
        config = ensure_config(config)
        config.setdefault("run_name", self.name)
        manager = get_callback_manager_for_config(config)
        if config.get("run_id") is None and all(getattr(h, "direct_feed", False) for h in manager.handlers):
            # Nobody listens to chain runs (no callbacks, no tracer; or only our usage collector and call observer,
            # which take model events only): a chain run would be ~0.05 ms of bookkeeping that no one sees, so
            # the strategy runs under the caller's config as it is (its model runs have no parent run).
            with set_config_context(config) as context:
                return context.run(self._run, input, None, config)
        run_manager = manager.on_chain_start(
            None, input, run_type="chain", name=config["run_name"], run_id=config.pop("run_id", None)
        )
        try:
            child_config = patch_config(config, callbacks=run_manager.get_child())
            with set_config_context(child_config) as context:
                output = context.run(self._run, input, run_manager, child_config)
        except BaseException as exc:
            run_manager.on_chain_error(exc)
            raise
        run_manager.on_chain_end(output)
        return output

    def _run(self, input: Dict[str, Any], run_manager: Any, config: RunnableConfig) -> Dict[str, Any]:
        request = self.parse(input, config)
        collector = new_collector()
        run_config = with_handler(config, collector)
        with deadline.scope(request.deadline):  # every call inside (tool chains too) gets what is left
            return self._finish(request, collector, lambda: self.strategy.run(self, request, run_config))

    # --- streaming -------------------------------------------------------------------------------------------
    def stream(
        self, input: Dict[str, Any], config: Optional[RunnableConfig] = None, **kwargs: Any
    ) -> Iterator[Dict[str, Any]]:
        """Text deltas as Bedrock sends them (``{"output": "..."}``), then the metadata; chunks add up to invoke's dict."""
        config = ensure_config(config)
        config.setdefault("run_name", self.name)
        yield from self._transform_stream_with_config(iter([input]), self._stream_inputs, config, run_type="chain")

    async def astream(
        self, input: Dict[str, Any], config: Optional[RunnableConfig] = None, **kwargs: Any
    ) -> AsyncIterator[Dict[str, Any]]:
        config = ensure_config(config)
        config.setdefault("run_name", self.name)
        async for chunk in self._atransform_stream_with_config(
            _one(input), self._astream_inputs, config, run_type="chain"
        ):
            yield chunk

    def _stream_inputs(self, inputs: Iterator[Any], run_manager: Any, config: RunnableConfig) -> Iterator[AddableDict]:
        yield from self._chunks(_last(inputs), config)

    async def _astream_inputs(
        self, inputs: AsyncIterator[Any], run_manager: Any, config: RunnableConfig
    ) -> AsyncIterator[AddableDict]:
        value = None
        async for value in inputs:
            pass
        # The strategies (and boto3 underneath) are blocking: the sync generator, stepped in the executor.
        async for chunk in step_in_executor(config, self._chunks(value, config)):
            yield chunk

    def _chunks(self, input: Any, config: RunnableConfig) -> Iterator[AddableDict]:
        request = self.parse(input, config)
        collector = new_collector()
        run_config = with_handler(config, collector)
        stream_fn = self.strategy.stream
        if stream_fn is None:
            # No streaming in this strategy: its invoke result is the one chunk.
            yield AddableDict(self._finish(request, collector, lambda: self.strategy.run(self, request, run_config)))
            return
        seen: set = set()
        parts = stream_fn(self, request, run_config)
        try:
            for part in parts:
                repeated = (set(part) - {"output"}) & seen
                if repeated:  # AddableDict would add or refuse them: a strategy bug, say which keys
                    raise TypeError(f"strategy stream for '{self.name}' repeated key(s) {sorted(repeated)}")
                seen.update(part)
                yield AddableDict(part)
        except ChainsError as exc:
            exc.details.update(summarise(self.settings, collector.usage_metadata, getattr(collector, "tier_usage", None)))
            exc.details.setdefault("latency_ms", _ms_since(request.started))
            raise
        finally:
            parts.close()
        final: Dict[str, Any] = {} if "output" in seen else {"output": ""}
        if "attempts" not in seen:
            final["attempts"] = []
        final.update(summarise(self.settings, collector.usage_metadata, getattr(collector, "tier_usage", None)))
        final["latency_ms"] = _ms_since(request.started)
        final.update({k: v for k, v in token_report(request, final).items() if k not in seen})
        yield AddableDict(final)

    def _finish(self, request: ChainRequest, collector: Any, call: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
        try:
            result = call()
        except ChainsError as exc:
            # Never lose what was already spent: the error carries the usage of the calls that were made.
            exc.details.update(summarise(self.settings, collector.usage_metadata, getattr(collector, "tier_usage", None)))
            exc.details.setdefault("latency_ms", _ms_since(request.started))
            raise
        result.setdefault("attempts", [])
        result.update(summarise(self.settings, collector.usage_metadata, getattr(collector, "tier_usage", None)))
        result["latency_ms"] = _ms_since(request.started)
        result.update(token_report(request, result))  # optimisation saving; budget: estimate vs actual
        return result

    # --- as a tool -------------------------------------------------------------------------------------------
    def as_tool(
        self,
        args_schema: Optional[Type[BaseModel]] = None,
        *,
        name: Optional[str] = None,
        description: Optional[str] = None,
        arg_types: Optional[Dict[str, type]] = None,
    ) -> Any:
        """This chain as a LangChain tool (``StructuredTool``) for agents and tool-calling models.

        Defaults: the chain's name, its description, and its prompt variables as arguments (``options`` left
        out). The model sees the answer text; the full result (model, usage, cost ...) is the ToolMessage's
        ``artifact``. The config of the tool call (callbacks, tags, metadata) reaches the chain's model calls,
        so a caller's usage callback counts them.
        """
        from langchain_core.tools import StructuredTool

        if args_schema is None and arg_types:
            args_schema = create_model(  # type: ignore[call-overload]
                f"{_camel(name or self.name)}Args", **{k: (t, ...) for k, t in arg_types.items()}
            )
        chain = self

        def run_chain(config: RunnableConfig, callbacks: Any = None, **kwargs: Any) -> Any:
            result = chain.invoke(kwargs, config=patch_config(config, callbacks=callbacks))
            return tool_text(result.get("output")), result

        async def arun_chain(config: RunnableConfig, callbacks: Any = None, **kwargs: Any) -> Any:
            result = await chain.ainvoke(kwargs, config=patch_config(config, callbacks=callbacks))
            return tool_text(result.get("output")), result

        return StructuredTool.from_function(
            func=run_chain,
            coroutine=arun_chain,
            name=name or self.name,
            description=description or self.description,
            args_schema=args_schema or self.tool_args_schema(),
            response_format="content_and_artifact",
        )


def tool_text(output: Any) -> str:
    """A chain's ``output`` as the text a model reads in a tool result."""
    return output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)


_DONE = object()


async def step_in_executor(config: Optional[RunnableConfig], items: Iterator[Any]) -> AsyncIterator[Any]:
    """A blocking iterator as an async one: each ``next`` runs in LangChain's executor (as langchain-core does
    for chat models without a native ``_astream``); closed at the end, or when the consumer stops."""
    try:
        while True:
            item = await run_in_executor(config, next, items, _DONE)
            if item is _DONE:
                return
            yield item
    finally:
        try:
            items.close()  # type: ignore[attr-defined]
        except ValueError:  # still running in the executor (the consumer was cancelled): it ends by itself
            pass


def _last(values: Iterator[Any]) -> Any:
    value = None
    for value in values:
        pass
    return value


async def _one(value: Any) -> AsyncIterator[Any]:
    yield value


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("-", "_").split("_"))


def _cache_mode(mode: str) -> Union[bool, str]:
    """options.cache / a chain's ``cache`` -> ChainRequest.cache: False (off) or the TTL asked for."""
    return False if mode == "off" else ("1h" if mode == "1h" else "5m")
