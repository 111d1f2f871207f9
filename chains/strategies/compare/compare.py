"""The ``compare`` strategy: one prompt on several models at once, each answer with its latency and cost,
scored by an anonymous judge.

The models run as branches of one ``RunnableParallel``, so the wall time is the slowest model's, not the sum.
Each branch is isolated: whatever goes wrong in it (any error class, no answer within ``options.timeout_ms``)
becomes that model's entry with its error, and the others still return. Models that cannot take the input
(context window, a capability the prompt file requires, ``options.max_cost_usd``) are listed as skipped with
the reason and never called. The response is ``ok`` while at least one model answered.

Which answer becomes ``output``: the best judge score; ties go to the cheaper answer, then the faster one, then
the earlier model in the compared order. Without scores (judge off or failed): the first model in the compared
order (``options.models``, else the chain's ``models``, else ``compare.models``, else config order) that
answered.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from langchain_core.runnables import RunnableConfig, RunnableLambda, RunnableParallel
from langchain_core.runnables.config import patch_config
from pydantic import Field, field_validator

from chains.calls.bounded import CallAbandoned, run_bounded
from chains.calls.call import Attempt, invoke_model
from chains.chain import ChainOutput, StrategySpec
from chains.config import Settings, StrictModel, section
from chains.errors import (
    AllModelsFailed,
    BadRequest,
    BudgetExceeded,
    ChainsError,
    ConfigError,
    DeadlineExceeded,
    InputTooLarge,
    ModelClientError,
    to_model_error,
)
from chains.limits import call_max_tokens, requested_max_tokens
from chains.routing.decision import eligible, with_cached_prefix
from chains.tokens.estimator import estimate_messages
from chains.usage import call_cost

logger = logging.getLogger(__name__)

DEFAULT_CRITERIA = [
    "correctness: no false statements; when context is given, faithful to it",
    "completeness: answers every part of the request",
    "clarity and concision",
]


# --- the `compare:` section of config.yaml -----------------------------------------------------------------


class JudgeSettings(StrictModel):
    # Default for options.judge (an explicit options.judge always wins).
    enabled: bool = True
    model: str = Field(min_length=1, description="Alias of the judge model.")
    prompt: str = "judge"
    criteria: List[str] = Field(default_factory=lambda: list(DEFAULT_CRITERIA), min_length=1)
    max_tokens: int = Field(default=1024, ge=64)
    temperature: float = Field(default=0.0, ge=0, le=1)
    # Under a deadline, the share of the remaining time kept for the judge: models still running when the
    # rest is used up are cut, so the judge can score the answers that did arrive.
    time_share: float = Field(default=0.25, ge=0, lt=1)


class CompareSettings(StrictModel):
    # Models compared when neither options.models nor the chain's `models` say (default: all configured).
    models: Optional[List[str]] = None
    judge: JudgeSettings
    # Branches running at once (default: all of them).
    max_concurrency: Optional[int] = Field(default=None, ge=1)

    @field_validator("models")
    @classmethod
    def _non_empty(cls, v: Optional[List[str]]) -> Optional[List[str]]:
        if v is not None and not v:
            raise ValueError("must name at least one model (or be left out for all)")
        return v


    def check_against(self, settings: Settings, where: str) -> None:
        """``chains.config.section`` calls this: every model it names must be configured."""
        configured = sorted(settings.models)
        for name, alias in [("judge.model", self.judge.model)] + [("models", a) for a in self.models or []]:
            if alias not in settings.models:
                raise ConfigError(f"{where}.{name}: model '{alias}' is not configured "
                                  f"(configured: {', '.join(configured)})")


def compare_settings(chain: Any) -> CompareSettings:
    """The chain's compare settings: ``compare:`` in config.yaml overlaid with the chain's ``settings``
    (``chains.config.section``); a wrong key or an unknown model alias is a ConfigError naming it. The chain
    keeps them (``BedrockChain.strategy_settings``)."""
    app = chain.settings
    overlay = dict(chain.cfg.settings or {})
    base = app.compare or {}
    if isinstance(overlay.get("judge"), dict) and isinstance(base.get("judge"), dict):
        overlay["judge"] = {**base["judge"], **overlay["judge"]}
    where = f"compare (with chains.{chain.name}.settings)" if chain.cfg.settings else "compare"
    return section(app, "compare", CompareSettings, overlay, where)


class Output(ChainOutput):
    """The compare chain's response (``BedrockChain.get_output_schema`` picks this up)."""

    results: List[Dict[str, Any]] = Field(description="One entry per compared model, in the compared order: "
                                          "status ok | error | skipped, output, latency, usage, cost, score.")
    summary: Dict[str, Any] = Field(description="fastest, cheapest, best_scored, counts, total_cost_usd (incl. judge).")
    judge: Dict[str, Any] = Field(description="Judge model, shuffle seed and order, scores or error.")
    storage: Optional[Dict[str, Any]] = Field(default=None, description="Where the S3 copy went (S3_BUCKET_NAME).")


