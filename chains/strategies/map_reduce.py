"""The ``map_reduce`` strategy: documents of any length, every single call inside its model's window.

When the input fits a model it is one ordinary routed call. When it fits none:

1. **split** the document variable with langchain's ``RecursiveCharacterTextSplitter`` measured by our token
   estimator (``length_function``), with overlap; a chunk is at most ``tokens.chunk_size`` and small enough
   for the smallest window among the candidate models, after the prompt around it and the output reserve;
2. **plan** the worst case (every call writes its full ``max_tokens``): calls, levels and cost. A plan above
   ``options.max_cost_usd`` is refused before anything is spent (``BudgetExceeded`` with the estimate);
3. **map**: the prompt on every chunk, as ``Runnable.batch`` with ``max_concurrency``;
4. **collapse**, recursively: while the partial results together do not fit one call, group them into calls
   that do and summarise each group (again a batch);
5. **reduce**: the prompt on the joined partial results, with the prompt's own ``max_tokens``.

All calls use the same route (the model chosen for a chunk-sized request, its fallbacks behind it), so the
estimate is made at known prices. The response adds ``chunks``, ``calls`` and ``map_reduce`` (levels, chunk
size, model, worst-case estimate).
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.runnables.config import patch_config
from pydantic import Field

from chains.calls.fallback import call_with_fallbacks
from chains.chain import ChainOutput, StrategySpec
from chains.errors import (
    CONTEXT_OVERFLOW,
    AllModelsFailed,
    BadRequest,
    BudgetExceeded,
    ChainsError,
    ConfigError,
    DeadlineExceeded,
    InputTooLarge,
    ModelCallError,
    PinnedModelUnsuitable,
)
from chains.limits import output_reserve, requested_max_tokens
from chains.routing.decision import RouteDecision, candidates, decide
from chains.strategies import routed
from chains.tokens.estimator import estimate_messages, estimate_text, fits, input_budget
from chains.tokens.settings import TokensConfig, tokens_config
from chains.usage import cost

logger = logging.getLogger(__name__)

SEPARATOR = "\n\n"  # between partial results when they are joined for collapse and reduce


class Output(ChainOutput):
    chunks: int = Field(description="How many chunks the document was split into (1: it fitted one call).")
    calls: int = Field(description="Model calls that produced the answer (map + collapse + reduce).")
    map_reduce: Optional[Dict[str, Any]] = Field(default=None, description="Levels, chunk size, plan.")


# --- entry points ------------------------------------------------------------------------------------------
def run(chain: Any, request: Any, config: RunnableConfig) -> Dict[str, Any]:
    doc_var = document_variable(chain, request)
    try:
        result = routed.run(chain, request, config)
    except (InputTooLarge, PinnedModelUnsuitable, ModelCallError) as exc:
        why = _why_map_reduce(chain, request, exc)
        return MapReduce(chain, request, config, doc_var, earlier_attempts=_attempts_of(exc)).run(why=why)
    result.update({"chunks": 1, "calls": 1})
    return result


def stream(chain: Any, request: Any, config: RunnableConfig) -> Iterator[Dict[str, Any]]:
    """A document that fits streams like a routed call; a map-reduce arrives as one chunk (its reduce step
    starts only when every partial result is in)."""
    doc_var = document_variable(chain, request)
    parts = routed.stream(chain, request, config)
    try:
        first = next(parts)
    except StopIteration:
        return
    except (InputTooLarge, PinnedModelUnsuitable, ModelCallError) as exc:
        why = _why_map_reduce(chain, request, exc)
        yield MapReduce(chain, request, config, doc_var, earlier_attempts=_attempts_of(exc)).run(why=why)
        return
    for part in itertools.chain([first], parts):
        if set(part) - {"output"}:
            part = {**part, "chunks": 1, "calls": 1}
        yield part


def _why_map_reduce(chain: Any, request: Any, exc: ChainsError) -> str:
    """Why a single call will not do, or re-raise ``exc`` when splitting would not help."""
    if isinstance(exc, PinnedModelUnsuitable):
        # A pinned model is refused for other reasons too (attachments, budget): only its window sends it here.
        messages = request.prompt.format_messages(request.inputs)
        if fits(chain.settings, request.options.model, estimate_messages(messages), requested_max_tokens(request)):
            raise exc
        return exc.message
    if isinstance(exc, ModelCallError):
        # The estimate fitted but the models disagreed (their tokenizers count more): split instead.
        if not _all_overflow(exc):
            raise exc
        logger.info("context overflow on a single call; switching to map-reduce", extra={"chain": chain.name})
        return f"the models refused the input as too long ({exc.message})"
    return exc.message


def document_variable(chain: Any, request: Any) -> str:
    """The input that is split: ``settings.document_variable`` of the chain, else the longest string input."""
    name = (chain.cfg.settings or {}).get("document_variable")
    variables = request.prompt.spec.input_variables
    if name is not None:
        if name not in variables:
            raise ConfigError(
                f"chains.{chain.name}.settings.document_variable: '{name}' is not a variable of prompt "
                f"'{request.prompt.name}' (it has: {', '.join(variables)})"
            )
        _require_text(name, request.inputs.get(name))
        return name
    texts = {v: request.inputs.get(v) for v in variables if isinstance(request.inputs.get(v), str)}
    if not texts:
        for var in variables:  # a number where the text goes is the caller's mistake, not the config's
            if request.inputs.get(var) is not None:
                _require_text(var, request.inputs[var])
        raise ConfigError(f"chain '{chain.name}': prompt '{request.prompt.name}' has no text variable to split")
    return max(texts, key=lambda v: len(texts[v]))


def _require_text(var: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"input '{var}' must be a string (the text to split), got {type(value).__name__}",
                         field=var)


def chain_tokens_config(chain: Any) -> TokensConfig:
    overrides = {k: v for k, v in (chain.cfg.settings or {}).items() if k != "document_variable"}
    return tokens_config(chain.settings, overrides, where=f"chains.{chain.name}.settings" if overrides else "tokens")


MAP_REDUCE = StrategySpec("map_reduce", run, stream, Output, settings=chain_tokens_config)


def _all_overflow(exc: ModelCallError) -> bool:
    if isinstance(exc, AllModelsFailed):
        return bool(exc.attempts) and all(a.get("error_class") == CONTEXT_OVERFLOW for a in exc.attempts)
    return exc.error_class == CONTEXT_OVERFLOW


def _attempts_of(exc: ChainsError) -> List[Dict[str, Any]]:
    return list(getattr(exc, "attempts", None) or exc.details.get("attempts") or [])


# --- the plan ----------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """The worst case of a map-reduce on one model: every call writes its full output reserve."""

    alias: str
    chunks: int
    levels: List[int]  # calls per level: map, collapse ..., reduce (1)
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @property
    def calls(self) -> int:
        return sum(self.levels)


def group_sizes(sizes: Sequence[int], room: int) -> List[List[int]]:
    """Indexes of ``sizes`` (chars) grouped in order so that each joined group is at most ``room`` tokens."""
    groups: List[List[int]] = []
    current: List[int] = []
    chars = 0
    for i, size in enumerate(sizes):
        joined = chars + (len(SEPARATOR) if current else 0) + size
        if current and math.ceil(joined / 4) > room:
            groups.append(current)
            current, joined = [], size
        current.append(i)
        chars = joined
    if current:
        groups.append(current)
    return groups


class MapReduce:
    def __init__(
        self,
        chain: Any,
        request: Any,
        config: RunnableConfig,
        doc_var: str,
        earlier_attempts: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        self.chain = chain
        self.settings = chain.settings
        self.request = request
        self.config = config
        self.doc_var = doc_var
        self.cfg = chain_tokens_config(chain)
        self.attempts: List[Dict[str, Any]] = list(earlier_attempts or [])
        self.calls = 0
        self.requested = requested_max_tokens(request)
        # The prompt around the document: repeated in every call.
        self.overhead = estimate_messages(self._messages(""))

    # --- sizes ---------------------------------------------------------------------------------------------
    def _messages(self, text: str) -> List[Any]:
        return self.request.prompt.format_messages({**self.request.inputs, self.doc_var: text}, cache=self.request.cache)

    def map_out(self, alias: str) -> int:
        return output_reserve(self.settings, alias, self.cfg.map_max_tokens or self.requested)

    def reduce_out(self, alias: str) -> int:
        return output_reserve(self.settings, alias, self.requested)

    def room(self, alias: str, out: int) -> int:
        """Document tokens one call to ``alias`` takes next to the prompt and an output reserve of ``out``."""
        return input_budget(self.settings, alias, out) - self.overhead

    def rooms(self, aliases: Sequence[str], final: bool) -> int:
        return min(self.room(a, self.reduce_out(a) if final else self.map_out(a)) for a in aliases)

    # --- planning ------------------------------------------------------------------------------------------
    def plan(self, alias: str, chunk_tokens: Sequence[int], collapse_room: int, reduce_room: int) -> Plan:
        map_out, reduce_out = self.map_out(alias), self.reduce_out(alias)
        levels = [len(chunk_tokens)]
        inp = sum(self.overhead + t for t in chunk_tokens)
        out = map_out * len(chunk_tokens)
        sizes = [map_out * 4] * len(chunk_tokens)  # partial results, in chars, at their largest
        while math.ceil((sum(sizes) + len(SEPARATOR) * (len(sizes) - 1)) / 4) > reduce_room:
            groups = group_sizes(sizes, collapse_room)
            if len(groups) >= len(sizes) or len(levels) > self.cfg.max_collapse_depth:
                raise InputTooLarge(
                    f"the document cannot be reduced within {self.cfg.max_collapse_depth} collapse levels on "
                    f"{alias}: partial results of up to {map_out} tokens do not group into its "
                    f"{collapse_room}-token room (lower tokens.map_max_tokens or raise chunk_size)",
                    chunks=len(chunk_tokens),
                )
            levels.append(len(groups))
            for g in groups:
                inp += self.overhead + math.ceil((sum(sizes[i] for i in g) + len(SEPARATOR) * (len(g) - 1)) / 4)
            out += map_out * len(groups)
            sizes = [map_out * 4] * len(groups)
        levels.append(1)
        inp += self.overhead + math.ceil((sum(sizes) + len(SEPARATOR) * (len(sizes) - 1)) / 4)
        out += reduce_out
        return Plan(alias, len(chunk_tokens), levels, inp, out, cost(self.settings.model(alias).price, inp, out))

    # --- running -------------------------------------------------------------------------------------------
    def run(self, why: str) -> Dict[str, Any]:
        request = self.request
        models = candidates(self.chain, request)
        # A model whose window cannot hold the prompt, an output reserve and a little text is no use here.
        usable = [a for a in models if self.room(a, max(self.map_out(a), self.reduce_out(a))) > 2 * self.cfg.chunk_overlap + 16]
        if not usable:
            raise InputTooLarge(
                f"no model's window holds this prompt with room for a chunk of the document ({why})",
                models=models,
            )
        chunk_room = min(self.cfg.chunk_size, self.rooms(usable, final=False))
        chunks = self.split(request.inputs[self.doc_var], chunk_room)
        chunk_tokens = [estimate_text(c) for c in chunks]

        # The route: what the router (or the cheapest-first rule) picks for one chunk-sized request. The
        # budget is checked below against the whole plan, not against one chunk's call.
        unbudgeted = replace(request, options=request.options.model_copy(update={"max_cost_usd": None}))
        route = decide(self.chain, unbudgeted, self._messages(chunks[0]), self.config)
        route = route.restricted(usable, model=route.model if route.model in usable else usable[0])
        collapse_room, reduce_room = self.rooms(route.candidates, False), self.rooms(route.candidates, True)

        plan = self.plan(route.model, chunk_tokens, collapse_room, reduce_room)
        budget = request.options.max_cost_usd
        if budget is not None and plan.cost_usd > budget:
            route, plan = self._within_budget(route, chunk_tokens, collapse_room, reduce_room, plan, budget)

        logger.info(
            "map-reduce",
            extra={"chain": self.chain.name, "chunks": len(chunks), "model_alias": route.model,
                   "planned_calls": plan.calls, "estimated_cost_usd": round(plan.cost_usd, 6)},
        )
        levels: List[int] = [len(chunks)]
        parts = self.step("map", route, [self._messages(c) for c in chunks], final=False)
        depth = 0
        while estimate_text(SEPARATOR.join(parts)) > reduce_room:
            depth += 1
            groups = group_sizes([len(p) for p in parts], collapse_room)
            if len(groups) >= len(parts) or depth > self.cfg.max_collapse_depth:
                raise InputTooLarge(
                    f"partial results did not shrink below one call after {depth - 1} collapse level(s)",
                    chunks=len(chunks), calls=self.calls,
                )
            levels.append(len(groups))
            parts = self.step(
                "collapse", route, [self._messages(SEPARATOR.join(parts[i] for i in g)) for g in groups], final=False
            )
        levels.append(1)
        outcome = self.step_outcomes("reduce", route, [self._messages(SEPARATOR.join(parts))], final=True)[0]

        route_info = route.to_dict()
        route_info.update(
            {
                "reason": f"map-reduce: {why}; every call on {route.model} ({route.reason})",
                "estimated_input_tokens": estimate_text(request.inputs[self.doc_var]) + self.overhead,
                "estimated_cost_usd": round(plan.cost_usd, 8),
                "strategy": "map_reduce",
            }
        )
        return {
            "output": outcome.text,
            "model": outcome.model_id,
            "route": route_info,
            "attempts": self.attempts,
            "chunks": len(chunks),
            "calls": self.calls,
            "stop_reason": outcome.stop_reason,
            "map_reduce": {
                "levels": levels,
                "chunk_tokens": chunk_room,
                "overlap_tokens": self._overlap(chunk_room),
                "max_concurrency": self.cfg.max_concurrency,
                "model": route.model,
                "planned_calls_max": plan.calls,
                "estimated_cost_usd": round(plan.cost_usd, 8),
            },
        }

    def _within_budget(
        self, route: RouteDecision, chunk_tokens: Sequence[int], collapse_room: int, reduce_room: int, plan: Plan,
        budget: float,
    ) -> Tuple[RouteDecision, Plan]:
        """The cheapest route whose whole plan fits the budget, else ``BudgetExceeded`` with the estimate."""
        plans = [plan]
        for alias in route.candidates[1:]:
            plans.append(self.plan(alias, chunk_tokens, collapse_room, reduce_room))
        fitting = [p for p in plans if p.cost_usd <= budget]
        if not fitting:
            cheapest = min(plans, key=lambda p: p.cost_usd)
            raise BudgetExceeded(
                f"summarising this document needs up to {cheapest.calls} calls ({cheapest.chunks} chunks) and would "
                f"cost up to ~${cheapest.cost_usd:.6f} on {cheapest.alias} (worst-case estimate), above "
                f"options.max_cost_usd={budget}; nothing was spent",
                max_cost_usd=budget,
                estimated_cost_usd=round(cheapest.cost_usd, 8),
                model=cheapest.alias,
                chunks=cheapest.chunks,
                planned_calls=cheapest.calls,
            )
        best = fitting[0]
        reason = f"{route.reason}; {best.alias} because the whole map-reduce fits options.max_cost_usd on it"
        return route.restricted(route.candidates, reason, model=best.alias), best

    def _overlap(self, chunk_room: int) -> int:
        return min(self.cfg.chunk_overlap, chunk_room // 4)

    def split(self, text: str, chunk_room: int) -> List[str]:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_room, chunk_overlap=self._overlap(chunk_room), length_function=estimate_text
        )
        chunks: List[str] = []
        for chunk in splitter.split_text(text):
            # The splitter keeps a piece it cannot split further whole; cut those by characters.
            while estimate_text(chunk) > chunk_room:
                chunks.append(chunk[: chunk_room * 4])
                chunk = chunk[chunk_room * 4 :]
            if chunk.strip():
                chunks.append(chunk)
        return chunks or [text]

    def step(self, name: str, route: RouteDecision, batch: List[List[Any]], final: bool) -> List[str]:
        return [o.text for o in self.step_outcomes(name, route, batch, final) if o.text.strip()]

    def step_outcomes(self, name: str, route: RouteDecision, batch: List[List[Any]], final: bool) -> List[Any]:
        """One level of calls, ``max_concurrency`` at a time; raises the first failure after the batch."""
        remaining = self.request.remaining_ms()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded(
                f"no time left for the {name} step of map-reduce", calls=self.calls, attempts=self.attempts
            )
        biggest = max(estimate_messages(m) for m in batch)
        for alias in route.candidates:  # the promise this module makes: every call fits its window
            out = self.reduce_out(alias) if final else self.map_out(alias)
            if not fits(self.settings, alias, biggest, out):  # a bug in the plan, never the caller's fault
                raise ChainsError(f"map-reduce planned a {name} call of {biggest} tokens that does not fit {alias}")
        max_tokens = self.requested if final else (self.cfg.map_max_tokens or self.requested)
        chain, request = self.chain, self.request

        def one_call(messages: List[Any], config: RunnableConfig) -> Any:
            return call_with_fallbacks(chain, request, route.candidates, messages, config, max_tokens)

        runnable = RunnableLambda(one_call, name=f"map_reduce.{name}")
        results = runnable.batch(
            batch,
            config=patch_config(self.config, max_concurrency=self.cfg.max_concurrency, run_name=f"map_reduce.{name}"),
            return_exceptions=True,
        )
        outcomes = []
        failure: Optional[BaseException] = None
        for result in results:
            if isinstance(result, BaseException):
                failure = failure or result
                self.attempts.extend(_attempts_of(result) if isinstance(result, ChainsError) else [])
                continue
            outcome, attempts = result
            self.attempts.extend(attempts)
            self.calls += 1
            outcomes.append(outcome)
        if failure is not None:
            if isinstance(failure, ChainsError):
                failure.details.setdefault("map_reduce_step", name)
                failure.details.setdefault("calls", self.calls)
            raise failure
        return outcomes
