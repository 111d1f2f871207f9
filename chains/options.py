"""Per-request options (``event["options"]`` or ``input["options"]``), validated strictly.

An unknown option is a 400 that lists the valid ones, so a typo never silently changes nothing.
"""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
from typing import Any, List, Literal, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from chains.echo import clip
from chains.errors import BadRequest
from chains.guardrails import Guardrail

Preference = Literal["cost", "quality", "latency", "balanced"]


class Options(BaseModel):
    # Frozen: a request's options are read, never changed (``model_copy(update=...)`` makes a new one), so the
    # options of a request that sends none can be one shared instance.
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Routing and fallbacks
    model: Optional[str] = Field(default=None, description="Pin a model alias; tried first.")
    fallbacks: bool = Field(default=True, description="Let other eligible models take over on failure.")
    prefer: Optional[Preference] = Field(default=None, description="Routing preference.")
    max_cost_usd: Optional[float] = Field(default=None, gt=0, description="Estimated cost ceiling.")
    # A JSON integer of milliseconds, strictly: 1000.0, "1000", true, NaN, Infinity, 0 and -1 are all 400s
    # (never silently replaced by Lambda's remaining time, which only caps a valid value).
    timeout_ms: Optional[StrictInt] = Field(default=None, gt=0, description="Deadline for the whole request.")
    # Generation
    max_tokens: Optional[int] = Field(default=None, ge=1, description="Cap on output tokens per call.")
    temperature: Optional[float] = Field(default=None, ge=0, le=1)
    # Compare
    models: Optional[List[str]] = Field(default=None, description="Models to compare (default: all).")
    judge: bool = Field(default=True, description="Score compared answers with the judge model.")
    prompt: Optional[str] = Field(default=None, description="Prompt file to compare with (default: qa).")
    seed: Optional[int] = Field(default=None, description="Seed for the judge's shuffle.")
    # Tokens
    exact_count: bool = Field(default=False, description="Use Bedrock CountTokens where supported.")
    optimize: Optional[bool] = Field(default=None, description="Whitespace and duplicate-line optimisation.")
    # Prompt caching (chains.caching)
    cache: Optional[Literal["auto", "off", "1h"]] = Field(
        default=None, description="Prompt caching: auto places cache checkpoints (5-minute TTL) where a model "
                                  "takes them; 1h the same with the 1-hour TTL on models that offer it (5m on "
                                  "the others); off sends none (default: the chain's `cache`, auto).")
    # Service tier (Converse serviceTier), where the model offers it (catalogue capabilities.service_tiers)
    service_tier: Optional[Literal["default", "flex", "priority"]] = Field(
        default=None, description="default | flex | priority: a throttled flex call is retried at the default "
                                  "tier of the same model before another model; priced at the tier's price.")
    # Reasoning (chains.reasoning)
    reasoning: Union[Literal["off"], StrictInt] = Field(
        default="off", description="off, or a reasoning token budget (>= 1024) for models that reason.")
    return_reasoning: bool = Field(default=False, description="Return the reasoning text under `reasoning`.")

    @field_validator("reasoning")
    @classmethod
    def _budget(cls, v: Any) -> Any:
        if v != "off" and v < 1024:
            raise ValueError("a reasoning budget is at least 1024 tokens (or off)")
        return v

    # Guardrails (chains.guardrails)
    guardrail: Optional[Guardrail] = Field(
        default=None, description="{id, version, trace}: a Bedrock guardrail for this request (default: the "
                                  "chain's `guardrail`); an intervention is an answer, not a failure.")


OPTION_NAMES = sorted(Options.model_fields)
_NO_OPTIONS = Options()


def parse_options(raw: Any) -> Options:
    if raw is None:
        return _NO_OPTIONS
    if isinstance(raw, Options):
        return raw
    if not isinstance(raw, abc.Mapping):
        raise BadRequest(f"options must be an object, got {type(raw).__name__}", field="options")
    try:
        return Options.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            name = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(f"unknown option '{clip(name)}' (valid: {', '.join(OPTION_NAMES)})")
            else:
                problems.append(f"options.{clip(name)}: {e['msg']}")
            if len(problems) >= 10:  # 100,000 bad entries are one answer of a few lines, not 100,000 lines
                problems.append(f"... ({len(exc.errors()):,} problems in all)")
                break
        raise BadRequest("; ".join(problems), field="options") from None