# --- deadlines ---------------------------------------------------------------------------------------------


def within(deadline: Optional[float], what: str) -> Callable[[Callable[[], Any]], Any]:
    """A runner for ``fn`` that gives up at ``deadline`` (``time.perf_counter()``), raising DeadlineExceeded.

    Without a deadline ``fn`` runs in the calling thread. With one, it runs in a daemon thread (context
    copied, so callbacks and tracing still see it) and is abandoned when time is up: botocore cannot cancel a
    call in flight, so the late call ends on its own (answer or read_timeout) and its result is discarded.
    """

    def run(fn: Callable[[], Any]) -> Any:
        if deadline is None:
            return fn()
        left = deadline - time.perf_counter()
        if left <= 0:
            raise DeadlineExceeded(f"no time left for {what}")
        try:
            return run_bounded(fn, left, name="compare-call")
        except CallAbandoned:
            raise DeadlineExceeded(f"{what} did not answer within the time left ({left * 1000:.0f} ms)") from None

    return run


# --- the strategy ------------------------------------------------------------------------------------------


def run(chain: Any, request: Any, config: RunnableConfig) -> Dict[str, Any]:
    app = chain.settings
    cs: CompareSettings = chain.strategy_settings()
    options = request.options
    if options.model is not None:
        raise BadRequest(
            "the compare chain runs several models; name them in options.models, not options.model",
            field="options.model",
        )
    aliases = _compared_models(chain, cs, options.models)
    messages = request.prompt.format_messages(request.inputs, cache=request.cache)
    input_tokens = estimate_messages(messages)
    requires = _required_capabilities(request.prompt)
    judge_on = options.judge if "judge" in options.model_fields_set else cs.judge.enabled

    entries: Dict[str, Dict[str, Any]] = {}
    branches: Dict[str, Any] = {}
    model_deadline = _model_deadline(request, judge_on, cs.judge.time_share)
    requested = requested_max_tokens(request)
    # The router's hard constraints (window, capabilities), one record per model; then the budget.
    elig = eligible(app, aliases, input_tokens, requested, requires)
    with_cached_prefix(app, elig.records, messages)  # a warm cached prefix lowers a model's estimate (budget)
    for alias in aliases:
        cfg = app.model(alias)
        max_tokens = call_max_tokens(app, alias, requested)
        reason = _skip_reason(app, elig.records[alias], options.max_cost_usd)
        if reason:
            entries[alias] = {"alias": alias, "model": cfg.model_id, "status": "skipped", "skip_reason": reason[1],
                              "skip_class": reason[0], "estimated_input_tokens": input_tokens}
            continue
        model = chain.runtime.factory.chat_model(alias, max_tokens=max_tokens, temperature=options.temperature)
        call = within(model_deadline, f"model '{alias}'")
        branches[alias] = RunnableLambda(_branch(app, alias, cfg.model_id, model, call), name=f"compare:{alias}")

    if not branches:
        raise _nothing_to_run(aliases, entries)

    fan_start = time.perf_counter()
    parallel = RunnableParallel(branches)
    branch_config = patch_config(config, max_concurrency=cs.max_concurrency or len(branches))
    entries.update(parallel.invoke(messages, branch_config))
    fan_out_ms = round((time.perf_counter() - fan_start) * 1000.0, 1)
    results = [entries[a] for a in aliases]
    answered = [e for e in results if e["status"] == "ok"]
    if not answered:
        raise _all_failed(results)

    judge = _judge(chain, request, cs, config, messages, answered, aliases, judge_on)
    for alias, verdict in (judge.get("scores") or {}).items():
        entries[alias].update(verdict)

    best, why = _best(answered, bool(judge.get("scores")), judge)
    summary = _summary(results, judge, fan_out_ms, best["alias"] if judge.get("scores") else None,
                       emulated=chain.runtime.factory.backend == "local")
    result: Dict[str, Any] = {
        "output": best["output"],
        "model": best["model"],
        "stop_reason": best.get("stop_reason"),
        "route": {"model": best["alias"], "reason": why, "candidates": aliases, "strategy": "compare"},
        "attempts": _attempts(results, judge),
        "results": results,
        "summary": summary,
        "judge": judge,
    }
    if _storage_enabled():
        from chains.strategies.compare.storage import store_comparison

        result["storage"] = store_comparison(chain, request, config, result)
    return result


