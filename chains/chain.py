"""The Runnable every chain is: input checking, options, usage and cost accounting, the result shape.

A strategy (single, routed, compare, ...) is a function ``(chain, request, config) -> dict`` that returns
at least ``output``, ``model`` and ``route``; this class adds ``attempts``, ``usage``, ``usage_by_model``,
``cost_usd`` and ``latency_ms``. Because it is a ``Runnable``, ``batch``, ``ainvoke`` and the rest work and
callbacks, tags and metadata in the config reach every model call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Type

from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config
from langchain_core.runnables.utils import ConfigurableFieldSpec
from pydantic import BaseModel, ConfigDict, Field, create_model

from chains.config import ChainConfig, Settings
from chains.errors import BadRequest, ChainsError
from chains.options import Options, parse_options
from chains.prompts import LoadedPrompt, PromptLibrary
from chains.usage import new_collector, summarise, with_handler

RESERVED_INPUT = "options"


@dataclass
class Runtime:
    """What all chains of one configuration share: settings, model factory, prompt library."""

    settings: Settings
    factory: Any  # chains.models.ModelFactory
    prompts: PromptLibrary


@dataclass
class ChainRequest:
    chain: str
    inputs: Dict[str, Any]
    options: Options
    prompt: LoadedPrompt
    started: float = field(default_factory=time.perf_counter)

    @property
    def deadline(self) -> Optional[float]:
        """Absolute ``time.perf_counter()`` by which the request must be answered, if any."""
        if self.options.timeout_ms is None:
            return None
        return self.started + self.options.timeout_ms / 1000.0

    def remaining_ms(self) -> Optional[float]:
        d = self.deadline
        return None if d is None else (d - time.perf_counter()) * 1000.0


Strategy = Callable[["BedrockChain", ChainRequest, RunnableConfig], Dict[str, Any]]


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


class BedrockChain(Runnable[Dict[str, Any], Dict[str, Any]]):
    def __init__(self, name: str, cfg: ChainConfig, runtime: Runtime, strategy: Strategy) -> None:
        self.name = name
        self.cfg = cfg
        self.runtime = runtime
        self.strategy = strategy
        self._input_schema: Optional[Type[BaseModel]] = None

    # --- schemas ---------------------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def prompt(self, name: Optional[str] = None) -> LoadedPrompt:
        return self.runtime.prompts.load(name or self.cfg.prompt)

    def get_input_schema(self, config: Optional[RunnableConfig] = None) -> Type[BaseModel]:
        if self._input_schema is None:
            spec = self.prompt().spec
            fields: Dict[str, Any] = {}
            for var in spec.input_variables:
                if var in spec.optional_variables:
                    fields[var] = (Optional[str], Field(default=spec.optional_variables[var] or None))
                else:
                    fields[var] = (str, Field(...))
            fields[RESERVED_INPUT] = (Optional[Options], Field(default=None, description="Per-request options."))
            self._input_schema = create_model(  # type: ignore[call-overload]
                f"{_camel(self.name)}Input", __config__=ConfigDict(extra="forbid"), **fields
            )
        return self._input_schema

    @property
    def InputType(self) -> Any:  # noqa: N802 - Runnable API
        return Dict[str, Any]

    @property
    def OutputType(self) -> Any:  # noqa: N802 - Runnable API
        return Dict[str, Any]

    def get_output_schema(self, config: Optional[RunnableConfig] = None) -> Type[BaseModel]:
        return ChainOutput

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
        if not isinstance(input, Mapping):
            raise BadRequest(f"chain input must be an object, got {type(input).__name__}", field="input")
        inputs = {k: v for k, v in input.items() if k != RESERVED_INPUT}
        options = parse_options(input.get(RESERVED_INPUT))
        configured_model = ((config or {}).get("configurable") or {}).get("model")
        if configured_model and not options.model:
            options = options.model_copy(update={"model": configured_model})
        if options.model is not None:
            self.settings.model(options.model)  # UnknownModel (400) lists the configured ones
        prompt = self.prompt(options.prompt if self.cfg.strategy == "compare" else None)
        unknown = sorted(set(inputs) - set(prompt.spec.input_variables))
        if unknown:
            raise BadRequest(
                f"unknown input field(s) {', '.join(unknown)} for chain '{self.name}' "
                f"(it takes: {', '.join(prompt.spec.input_variables)}, options)",
                field="input",
            )
        prompt.variables(inputs)  # MissingVariables / type errors before any model is called
        return ChainRequest(chain=self.name, inputs=inputs, options=options, prompt=prompt)

    def invoke(self, input: Dict[str, Any], config: Optional[RunnableConfig] = None, **kwargs: Any) -> Dict[str, Any]:
        config = ensure_config(config)
        config.setdefault("run_name", self.name)
        return self._call_with_config(self._run, input, config, run_type="chain")

    def _run(self, input: Dict[str, Any], run_manager: Any, config: RunnableConfig) -> Dict[str, Any]:
        request = self.parse(input, config)
        collector = new_collector()
        run_config = with_handler(config, collector)
        try:
            result = self.strategy(self, request, run_config)
        except ChainsError as exc:
            # Never lose what was already spent: the error carries the usage of the calls that were made.
            exc.details.update(summarise(self.settings, collector.usage_metadata))
            exc.details.setdefault("latency_ms", _ms_since(request.started))
            raise
        result.setdefault("attempts", [])
        result.update(summarise(self.settings, collector.usage_metadata))
        result["latency_ms"] = _ms_since(request.started)
        return result


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.replace("-", "_").split("_"))
