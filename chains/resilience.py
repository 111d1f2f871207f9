"""Fallbacks over ordered candidates that fail fast and never mask real errors.

- One retry layer: botocore's, per model in config.yaml (``retry``: mode, total_max_attempts, timeouts); the
  default is one try, because with fallbacks behind a model, failing over beats backing off. Nothing here
  retries the same model again, and nothing stacks ``with_retry`` on top.
- Fallbacks: langchain-core's ``with_fallbacks`` over one Runnable per candidate, handling only the error
  classes another model may succeed on (``chains.errors.classify``): ``client_error`` propagates at once,
  ``context_overflow`` skips to a model with a larger window. Every try and skip is recorded in ``attempts``.
- Cooldown: a small thread-safe circuit breaker per runtime (= per warm Lambda container) moves a model that
  was throttled / unavailable / unusable behind the healthy ones for a configurable time (not dropped).
- Deadlines: no attempt starts with less than ``min_attempt_ms`` left, and a call is waited for only until the
  deadline (a blocking boto3 call cannot be cancelled: it runs in a worker thread and is abandoned, bounded
  by the model's botocore read_timeout); the caller gets ``DeadlineExceeded`` (504).
- Streaming: falls over only before the first text chunk; after it, the stream ends with ``StreamInterrupted``.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from langchain_core.runnables import RunnableConfig, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field, field_validator

from chains.calls import Attempt, CallOutcome, _outcome, invoke_model
from chains.config import cached_section
from chains.errors import (
    CLIENT_ERROR,
    CONTENT_FILTERED,
    CONTEXT_OVERFLOW,
    FALLBACK_CLASSES,
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
    to_model_error,
)

logger = logging.getLogger("bedrock_chains.resilience")

_CLASS_ERRORS = {
    THROTTLED: Throttled,
    UNAVAILABLE: Unavailable,
    MODEL_UNUSABLE: ModelUnusable,
    CONTEXT_OVERFLOW: ContextOverflow,
    CONTENT_FILTERED: ContentFiltered,
}
# Stop reasons of a successful call that mean a guardrail or content policy replaced the answer.
_FILTERED_STOPS = {"guardrail_intervened", "content_filtered"}


# --- the resilience: section of config.yaml -----------------------------------------------------------------


class ResilienceSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Seconds a model sits behind the healthy ones after failing with this class (0 or absent: no cooldown).
    cooldown_s: Dict[str, float] = Field(
        default_factory=lambda: {THROTTLED: 10.0, UNAVAILABLE: 30.0, MODEL_UNUSABLE: 300.0}
    )
    # No attempt is started with less time than this left before the deadline.
    min_attempt_ms: float = Field(default=250.0, ge=0)
    # Error classes on which the next candidate is tried (client_error never is).
    fall_back_on: List[str] = Field(default_factory=lambda: sorted(FALLBACK_CLASSES))

    @field_validator("cooldown_s")
    @classmethod
    def _known_cooldown_classes(cls, v: Dict[str, float]) -> Dict[str, float]:
        for k, s in v.items():
            if k not in FALLBACK_CLASSES:
                raise ValueError(f"unknown error class '{k}' (known: {', '.join(sorted(FALLBACK_CLASSES))})")
            if s < 0:
                raise ValueError(f"cooldown for {k} must be >= 0")
        return v

    @field_validator("fall_back_on")
    @classmethod
    def _known_fallback_classes(cls, v: List[str]) -> List[str]:
        for k in v:
            if k == CLIENT_ERROR:
                raise ValueError("client_error never falls back: it is our bug or the caller's bad input")
            if k not in FALLBACK_CLASSES:
                raise ValueError(f"unknown error class '{k}' (known: {', '.join(sorted(FALLBACK_CLASSES))})")
        return v


def resilience_settings(settings: Any) -> ResilienceSettings:
    """The validated ``resilience:`` section (cached per section object; a ConfigError names the bad key)."""
    return cached_section(ResilienceSettings, settings.resilience, "resilience", settings.source)


# --- cooldown: a per-process circuit breaker ------------------------------------------------------------------


class Cooldown:
    """Models that failed recently, until when, and why. Thread-safe; one per runtime (warm container)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: Dict[str, Tuple[float, str]] = {}
        self._lock = threading.Lock()

    def trip(self, alias: str, error_class: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            until = self._clock() + seconds
            current = self._until.get(alias)
            if current is None or current[0] < until:
                self._until[alias] = (until, error_class)
        logger.info("model cooling down", extra={"model_alias": alias, "error_class": error_class,
                                                 "cooldown_s": seconds})

    def clear(self, alias: Optional[str] = None) -> None:
        with self._lock:
            if alias is None:
                self._until.clear()
            else:
                self._until.pop(alias, None)

    def status(self, alias: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            entry = self._until.get(alias)
            if entry is None:
                return None
            left = entry[0] - self._clock()
            if left <= 0:
                del self._until[alias]
                return None
            return {"error_class": entry[1], "remaining_ms": round(left * 1000.0, 1)}

    def partition(self, aliases: Sequence[str]) -> Tuple[List[str], List[Tuple[str, Dict[str, Any]]]]:
        """(healthy in order, cooling in order with their status): cooling models go last, not away."""
        healthy, cooling = [], []
        for a in aliases:
            s = self.status(a)
            if s is None:
                healthy.append(a)
            else:
                cooling.append((a, s))
        return healthy, cooling

    def snapshot(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            names = list(self._until)
        return {a: s for a in names if (s := self.status(a))}


_cooldown_lock = threading.Lock()


def cooldown_for(runtime: Any) -> Cooldown:
    cd = runtime.__dict__.get("_cooldown")
    if cd is None:
        with _cooldown_lock:
            cd = runtime.__dict__.setdefault("_cooldown", Cooldown())
    return cd


# --- bounded calls ------------------------------------------------------------------------------------------------


class CallAbandoned(TimeoutError):
    """``run_bounded`` gave up waiting (distinct from a TimeoutError raised by the call itself)."""


def run_bounded(fn: Callable[[], Any], timeout_s: Optional[float], name: str = "bedrock-call") -> Any:
    """``fn()``, waited for at most ``timeout_s`` (None: inline, no thread). Raises ``CallAbandoned`` when late.

    botocore cannot cancel a call in flight, so a late call is abandoned in its daemon thread; it ends when
    the answer arrives or the model's read_timeout fires, and its result is discarded. The context is copied
    into the thread, so callbacks (usage, tracing) still see the call.
    """
    if timeout_s is None:
        return fn()
    if timeout_s <= 0:
        raise CallAbandoned("no time left")
    box: Dict[str, Any] = {}
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise CallAbandoned(f"no answer within {timeout_s * 1000:.0f} ms")
    if "error" in box:
        raise box["error"]
    return box["value"]


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

    def model(self, alias: str) -> Any:
        cfg = self.settings.model(alias)
        max_tokens = self.max_tokens or self.request.prompt.metadata.max_tokens
        return self.chain.runtime.factory.chat_model(
            alias,
            max_tokens=min(max_tokens, cfg.max_output_tokens) if max_tokens else None,
            temperature=self.request.options.temperature,
        )

    def skip(self, alias: str, error_class: str, message: str, **extra: Any) -> None:
        cfg = self.settings.model(alias)
        self.attempts.append(Attempt(cfg.model_id, alias, error_class, None, 0.0, message, True, extra).to_dict())

    def before_attempt(self, alias: str) -> Optional[float]:
        """Checks before a call; returns the time it may take in seconds (None: no deadline)."""
        cfg = self.settings.model(alias)
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
        seconds = self.rs.cooldown_s.get(err.error_class, 0)
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

    def fallback_chain(self, runnables: List[Any]) -> Any:
        """The attempts as one Runnable: langchain-core's ``with_fallbacks``, on the classes that fall over."""
        if len(runnables) == 1:
            return runnables[0]
        return runnables[0].with_fallbacks(runnables[1:], exceptions_to_handle=self.handled())

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

    def call(self, alias: str, messages: List[Any], config: RunnableConfig) -> CallOutcome:
        timeout_s = self.before_attempt(alias)
        cfg = self.settings.model(alias)
        model = self.model(alias)
        start = time.perf_counter()
        try:
            outcome = run_bounded(lambda: invoke_model(model, alias, cfg.model_id, messages, config), timeout_s)
        except CallAbandoned:
            raise self.timed_out(alias, (time.perf_counter() - start) * 1000.0) from None
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


def _start(chain: Any, request: Any, candidates: Sequence[str], max_tokens: Optional[int]) -> _Run:
    if not candidates:
        raise ValueError("call_with_fallbacks needs at least one candidate model")
    return _Run(chain, request, resilience_settings(chain.settings), cooldown_for(chain.runtime), max_tokens)


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
    run = _start(chain, request, candidates, max_tokens)
    order = run.ordered(candidates)
    run.require_time_for_first_attempt()
    runnables = [
        RunnableLambda(lambda msgs, config, _a=alias: run.call(_a, msgs, config), name=f"attempt:{alias}")
        for alias in order
    ]
    runnable = run.fallback_chain(runnables)
    try:
        outcome = runnable.invoke(messages, config)
    except run.handled():
        raise run.all_failed() from None
    except ModelCallError as err:
        raise run.not_fallen_over(err)
    return outcome, run.attempts


# --- streaming --------------------------------------------------------------------------------------------------

_END = object()


def _chunk_text(chunk: Any) -> str:
    from chains.calls import message_text

    return message_text(chunk)


class _StreamPump:
    """Reads a model stream in a worker thread so the consumer can wait with a deadline."""

    def __init__(self, iterator_factory: Callable[[], Iterator[Any]]) -> None:
        self._queue: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        self._stop = threading.Event()
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(target=lambda: ctx.run(self._pump, iterator_factory),
                                        name="bedrock-stream", daemon=True)
        self._thread.start()

    def _pump(self, factory: Callable[[], Iterator[Any]]) -> None:
        iterator = None
        try:
            iterator = factory()
            for item in iterator:
                if self._stop.is_set():
                    break
                self._queue.put(("item", item))
            self._queue.put(("end", None))
        except BaseException as exc:
            self._queue.put(("error", exc))
        finally:
            close = getattr(iterator, "close", None)
            if close and self._stop.is_set():
                try:
                    close()
                except Exception:  # closing an abandoned stream is best effort
                    pass

    def get(self, timeout_s: Optional[float]) -> Tuple[str, Any]:
        try:
            return self._queue.get(timeout=timeout_s) if timeout_s is not None else self._queue.get()
        except queue.Empty:
            self._stop.set()
            raise TimeoutError from None

    def stop(self) -> None:
        self._stop.set()


def _model_stream(run: _Run, alias: str, messages: List[Any], config: RunnableConfig) -> Iterator[Any]:
    """Yields ``{"text": delta}`` then ``{"done": CallOutcome}``; raises typed errors, recording them.

    Plain dicts on purpose: Runnable streaming adds chunks with ``+``, and dicts are not addable, so nothing
    accumulates a copy of the whole stream.
    """
    timeout_s = run.before_attempt(alias)
    cfg = run.settings.model(alias)
    model = run.model(alias)
    start = time.perf_counter()
    deadline = None if timeout_s is None else start + timeout_s
    if deadline is None:
        source: Any = iter(model.stream(messages, config=config))
        pump = None
    else:
        pump = _StreamPump(lambda: model.stream(messages, config=config))
        source = None
    full = None
    sent = 0

    def next_chunk() -> Any:
        if pump is None:
            return next(source, _END)
        try:
            kind, item = pump.get(max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            raise run.timed_out(alias, (time.perf_counter() - start) * 1000.0) from None
        if kind == "error":
            raise item
        return _END if kind == "end" else item

    try:
        while True:
            try:
                chunk = next_chunk()
            except DeadlineExceeded:
                raise
            except Exception as exc:
                err = run.failed(alias, to_model_error(exc, cfg.model_id), (time.perf_counter() - start) * 1000.0)
                if sent:  # too late to fall over: the caller has text from this model
                    raise StreamInterrupted(err, sent, attempts=run.attempts) from exc
                raise err from exc
            if chunk is _END:
                break
            full = chunk if full is None else full + chunk
            text = _chunk_text(chunk)
            if text:
                sent += len(text)
                yield {"text": text}
    finally:
        if pump is not None:
            pump.stop()
    if full is None:
        raise run.failed(alias, Unavailable("the stream ended without a message", code="EmptyStream",
                                            model=cfg.model_id), (time.perf_counter() - start) * 1000.0)
    outcome = _outcome(alias, cfg.model_id, full, start)
    if (outcome.stop_reason or "").lower() in _FILTERED_STOPS and not sent:
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
    run = _start(chain, request, candidates, max_tokens)
    order = run.ordered(candidates)

    def candidate(alias: str) -> RunnableLambda:
        def gen(msgs: List[Any], config: RunnableConfig) -> Iterator[Dict[str, Any]]:
            yield from _model_stream(run, alias, msgs, config)

        return RunnableLambda(gen, name=f"attempt:{alias}")

    run.require_time_for_first_attempt()
    runnable = run.fallback_chain([candidate(a) for a in order])
    try:
        for piece in runnable.stream(messages, config):
            if "text" in piece:
                yield {"output": piece["text"]}
            else:
                yield {"outcome": piece["done"], "attempts": run.attempts}
    except run.handled():
        raise run.all_failed() from None
    except StreamInterrupted:
        raise
    except ModelCallError as err:
        raise run.not_fallen_over(err)
