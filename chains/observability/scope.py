"""One request as observability sees it: keys on every line, the events, metrics, the X-Ray subsegment.

Lines (logger ``chains.observability.scope``, field ``event``). At INFO a request is one line at its end:
``result`` (status, model, latency, usage, cost, the route decision, each model call, and what came in:
fields and sizes, never text unless LOG_PROMPTS) or ``error`` (the same, with the error); ``fallback``
(WARNING: tries that failed before the answer) and failed model attempts (WARNING, ``model_call_error``)
come as they happen. At DEBUG there is also the ``request`` line when the request arrives and a
``model_call`` line per successful attempt. Model attempts are observed by the ``ModelCallObserver`` this
scope adds to the chain's callbacks. All of it comes from the response's ``route`` and ``attempts``: the
strategies need no log calls. (One line instead of four per request: each line costs ~60 us of formatting,
redaction scanning and writing on the hot path.)
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Dict, List, Mapping, Optional

import chains.deadline as deadline
from chains.calls.bounded import CallAbandoned, run_bounded
from chains.config import section
from chains.echo import bounded
from chains.errors import ConfigError
from chains.observability.call_observer import ModelCallObserver, clip
from chains.observability.metrics import emit_metrics
from chains.observability.redaction import prescanned, redact_obj
from chains.observability.setup import Observability, ObservabilityConfig, setup, take_cold_start

log = logging.getLogger(__name__)

_TRACING_ENV = ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING")
# The longest the tracing flush may take when the request has no deadline (the CLI, direct calls).
FLUSH_LIMIT_S = 5.0


class RequestScope:
    def __init__(self, obs: Any, request_id: str, context: Any, settings: Any, *, cold_start: bool,
                 config_error: Optional[Exception] = None) -> None:
        self.obs = obs
        self.request_id = request_id
        self.settings = settings
        self.cold_start = cold_start
        self.config_error = config_error
        self.chain: Optional[str] = None
        self.started = time.perf_counter()
        # The request's deadline once the service knows it (Lambda's and options.timeout_ms, the earlier):
        # the tracing flush at the end gets what is left of it.
        self.deadline_at: Optional[float] = None
        self._keys: Dict[str, Any] = {}
        # Put on the lines together with the chain name, by the request line (one append instead of two),
        # or by ``ensure_keys`` before any line logged earlier (a bad event's error, a bug's traceback).
        self._pending_keys: Optional[Dict[str, Any]] = dict(request_id=request_id, cold_start=cold_start,
                                                            **_lambda_keys(context))
        self.tracer = obs.tracer_or_none()
        self.subsegment = None
        if self.tracer is not None:
            try:
                self.subsegment = self.tracer.provider.begin_subsegment("## bedrock_chains.handle")
                if self.subsegment is not None:
                    self.subsegment.put_annotation("ColdStart", cold_start)
                    self.subsegment.put_annotation("Service", obs.service)
                    self.subsegment.put_annotation("request_id", request_id)
            except Exception:  # pragma: no cover - tracing must never fail a request
                self.subsegment = None
        # Successful attempts are summarised in the result line (``model_calls``); their own line is DEBUG.
        self.observer = ModelCallObserver(settings, log_prompts=obs.log_prompts, trace_parent=self.subsegment,
                                          ok_level=logging.DEBUG)
        # What came in (fields and sizes), carried by the request's last line.
        self._request_fields: Dict[str, Any] = {}

    # --- during the request ----------------------------------------------------------------------------------
    @property
    def callbacks(self) -> List[Any]:
        return [self.observer]

    def set_chain(self, name: str) -> None:
        """Call once the chain exists (a name that is not configured never becomes a metric dimension)."""
        self.chain = name
        self.observer.chain = name
        if self.subsegment is not None:
            try:
                self.subsegment.put_annotation("chain", name)
            except Exception:  # pragma: no cover
                pass

    def log_request(self, chain: str, inputs: Mapping[str, Any], options: Optional[Mapping[str, Any]],
                    source: str) -> None:
        try:
            self._log_request(chain, inputs, options, source)
        except Exception:  # pragma: no cover - a log line must never fail the request
            log.debug("could not log the request", exc_info=True)

    def _log_request(self, chain: str, inputs: Mapping[str, Any], options: Optional[Mapping[str, Any]],
                     source: str) -> None:
        # The requested name goes on every line from here on (a name that is not configured is still worth
        # seeing in the logs); it becomes a metric dimension only through set_chain.
        pending, self._pending_keys = self._pending_keys, None
        self._add_keys(**(pending or {}), chain=chain)
        # Inputs and options are the caller's: anything JSON allows, however deep (the chain will refuse it).
        fields: Dict[str, Any] = {
            "source": source, "requested_chain": chain,
            "input_fields": bounded(sorted(str(k) for k in inputs)),
            "input_chars": sum(len(v) for v in inputs.values() if isinstance(v, str)),
        }
        if options:
            fields["options"] = redact_obj(bounded(dict(options)), max_depth=5)
        if self.obs.log_prompts:
            fields["input"] = {clip(k): clip(v) if isinstance(v, str) else redact_obj(bounded(v), max_depth=5)
                               for k, v in list(inputs.items())[:20]}
        self._request_fields = fields
        if log.isEnabledFor(logging.DEBUG):
            log.debug("request for chain %s", chain, extra={"event": "request", **fields})

    # --- the end -------------------------------------------------------------------------------------------------
    def finish(self, status: int, body: Dict[str, Any]) -> Dict[str, Any]:
        """Log the outcome, emit metrics, close the trace; returns the body with credentials masked."""
        body = redact_obj(body)
        if not isinstance(body, dict):  # pragma: no cover - redact_obj keeps a dict a dict
            body = {"ok": False, "error": {"type": "InternalError", "message": "internal error", "status": 500}}
        try:
            self.ensure_keys()
            if body.get("ok"):
                self._log_success(body)
            else:
                self._log_failure(status, body)
            emit_metrics(self.obs, self._metric_blobs(status, body))
        except Exception:  # observability must not turn an answer into an error
            log.debug("observability failed at the end of the request", exc_info=True)
        finally:
            self._end_trace(status, body)
            self._flush_langsmith()
            self._remove_keys()
        return body

    # --- the keys on every line ------------------------------------------------------------------------------
    def ensure_keys(self) -> None:
        """The request's keys on every line from now on (the request line adds them otherwise)."""
        pending, self._pending_keys = self._pending_keys, None
        if pending:
            self._add_keys(**pending)

    def _add_keys(self, **keys: Any) -> None:
        """Per request: in this thread's context (concurrent requests in one process keep theirs; LangChain's
        executors copy the context into worker threads) and process-wide (for threads that do not copy it;
        on Lambda one request runs at a time)."""
        keys = redact_obj(keys)  # masked once here: the formatters do not scan a filtered line again
        self._keys.update(keys)
        logger = self.obs.logger
        if logger is not None:
            formatter = logger.registered_formatter  # what Logger's methods delegate to, looked up once
            formatter.thread_safe_append_keys(**keys)
            formatter.append_keys(**keys)

    def _remove_keys(self) -> None:
        logger = self.obs.logger
        if logger is None:
            return
        formatter = logger.registered_formatter
        formatter.thread_safe_remove_keys(list(self._keys))
        if formatter.get_current_keys().get("request_id") == self.request_id:  # not a newer request's
            formatter.remove_keys(list(self._keys))

    def _log_success(self, body: Dict[str, Any]) -> None:
        route = body.get("route") or {}
        attempts = body.get("attempts") or []
        if attempts:
            log.warning(
                "fallback: %s answered after %d failed or skipped attempt(s)", route.get("model") or body.get("model"),
                len(attempts),
                extra={"event": "fallback", "answered_by": body.get("model"), "attempts": attempts},
            )
        output = body.get("output")
        fields: Dict[str, Any] = {
            "event": "result", "status": 200, "model": body.get("model"), "latency_ms": body.get("latency_ms"),
            "usage": body.get("usage"), "cost_usd": body.get("cost_usd"), "attempts": len(attempts),
            "stop_reason": body.get("stop_reason"),
            "output_chars": len(output) if isinstance(output, str) else None,
            # Signal names, not the text they matched, unless prompts may be logged (LOG_PROMPTS).
            "route": route if self.obs.log_prompts else route_without_text(route),
            "model_calls": self.observer.summaries(), **self._request_fields,
        }
        saved = sum(float(u.get("cache_saved_usd", 0.0)) for u in (body.get("usage_by_model") or {}).values())
        if saved:  # prompt caching (chains.caching): what it saved on this request
            fields["cache_saved_usd"] = round(saved, 8)
        if self.obs.log_prompts:
            fields["output"] = clip(output if isinstance(output, str) else str(output))
        # The body was masked by ``finish``: its parts on this line are not scanned again (the rest is).
        with prescanned(fields["model"], fields["usage"], fields["route"], self._request_fields.get("options")):
            log.info("result: 200 from %s in %s ms", route.get("model") or body.get("model"), body.get("latency_ms"),
                     extra=fields)

    def _log_failure(self, status: int, body: Dict[str, Any]) -> None:
        error = body.get("error") or {}
        fields = {
            "event": "error", "status": status, "error_type": error.get("type"),
            "error_class": error.get("error_class"), "code": error.get("code"),
            "error": clip(str(error.get("message", "")), 2000),
            "attempts": error.get("attempts") or body.get("attempts") or [],
            "usage": error.get("usage"), "cost_usd": error.get("cost_usd"),
            "latency_ms": error.get("latency_ms") or body.get("latency_ms") or _ms_since(self.started),
            "model_calls": self.observer.summaries(), **self._request_fields,
        }
        level = logging.ERROR if status >= 500 else logging.WARNING
        log.log(level, "request failed: %s %s", status, error.get("type"), extra=fields)

    def _metric_blobs(self, status: int, body: Dict[str, Any]) -> List[Dict[str, Any]]:
        ok = bool(body.get("ok"))
        error = body.get("error") or {}
        chain = self.chain or "unknown"
        answered = body.get("model") if ok and body.get("model") else "none"
        usage_by_model = body.get("usage_by_model") or error.get("usage_by_model") or {}
        calls = self.observer.per_model()
        models = list(dict.fromkeys([*usage_by_model, *calls, answered]))
        meta = {"request_id": self.request_id, "status": status}
        if not ok:
            meta["error_type"] = error.get("type")
        blobs = []
        for model in models:
            metrics: Dict[str, Any] = {}
            usage = usage_by_model.get(model)
            if usage:
                metrics["InputTokens"] = ("Count", int(usage.get("input_tokens", 0)))
                metrics["OutputTokens"] = ("Count", int(usage.get("output_tokens", 0)))
                metrics["CostUSD"] = ("None", float(usage.get("cost_usd", 0.0)))
                if usage.get("cache_read_input_tokens") or usage.get("cache_write_input_tokens"):
                    # Prompt caching (chains.caching): tokens read / written and the dollars it saved.
                    metrics["CacheReadInputTokens"] = ("Count", int(usage.get("cache_read_input_tokens", 0)))
                    metrics["CacheWriteInputTokens"] = ("Count", int(usage.get("cache_write_input_tokens", 0)))
                    metrics["CacheSavedUSD"] = ("None", float(usage.get("cache_saved_usd", 0.0)))
            stats = calls.get(model)
            if stats:
                metrics["ModelCalls"] = ("Count", stats["calls"])
                metrics["ModelErrors"] = ("Count", stats["errors"])
                metrics["ModelThrottles"] = ("Count", stats["throttles"])
                if stats["latency_ms"]:
                    metrics["ModelLatency"] = ("Milliseconds", stats["latency_ms"])
            if model == answered:
                latency = body.get("latency_ms") or error.get("latency_ms") or _ms_since(self.started)
                metrics["Requests"] = ("Count", 1)
                metrics["Latency"] = ("Milliseconds", float(latency))
                metrics["Errors"] = ("Count", 0 if ok else 1)
                metrics["Fallbacks"] = ("Count", len(body.get("attempts") or []) if ok else 0)
                if self.cold_start:
                    metrics["ColdStart"] = ("Count", 1)
            if metrics:
                blobs.append({"dimensions": {"chain": chain, "model": model},
                              "dimension_sets": [{"chain": chain}], "metrics": metrics, "metadata": meta})
        return blobs

    def _end_trace(self, status: int, body: Dict[str, Any]) -> None:
        if self.subsegment is None:
            return
        try:
            self.subsegment.put_annotation("status", status)
            if body.get("model"):
                self.subsegment.put_annotation("model", body["model"])
            if not body.get("ok"):
                self.subsegment.put_annotation("error_type", (body.get("error") or {}).get("type", ""))
                (self.subsegment.add_fault_flag if status >= 500 else self.subsegment.add_error_flag)()
            self.tracer.provider.end_subsegment()
        except Exception:  # pragma: no cover
            log.debug("could not end the request subsegment", exc_info=True)

    def _flush_langsmith(self) -> None:
        # LangSmith sends runs from a background thread; Lambda freezes the process after the response. The
        # flush gets what is left of the request's deadline (chains.deadline; FLUSH_LIMIT_S without one): an
        # endpoint that is down or never answers must not hold the answer. Runs not sent by then are left to
        # the background thread, and a line says so.
        if not any(os.environ.get(name, "").strip().lower() in ("1", "true") for name in _TRACING_ENV):
            return
        left = deadline.remaining_s(self.deadline_at) if self.deadline_at is not None else deadline.remaining_s()
        bound = FLUSH_LIMIT_S if left is None else min(left, FLUSH_LIMIT_S)
        try:
            from langchain_core.tracers.langchain import wait_for_all_tracers

            run_bounded(wait_for_all_tracers, bound, name="langsmith-flush")
        except CallAbandoned:
            log.warning("LangSmith flush bounded by the request's deadline: not finished within %.0f ms; "
                        "unsent runs are left to the background thread", bound * 1000.0,
                        extra={"event": "tracing_flush", "bound_ms": round(bound * 1000.0, 1), "flushed": False})
        except Exception:  # pragma: no cover
            log.debug("could not flush LangSmith traces", exc_info=True)