# --- pieces of run() ---------------------------------------------------------------------------------------


def _compared_models(chain: Any, cs: CompareSettings, requested: Optional[Sequence[str]]) -> List[str]:
    app = chain.settings
    if requested is not None:
        if not requested:
            raise BadRequest("options.models is empty; name at least one model, or leave it out for all "
                             f"({', '.join(app.models)})", field="options.models")
        for alias in requested:
            app.model(alias)  # UnknownModel (400) lists the configured ones
        source: Sequence[str] = requested
    else:
        source = chain.cfg.models or cs.models or list(app.models)
    return list(dict.fromkeys(source))  # de-duplicated, order kept


def _required_capabilities(prompt: Any) -> List[str]:
    """Capabilities the prompt file asks for in ``metadata.requires`` (e.g. ``[vision]``)."""
    required = getattr(prompt.metadata, "requires", None) or []
    return [required] if isinstance(required, str) else list(required)


def _skip_reason(app: Any, record: Any, max_cost: Optional[float]) -> Optional[tuple]:
    """Why a model is not run (``record``: its ``chains.routing.decision.Candidate``), or None."""
    alias = record.alias
    if record.missing:
        return "capability", f"the prompt requires {', '.join(record.missing)}, which {alias} does not support"
    if not record.fits:
        cfg = app.model(alias)
        return "context_window", (f"~{record.input_tokens} input + {record.output} output tokens exceed {alias}'s "
                                  f"usable window of {record.window} ({cfg.context_window} less a "
                                  f"{cfg.token_margin:.0%} margin)")
    if max_cost is not None and record.cost > max_cost:
        return "budget", f"estimated cost ${record.cost:.6f} (at most {record.output} output tokens) exceeds " \
                         f"options.max_cost_usd ${max_cost:g}"
    return None


def _model_deadline(request: Any, judge_on: bool, judge_share: float) -> Optional[float]:
    deadline = request.deadline
    if deadline is None or not judge_on:
        return deadline
    left = deadline - time.perf_counter()
    return deadline - max(0.0, left) * judge_share


