"""Per-model-call events from LangChain callbacks: one log line per attempt, per-model stats, X-Ray subsegments.

The handler adds a ``ModelCallObserver`` to the chain's ``config["callbacks"]``; LangChain hands it to every
chat model call beneath (routing classifier, fallbacks, compare fan-out, map steps, judge), so no strategy
module needs a log call of its own. Each attempt is logged once, when it ends, with its latency, tokens and
stop reason, or its error class and code from ``chains.errors.classify``. Prompt and answer text are
logged only when ``log_prompts`` is on (``LOG_PROMPTS=true``).

Callbacks must never break a request: LangChain logs and swallows a handler's exception
(``raise_error = False``), and each method here also guards its own work.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from chains.calls.call import bedrock_latency, message_text
from chains.errors import CLIENT_ERROR, THROTTLED, classify, error_message
from chains.observability.redaction import redact
from chains.usage import CACHE_READ, CACHE_WRITE, ModelEventsOnly, split_usage

log = logging.getLogger(__name__)

# Prompt/answer text in a log line is cut here (CloudWatch takes 256 KB per event).
MAX_LOGGED_TEXT = 16_000


@dataclass
class CallRecord:
    """One model call as the observer saw it."""

    attempt: int
    model: str
    alias: Optional[str]
    started: float
    latency_ms: Optional[float] = None
    ok: Optional[bool] = None
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: Optional[str] = None
    bedrock_latency_ms: Optional[float] = None
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    error_class: Optional[str] = None
    code: Optional[str] = None
    subsegment: Any = None
    extra: Dict[str, Any] = field(default_factory=dict)


class ModelCallObserver(ModelEventsOnly, BaseCallbackHandler):
    """Logs each model attempt and keeps per-model counts for the request's metrics.

    ``settings`` maps Bedrock model ids back to aliases; ``trace_parent`` is the X-Ray (sub)segment of the
    request, or None when tracing is off. ``ok_level`` is the level of a successful attempt's line: INFO for
    a notebook's observer; the handler's request scope uses DEBUG and puts ``summaries()`` in its one result
    line instead. Failed attempts are always WARNING.
    """

    raise_error = False

    def __init__(self, settings: Any = None, *, log_prompts: bool = False, trace_parent: Any = None,
                 chain: Optional[str] = None, ok_level: int = logging.INFO) -> None:
        self.settings = settings
        self.log_prompts = log_prompts
        self.trace_parent = trace_parent
        self.chain = chain
        self.ok_level = ok_level
        self.calls: List[CallRecord] = []
        self._open: Dict[UUID, CallRecord] = {}
        self._lock = threading.Lock()

    # --- LangChain callbacks ---------------------------------------------------------------------------------
    def on_chat_model_start(self, serialized: Dict[str, Any], messages: List[List[Any]], *, run_id: UUID,
                            parent_run_id: Optional[UUID] = None, tags: Optional[List[str]] = None,
                            metadata: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        try:
            model = _model_id(serialized, metadata)
            alias = self._alias(model)
            with self._lock:
                record = CallRecord(attempt=len(self.calls) + 1, model=model, alias=alias, started=time.perf_counter())
                self.calls.append(record)
                self._open[run_id] = record
            record.subsegment = self._begin_subsegment(record)
            if not log.isEnabledFor(logging.DEBUG):
                return  # the start line is DEBUG: do not build it for nothing
            fields: Dict[str, Any] = {
                "event": "model_call_start", "model": model, "alias": alias, "attempt": record.attempt,
                "messages": sum(len(batch) for batch in messages),
                "input_chars": sum(len(message_text(m)) for batch in messages for m in batch),
            }
            if tags:
                fields["tags"] = list(tags)
            if self.log_prompts:
                fields["prompt"] = clip("\n".join(f"{getattr(m, 'type', 'message')}: {message_text(m)}"
                                                   for batch in messages for m in batch))
            log.debug("model call %s starts", alias or model, extra=fields)
        except Exception:  # pragma: no cover - observability must not break the call
            log.debug("model call observer failed on start", exc_info=True)

    def on_llm_end(self, response: Any, *, run_id: UUID, parent_run_id: Optional[UUID] = None, **kwargs: Any) -> None:
        try:
            record = self._close(run_id)
            if record is None:
                return
            message = _first_message(response)
            usage = split_usage(getattr(message, "usage_metadata", None) or {})  # input: the uncached part
            meta = getattr(message, "response_metadata", None) or {}
            record.ok = True
            record.input_tokens = usage["input_tokens"]
            record.output_tokens = usage["output_tokens"]
            record.cache_read_input_tokens, record.cache_write_input_tokens = usage[CACHE_READ], usage[CACHE_WRITE]
            record.stop_reason = meta.get("stopReason") or meta.get("stop_reason")
            record.bedrock_latency_ms = bedrock_latency(meta)
            if record.subsegment is None and not log.isEnabledFor(self.ok_level):
                return  # no line and no subsegment: do not build them for nothing
            fields: Dict[str, Any] = {
                "event": "model_call", "model": record.model, "alias": record.alias, "attempt": record.attempt,
                "ok": True, "latency_ms": record.latency_ms, "bedrock_latency_ms": record.bedrock_latency_ms,
                "input_tokens": record.input_tokens, "output_tokens": record.output_tokens,
                CACHE_READ: usage[CACHE_READ], CACHE_WRITE: usage[CACHE_WRITE],
                "stop_reason": record.stop_reason, "output_chars": len(message_text(message)) if message is not None else 0,
            }
            if self.log_prompts and message is not None:
                fields["output"] = clip(message_text(message))
            self._end_subsegment(record, fields)
            log.log(self.ok_level, "model call %s ok", record.alias or record.model, extra=fields)
        except Exception:  # pragma: no cover
            log.debug("model call observer failed on end", exc_info=True)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, parent_run_id: Optional[UUID] = None,
                     **kwargs: Any) -> None:
        try:
            record = self._close(run_id)
            if record is None:
                return
            record.ok = False
            record.error_class, record.code = classify(error)
            fields = {
                "event": "model_call_error", "model": record.model, "alias": record.alias,
                "attempt": record.attempt, "ok": False, "latency_ms": record.latency_ms,
                "error_class": record.error_class, "code": record.code,
                "error": clip(redact(error_message(error)), 2000),
            }
            self._end_subsegment(record, fields)
            log.warning("model call %s failed: %s", record.alias or record.model, record.error_class, extra=fields)
        except Exception:  # pragma: no cover
            log.debug("model call observer failed on error", exc_info=True)

    # --- for the request's metrics -----------------------------------------------------------------------------
    def per_model(self) -> Dict[str, Dict[str, Any]]:
        """``{model_id: {calls, errors, throttles, latency_ms: [...]}}`` over the finished calls."""
        out: Dict[str, Dict[str, Any]] = {}
        with self._lock:
            calls = list(self.calls)
        for c in calls:
            if c.ok is None:
                continue
            entry = out.setdefault(c.model, {"alias": c.alias, "calls": 0, "errors": 0, "throttles": 0, "latency_ms": []})
            entry["calls"] += 1
            if not c.ok:
                entry["errors"] += 1
                entry["throttles"] += c.error_class == THROTTLED
            if c.latency_ms is not None:
                entry["latency_ms"].append(c.latency_ms)
        return out

    def summaries(self) -> List[Dict[str, Any]]:
        """One small dict per finished attempt, in order (what each attempt's own line would say, without
        text): for the request's result or error line."""
        with self._lock:
            calls = list(self.calls)
        out = []
        for c in calls:
            if c.ok is None:
                continue
            entry: Dict[str, Any] = {"model": c.model, "alias": c.alias, "attempt": c.attempt, "ok": c.ok,
                                     "latency_ms": c.latency_ms}
            if c.ok:
                entry.update(bedrock_latency_ms=c.bedrock_latency_ms, input_tokens=c.input_tokens,
                             output_tokens=c.output_tokens, stop_reason=c.stop_reason)
                if c.cache_read_input_tokens or c.cache_write_input_tokens:  # prompt caching (chains.caching)
                    entry.update({CACHE_READ: c.cache_read_input_tokens, CACHE_WRITE: c.cache_write_input_tokens})
            else:
                entry.update(error_class=c.error_class, code=c.code)
            out.append(entry)
        return out

    # --- internals -----------------------------------------------------------------------------------------------
    def _alias(self, model_id: str) -> Optional[str]:
        finder = getattr(self.settings, "alias_for_model_id", None)
        return finder(model_id) if callable(finder) else None

    def _close(self, run_id: UUID) -> Optional[CallRecord]:
        with self._lock:
            record = self._open.pop(run_id, None)
        if record is not None:
            record.latency_ms = round((time.perf_counter() - record.started) * 1000.0, 1)
        return record

    def _begin_subsegment(self, record: CallRecord) -> Any:
        """A subsegment under the request's, created explicitly so it works from any thread."""
        parent = self.trace_parent
        if parent is None:
            return None
        try:
            from aws_xray_sdk.core.models.subsegment import Subsegment

            segment = getattr(parent, "parent_segment", parent)
            sub = Subsegment(f"## model {record.alias or record.model}"[:200], "remote", segment)
            parent.add_subsegment(sub)
            sub.put_annotation("model", record.model)
            if record.alias:
                sub.put_annotation("alias", record.alias)
            if self.chain:
                sub.put_annotation("chain", self.chain)
            sub.put_annotation("attempt", record.attempt)
            return sub
        except Exception:  # a dummy (unsampled) parent or no SDK: no subsegment
            return None

    def _end_subsegment(self, record: CallRecord, fields: Dict[str, Any]) -> None:
        sub = record.subsegment
        if sub is None:
            return
        try:
            sub.put_annotation("ok", bool(record.ok))
            if record.ok:
                sub.put_metadata("usage", {"input_tokens": record.input_tokens, "output_tokens": record.output_tokens},
                                 "bedrock_chains")
                if record.stop_reason:
                    sub.put_annotation("stop_reason", record.stop_reason)
            else:
                sub.put_annotation("error_class", record.error_class or "unknown")
                if record.code:
                    sub.put_annotation("error_code", record.code)
                # The error's own text (already redacted) as metadata: never the raw exception, whose message
                # could carry credentials.
                sub.put_metadata("error", fields.get("error", ""), "bedrock_chains")
                if record.error_class == THROTTLED:
                    sub.add_throttle_flag()
                    sub.add_error_flag()
                elif record.error_class == CLIENT_ERROR:
                    sub.add_error_flag()
                else:
                    sub.add_fault_flag()
            sub.close()
        except Exception:  # pragma: no cover
            log.debug("could not close the model call subsegment", exc_info=True)


def _model_id(serialized: Optional[Dict[str, Any]], metadata: Optional[Dict[str, Any]]) -> str:
    model = (metadata or {}).get("ls_model_name")
    if not model and serialized:
        kwargs = serialized.get("kwargs") or {}
        model = kwargs.get("model_id") or kwargs.get("model")
    return str(model or "unknown")


def _first_message(response: Any) -> Any:
    try:
        generation = response.generations[0][0]
    except (AttributeError, IndexError, TypeError):
        return None
    return getattr(generation, "message", None)


def clip(text: str, limit: int = MAX_LOGGED_TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"