def route_without_text(route: Mapping[str, Any]) -> Dict[str, Any]:
    """The route as the log line carries it without LOG_PROMPTS: the signals by name only ("code", not the
    words of the question that matched it), and a reason made of those names (the response keeps the full
    reason: it is the caller's own text)."""
    out = {k: v for k, v in route.items() if k not in ("reason", "signals")}
    names = [str(sig).split(" (", 1)[0] for sig in route.get("signals") or []]
    out["signals"] = names
    reason = f"{route.get('difficulty', '?')} request"
    if names:
        reason += f" (signals: {', '.join(names)})"
    if route.get("domain") and route.get("domain") != "general":
        reason += f"; domain {route['domain']}"
    out["reason"] = f"{route.get('mode', 'rules')} mode: {reason}"
    return out


def _lambda_keys(context: Any) -> Dict[str, Any]:
    """Powertools' Lambda context keys, when the context is a Lambda one."""
    if context is None or not getattr(context, "function_name", None):
        return {}
    try:
        return {
            "function_name": context.function_name,
            "function_memory_size": context.memory_limit_in_mb,
            "function_arn": context.invoked_function_arn,
            "function_request_id": context.aws_request_id,
        }
    except AttributeError:
        return {}


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)


def start_request(request_id: str, context: Any = None, runtime: Any = None) -> "RequestScope":
    """The service's entry: set-up for this runtime's configuration, then a scope for one request.

    ``runtime`` None: no configuration could be loaded (the service reports that error itself).

    Never raises: a broken configuration leaves default observability in place and is reported as the
    request's ``ConfigError`` by the handler (``scope.config_error``).
    """
    settings, config_error = (runtime.settings if runtime is not None else None), None
    try:
        try:
            obs = setup(section(settings, "observability", ObservabilityConfig) if settings is not None else {})
        except ConfigError as exc:
            config_error = exc
            obs = setup({})
    except Exception:  # Powertools itself failed: serve the request without it
        log.debug("observability set-up failed", exc_info=True)
        obs = Observability(ObservabilityConfig(), "local")
    return RequestScope(obs, request_id, context, settings, cold_start=take_cold_start(os.environ),
                        config_error=config_error)
