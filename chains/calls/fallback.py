"""Fallbacks over ordered candidates that fail fast and never mask real errors.

- One retry layer: botocore's, per model in config.yaml (``retry``: mode, total_max_attempts, timeouts); the
  default is one try, because with fallbacks behind a model, failing over beats backing off. Nothing here
  retries the same model again, and nothing stacks ``with_retry`` on top.
- Fallbacks: the candidates in order, falling over only on the error classes another model may succeed on
  (``chains.errors.classify``; the same rule as langchain-core's ``with_fallbacks``, without its wrapper
  runs: one langchain run per model call under the chain's): ``client_error`` propagates at once,
  ``context_overflow`` skips to a model with a larger window. Every try and skip is recorded in ``attempts``.
- Cooldown (``chains.calls.cooldown``): a model that was throttled / unavailable / unusable goes behind the
  healthy ones for a configurable time (not dropped).
- Deadlines: no attempt starts with less than ``min_attempt_ms`` left, and a call is waited for only until the
  deadline (a blocking boto3 call cannot be cancelled: it runs in a worker thread and is abandoned, bounded
  by the model's botocore read_timeout); the caller gets ``DeadlineExceeded`` (504).
- Streaming: falls over only before the first text chunk; after it, the stream ends with ``StreamInterrupted``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from langchain_core.runnables import RunnableConfig

from chains.calls.bounded import CallAbandoned, botocore_bound_s, run_bounded
from chains.calls.call import Attempt, CallOutcome, invoke_model
from chains.calls.cooldown import Cooldown
from chains.calls.retired import retirement_reason
from chains.calls.settings import ResilienceSettings, resilience_settings
from chains.calls.stream import stream_model
from chains.errors import (
    CONTENT_FILTERED,
    CONTEXT_OVERFLOW,
    MODEL_UNUSABLE,
    THROTTLED,
    UNAVAILABLE,
    AllModelsFailed,
    ContentFiltered,
    ContextOverflow,
    DeadlineExceeded,
    ModelCallError,
    ModelUnusable,
    StreamInterrupted,
    Throttled,
    Unavailable,
)
from chains.guardrails import converse_config
from chains.limits import call_max_tokens
from chains.reasoning import model_overrides as reasoning_overrides

logger = logging.getLogger(__name__)

_CLASS_ERRORS = {
    THROTTLED: Throttled,
    UNAVAILABLE: Unavailable,
    MODEL_UNUSABLE: ModelUnusable,
    CONTEXT_OVERFLOW: ContextOverflow,
    CONTENT_FILTERED: ContentFiltered,
}
# Stop reasons of a successful call that mean the model's own content policy replaced the answer. Not
# ``guardrail_intervened``: a guardrail the caller asked for answered (chains.guardrails), and the same
# guardrail would block the same input on any other model, so it is the answer, not a reason to fall over.
_FILTERED_STOPS = {"content_filtered"}


# --- one request's fallback run --------------------------------------------------------------------------------


class _Skipped(Exception):
    """A candidate passed over without a call (its window is no larger than one that overflowed)."""


@dataclass
class _Run:
    chain: Any
    request: Any
    rs: ResilienceSettings
    cooldown: Cooldown
    max_tokens: Optional[int]
    attempts: List[Dict[str, Any]] = field(default_factory=list)
    overflow_window: Optional[int] = None  # the largest window that overflowed so far
    answered_by: Optional[str] = None

    @property
    def settings(self) -> Any:
        return self.chain.settings

    def tier(self, alias: str) -> Optional[str]:
        """The service tier to ask ``alias`` for: the requested one where the model offers it (catalogue),
        else none (Bedrock's default); a pinned model without it was refused at parse time (400)."""
        tier = getattr(self.request.options, "service_tier", None)
        return tier if tier and tier in self.settings.model(alias).capabilities.service_tiers else None

    def model(self, alias: str, tier: Optional[str] = None) -> Any:
        kwargs = dict(max_tokens=call_max_tokens(self.settings, alias, self.max_tokens),
                      temperature=self.request.options.temperature,
                      guardrail_config=converse_config(self.request.options.guardrail), service_tier=tier)
        kwargs.update(reasoning_overrides(self.request.options, self.settings.model(alias), kwargs["max_tokens"]))
        return self.chain.runtime.factory.chat_model(alias, **kwargs)

    def skip(self, alias: str, error_class: str, message: str, **extra: Any) -> None:
        cfg = self.settings.model(alias)
        self.attempts.append(Attempt(cfg.model_id, alias, error_class, None, 0.0, message, True, extra).to_dict())

    def before_attempt(self, alias: str) -> Optional[float]:
        """Checks before a call; returns the time it may take in seconds (None: no deadline)."""
        cfg = self.settings.model(alias)
        retired = self.chain.runtime.retired.reason(cfg.model_id)
        if retired is not None:  # Bedrock refused it for good in this container: no call
            self.skip(alias, "retired", f"retired: {retired}")
            raise _Skipped(alias)
        if self.overflow_window is not None and cfg.context_window <= self.overflow_window:
            self.skip(alias, CONTEXT_OVERFLOW,
                      f"window {cfg.context_window:,} is not larger than one that overflowed "
                      f"({self.overflow_window:,})")
            raise _Skipped(alias)
        remaining = self.request.remaining_ms()
        if remaining is None:
            return None
        if remaining < self.rs.min_attempt_ms:
            raise self.deadline(f"{remaining:.0f} ms left, less than the {self.rs.min_attempt_ms:.0f} ms an "
                                f"attempt needs; not starting {alias}")
        return remaining / 1000.0

    def deadline(self, message: str) -> DeadlineExceeded:
        return DeadlineExceeded(message, attempts=self.attempts, timeout_ms=self.request.options.timeout_ms)

    def failed(self, alias: str, err: ModelCallError, ms: float) -> ModelCallError:
        """Record a failed call, cool the model down, remember overflows; returns the error to raise."""
        cfg = self.settings.model(alias)
        self.attempts.append(
            Attempt(cfg.model_id, alias, err.error_class, err.code, ms, err.message[:300]).to_dict()
        )
        reason = retirement_reason(err)
        if reason is not None:  # end of life: for the life of the container, not a cooldown
            self.chain.runtime.retired.retire(alias, cfg, reason)
            self.attempts[-1]["retired"] = f"retired: {reason}"
        seconds = self.rs.cooldown_s.get(err.error_class, 0) if reason is None else 0
        if seconds:
            self.cooldown.trip(alias, err.error_class, seconds)
        if err.error_class == CONTEXT_OVERFLOW:
            self.overflow_window = max(self.overflow_window or 0, cfg.context_window)
        logger.info("model call failed", extra={"model_alias": alias, "error_class": err.error_class,
                                                "code": err.code, "ms": round(ms, 1)})
        return err

    def timed_out(self, alias: str, ms: float) -> DeadlineExceeded:
        cfg = self.settings.model(alias)
        self.attempts.append(
            Attempt(cfg.model_id, alias, "deadline", "Timeout", ms, "abandoned at the deadline").to_dict()
        )
        return self.deadline(f"{alias} did not answer before the deadline ({ms:.0f} ms)")

    def require_time_for_first_attempt(self) -> None:
        left = self.request.remaining_ms()
        if left is not None and left < self.rs.min_attempt_ms:
            raise self.deadline(f"{max(0.0, left):.0f} ms left before the first attempt "
                                f"(an attempt needs at least {self.rs.min_attempt_ms} ms)")

    def handled(self) -> Tuple[type, ...]:
        return (_Skipped, *(_CLASS_ERRORS[c] for c in self.rs.fall_back_on))

    def ordered(self, candidates: Sequence[str]) -> List[str]:
        healthy, cooling = self.cooldown.partition(candidates)
        for alias, status in cooling:
            if healthy:  # when every model is cooling, they are simply tried in order
                self.skip(alias, "cooling_down",
                          f"cooling down after {status['error_class']}; tried after the healthy models",
                          cooldown_remaining_ms=status["remaining_ms"], deferred=True)
        return healthy + [a for a, _ in cooling]

    def flex_throttled(self, alias: str, err: ModelCallError, ms: float) -> None:
        """A flex call throttled: recorded (tier flex) without cooling the model down, since its default tier
        is tried next (flex capacity is what ran out, not the model's)."""
        cfg = self.settings.model(alias)
        self.attempts.append(Attempt(cfg.model_id, alias, err.error_class, err.code, ms, err.message[:300],
                                     extra={"service_tier": "flex"}).to_dict())
        logger.info("flex call throttled; retrying at the default tier",
                    extra={"model_alias": alias, "code": err.code, "ms": round(ms, 1)})

    def call(self, alias: str, messages: List[Any], config: RunnableConfig) -> CallOutcome:
        tier = self.tier(alias)
        if tier == "flex":
            try:
                return self._call(alias, messages, config, tier)
            except Throttled as err:  # the same model at the default tier before another model
                self.flex_throttled(alias, err, getattr(err, "elapsed_ms", 0.0))
                tier = None
        return self._call(alias, messages, config, tier)

    def _call(self, alias: str, messages: List[Any], config: RunnableConfig, tier: Optional[str]) -> CallOutcome:
        timeout_s = self.before_attempt(alias)
        cfg = self.settings.model(alias)
        model = self.model(alias, tier)
        start = time.perf_counter()
        try:
            outcome = run_bounded(lambda: invoke_model(model, alias, cfg.model_id, messages, config), timeout_s,
                                  self_bound_s=_own_bound_s(cfg))
        except CallAbandoned:
            raise self.timed_out(alias, (time.perf_counter() - start) * 1000.0) from None
        except Throttled as err:
            if tier == "flex":
                raise  # handled by call(): not yet a failure of the model
            raise self.failed(alias, err, getattr(err, "elapsed_ms", (time.perf_counter() - start) * 1000.0))
        except ModelCallError as err:
            raise self.failed(alias, err, getattr(err, "elapsed_ms", (time.perf_counter() - start) * 1000.0))
        if (outcome.stop_reason or "").lower() in _FILTERED_STOPS:
            err = ContentFiltered(f"{alias} stopped with {outcome.stop_reason}", code=outcome.stop_reason,
                                  model=cfg.model_id)
            raise self.failed(alias, err, outcome.wall_ms)
        self.cooldown.clear(alias)
        self.answered_by = alias
        return outcome

    def all_failed(self) -> AllModelsFailed:
        return AllModelsFailed(self.attempts)

    def not_fallen_over(self, err: ModelCallError) -> ModelCallError:
        err.details.setdefault("attempts", self.attempts)
        return err


def _own_bound_s(cfg: Any) -> Optional[float]:
    r = cfg.retry
    return botocore_bound_s(r.mode, r.total_max_attempts, r.connect_timeout, r.read_timeout)


def _start(chain: Any, request: Any, candidates: Sequence[str], max_tokens: Optional[int]
           ) -> Tuple[_Run, List[str], Tuple[type, ...]]:
    """The run of one request's fallbacks (invoke or stream): the run, the order its candidates are tried in
    (cooling-down models last), and the error classes that fall over. Raises ``DeadlineExceeded`` when too little
    time is left for a first attempt. ``max_tokens``: the requested output cap
    (``chains.limits.requested_max_tokens``), clamped per model."""
    if not candidates:
        raise ValueError("call_with_fallbacks needs at least one candidate model")
    run = _Run(chain, request, resilience_settings(chain.settings), chain.runtime.cooldown, max_tokens)
    order = run.ordered(candidates)
    run.require_time_for_first_attempt()
    return run, order, run.handled()


def call_with_fallbacks(
    chain: Any,
    request: Any,
    candidates: Sequence[str],
    messages: List[Any],
    config: Optional[RunnableConfig],
    max_tokens: Optional[int] = None,
) -> Tuple[CallOutcome, List[Dict[str, Any]]]:
    """Call the candidates in order until one answers; returns ``(outcome, attempts)``.

    Raises ``AllModelsFailed`` (with the attempts), a ``ModelCallError`` whose class does not fall back
    (``ModelClientError``: at once, one call), or ``DeadlineExceeded``.
    """
    run, order, handled = _start(chain, request, candidates, max_tokens)
    # The fallback run is a plain loop: one langchain run per model call (the model's own) under the chain's,
    # no wrapper runs; what each try did is in ``attempts`` (and in the model call observer's log lines).
    for alias in order:
        try:
            return run.call(alias, messages, config), run.attempts
        except handled:
            continue
        except ModelCallError as err:
            raise run.not_fallen_over(err)
    raise run.all_failed()


def _model_stream(run: _Run, alias: str, messages: List[Any], config: RunnableConfig) -> Iterator[Any]:
    """One candidate's stream (``chains.calls.stream.stream_model``): ``{"output": delta}`` pieces, then
    ``{"done": CallOutcome}``; failures recorded on the run and raised typed.

    Plain dicts on purpose: Runnable streaming adds chunks with ``+``, and dicts are not addable, so nothing
    accumulates a copy of the whole stream.
    """
    timeout_s = run.before_attempt(alias)
    cfg = run.settings.model(alias)
    model = run.model(alias, run.tier(alias))  # streamed: a throttled flex call falls over like any throttle
    start = time.perf_counter()
    try:
        outcome = yield from stream_model(model, alias, cfg.model_id, messages, config, timeout_s)
    except CallAbandoned as late:
        raise run.timed_out(alias, getattr(late, "elapsed_ms", (time.perf_counter() - start) * 1000.0)) from None
    except ModelCallError as exc:
        err = run.failed(alias, exc, getattr(exc, "elapsed_ms", (time.perf_counter() - start) * 1000.0))
        sent = getattr(exc, "streamed_chars", 0)
        if sent:  # too late to fall over: the caller has text from this model
            raise StreamInterrupted(err, sent, attempts=run.attempts) from exc
        raise err
    if (outcome.stop_reason or "").lower() in _FILTERED_STOPS and not outcome.text:
        raise run.failed(alias, ContentFiltered(f"{alias} stopped with {outcome.stop_reason}",
                                                code=outcome.stop_reason, model=cfg.model_id), outcome.wall_ms)
    run.cooldown.clear(alias)
    run.answered_by = alias
    yield {"done": outcome}


def stream_with_fallbacks(
    chain: Any,
    request: Any,
    candidates: Sequence[str],
    messages: List[Any],
    config: Optional[RunnableConfig],
    max_tokens: Optional[int] = None,
) -> Iterator[Dict[str, Any]]:
    """Stream from the first candidate that produces a first text chunk.

    Yields ``{"output": delta}`` chunks, then one ``{"outcome": CallOutcome, "attempts": [...]}``. Falls over
    (like ``call_with_fallbacks``) only before the first text chunk; a failure after it raises
    ``StreamInterrupted`` (typed, with the attempts), a deadline ``DeadlineExceeded``.
    """
    run, order, handled = _start(chain, request, candidates, max_tokens)
    for alias in order:
        try:
            for piece in _model_stream(run, alias, messages, config):
                if "output" in piece:
                    yield piece
                else:
                    yield {"outcome": piece["done"], "attempts": run.attempts}
            return
        except handled:
            continue  # nothing was sent yet: after the first chunk a failure is StreamInterrupted
        except StreamInterrupted:
            raise
        except ModelCallError as err:
            raise run.not_fallen_over(err)
    raise run.all_failed()