def _branch(app: Any, alias: str, model_id: str, model: Any, call: Callable[[Callable[[], Any]], Any]) -> Callable:
    """One model's branch: never raises, so one model's failure cannot take the others down."""

    def branch(messages: List[Any], config: RunnableConfig) -> Dict[str, Any]:
        start = time.perf_counter()
        entry: Dict[str, Any] = {"alias": alias, "model": model_id}
        try:
            outcome = call(lambda: invoke_model(model, alias, model_id, messages, config))
        except Exception as exc:  # isolation: every failure becomes this model's entry
            if not isinstance(exc, ChainsError):
                logger.exception("unexpected error in compare branch", extra={"model": alias})
                exc = to_model_error(exc, model_id)
            entry.update(status="error", latency_ms=_ms(start), error=_error(exc))
            logger.info("compare branch failed", extra={"model": alias, "error_type": exc.type,
                                                       "error_class": entry["error"]["error_class"]})
            return entry
        entry.update(
            status="ok",
            output=outcome.text,
            latency_ms=round(outcome.wall_ms, 1),
            bedrock_latency_ms=outcome.bedrock_latency_ms,
            usage=outcome.usage,
            cost_usd=round(call_cost(app, model_id, outcome.usage), 8),
            stop_reason=outcome.stop_reason,
        )
        return entry

    return branch


def _judge(chain: Any, request: Any, cs: CompareSettings, config: RunnableConfig, messages: List[Any],
           answered: List[Dict[str, Any]], aliases: List[str], judge_on: bool) -> Dict[str, Any]:
    """The response's ``judge`` section (the judge runs with whatever time the request has left)."""
    from chains.strategies.compare.judge import derive_seed, run_judge

    options = request.options
    if not judge_on:
        why = "options.judge is false" if "judge" in options.model_fields_set else "compare.judge.enabled is false"
        return {"enabled": False, "model": None, "reason": why, "scores": None, "error": None}
    request_id = ((config or {}).get("metadata") or {}).get("request_id")
    seed, source = derive_seed(options.seed, request_id, request.inputs, request.prompt.name, aliases)
    return run_judge(
        runtime=chain.runtime, settings=cs.judge, messages=messages,
        answers={e["alias"]: e["output"] for e in answered}, seed=seed, seed_source=source,
        compared=aliases, config=config, call=within(request.deadline, f"judge '{cs.judge.model}'"),
        cache=request.cache,
    )


def _attempts(results: List[Dict[str, Any]], judge: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Failed and skipped models, and a failed judge (``role: judge``), in the envelope's attempt shape."""
    attempts = [_attempt(e) for e in results if e["status"] != "ok"]
    err = judge.get("error")
    if err:
        attempts.append(Attempt(model=judge.get("model_id") or "", alias=judge.get("model") or "",
                                error_class=err.get("error_class", "judge"), code=err.get("code"),
                                ms=judge.get("latency_ms") or 0.0, message=err.get("message", ""),
                                extra={"role": "judge"}).to_dict())
    return attempts


def _error(exc: ChainsError) -> Dict[str, Any]:
    d = exc.details
    error_class = d.get("error_class") or ("deadline" if isinstance(exc, DeadlineExceeded) else "unknown")
    return {"type": exc.type, "error_class": error_class, "code": d.get("code"), "message": exc.message}


def _attempt(entry: Dict[str, Any]) -> Dict[str, Any]:
    if entry["status"] == "skipped":
        return Attempt(model=entry["model"], alias=entry["alias"], error_class=entry["skip_class"], code=None, ms=0.0,
                       message=entry["skip_reason"], skipped=True).to_dict()
    err = entry["error"]
    return Attempt(model=entry["model"], alias=entry["alias"], error_class=err["error_class"], code=err["code"],
                   ms=entry["latency_ms"], message=err["message"]).to_dict()


def _nothing_to_run(aliases: Sequence[str], entries: Dict[str, Dict[str, Any]]) -> ChainsError:
    results = [entries[a] for a in aliases]
    kinds = {e["skip_class"] for e in results}
    reasons = "; ".join(f"{e['alias']}: {e['skip_reason']}" for e in results)
    if kinds == {"context_window"}:
        exc: ChainsError = InputTooLarge(f"the input fits no compared model's window: {reasons}")
    elif kinds == {"budget"}:
        exc = BudgetExceeded(f"no compared model fits options.max_cost_usd: {reasons}")
    else:
        exc = BadRequest(f"no compared model can take this request: {reasons}", field="input")
    exc.details["results"] = results
    return exc


def _all_failed(results: List[Dict[str, Any]]) -> ChainsError:
    attempts = [_attempt(e) for e in results if e["status"] != "ok"]
    classes = {e["error"]["error_class"] for e in results if e["status"] == "error"}
    if classes == {"deadline"}:
        exc: ChainsError = DeadlineExceeded("no compared model answered within options.timeout_ms",
                                            attempts=attempts)
    elif classes == {"client_error"}:
        # The request itself is wrong for every model: a 400, as for a single model.
        first = next(e["error"] for e in results if e["status"] == "error")
        exc = ModelClientError(first["message"], code=first["code"], attempts=attempts)
    else:
        exc = AllModelsFailed(attempts)
    exc.details["results"] = results
    return exc


def _best(answered: List[Dict[str, Any]], scored: bool, judge: Dict[str, Any]) -> tuple:
    if scored:
        ranked = sorted(
            enumerate(answered),
            key=lambda ie: (-ie[1].get("score", 0), ie[1].get("cost_usd") or 0.0, ie[1].get("latency_ms") or 0.0,
                            ie[0]),
        )
        best = ranked[0][1]
        tied = sum(1 for _, e in ranked if e.get("score") == best.get("score"))
        why = f"best judge score ({best['score']}/10 from {judge['model']}, {len(answered)} answer(s) scored)"
        if tied > 1:
            why += f"; tied with {tied - 1} other(s), the cheaper (then faster) answer wins"
        return best, why
    best = answered[0]
    if judge.get("enabled"):
        why = "no judge scores (the judge failed); the first model in the compared order that answered"
    else:
        why = "judge off; the first model in the compared order that answered"
    return best, why


def _summary(results: List[Dict[str, Any]], judge: Dict[str, Any], fan_out_ms: float,
             best_scored: Optional[str], emulated: bool = False) -> Dict[str, Any]:
    ok = [e for e in results if e["status"] == "ok"]
    fastest = min(ok, key=lambda e: _speed(e, emulated))
    cheapest = min(ok, key=lambda e: (e["cost_usd"], e["latency_ms"]))
    models_cost = sum(e["cost_usd"] for e in ok)
    judge_cost = judge.get("cost_usd") or 0.0
    return {
        "fastest": fastest["alias"],
        "cheapest": cheapest["alias"],
        "best_scored": best_scored,
        "answered": len(ok),
        "failed": sum(1 for e in results if e["status"] == "error"),
        "skipped": sum(1 for e in results if e["status"] == "skipped"),
        # Wall time of the parallel fan-out next to the slowest branch: the parallelism made visible.
        "fan_out_ms": fan_out_ms,
        "slowest_model_ms": max(e.get("latency_ms") or 0.0 for e in results),
        "models_cost_usd": round(models_cost, 8),
        "judge_cost_usd": round(judge_cost, 8),
        "total_cost_usd": round(models_cost + judge_cost, 8),
    }


def _speed(entry: Dict[str, Any], emulated: bool) -> Any:
    """What "fastest" compares. On the in-process emulator the wall times (a few ms) are scheduling noise, so
    the emulator's simulated ``latencyMs`` (the model's profile, stable from run to run) decides, as it does
    over HTTP where the emulator waits that long; the alias breaks ties. On Bedrock: the wall time."""
    if emulated and entry.get("bedrock_latency_ms") is not None:
        return (entry["bedrock_latency_ms"], entry["alias"])
    return (entry["latency_ms"], entry["alias"])


def _storage_enabled() -> bool:
    import os

    return bool(os.environ.get("S3_BUCKET_NAME", "").strip())


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


COMPARE = StrategySpec("compare", run, None, Output, takes_prompt_option=True, settings=compare_settings,
                       bulk="compare")
