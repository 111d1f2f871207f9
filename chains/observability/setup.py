"""Logs, metrics and traces for the service: Powertools Logger (JSON), Metrics (CloudWatch EMF), Tracer (X-Ray).

Who does what:
- Library modules log with ``logging.getLogger(__name__)`` (all under the ``chains`` logger) and
  ``extra={...}``. Nothing is configured at import; ``setup()`` (called by the service, or by you via
  ``configure_logging()``) puts Powertools' handler on the ``chains`` logger, so the whole hierarchy comes out
  as JSON lines (Lambda) or readable lines on stderr (CLI, notebook), credentials masked
  (``chains.observability.redaction``).
- ``RequestScope`` (``chains.observability.scope``, one per request) stamps every line with ``request_id``, ``chain`` and
  ``cold_start`` (and the Lambda context), adds a ``ModelCallObserver`` callback to the chain's config (one
  line and one X-Ray subsegment per model attempt), logs the request, route, fallbacks and result from
  the response, and emits one EMF blob per model involved.

Powertools, and the X-Ray SDK even more so, are imported on first use, never at import: ``import handler``
stays as cheap as before, and with tracing off ``aws_xray_sdk`` is never imported (benchmarks/import_cost.py).

The ``observability:`` section of config.yaml is validated by ``ObservabilityConfig`` below.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Dict, List, Literal, Mapping, Optional, Union

from pydantic import Field

from chains.config import StrictModel, validate_section
from chains.observability.redaction import RedactionFilter

# The root of every library logger: each module logs through ``logging.getLogger(__name__)``.
LOGGER_NAME = "chains"
log = logging.getLogger(__name__)

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = ("1", "true", "yes", "on")


# --- configuration ---------------------------------------------------------------------------------------------


class MetricsConfig(StrictModel):
    # auto: on in Lambda, off for local runs (CLI, notebook, tests). POWERTOOLS_METRICS_DISABLED=true wins.
    enabled: Union[Literal["auto"], bool] = "auto"
    namespace: str = Field(default="BedrockChains", min_length=1, max_length=255)


class TracingConfig(StrictModel):
    # X-Ray through Powertools Tracer. Needs aws-xray-sdk; Powertools keeps it off outside Lambda.
    enabled: bool = False
    # Modules the X-Ray SDK patches (botocore: a subsegment per AWS API call); [] patches nothing.
    patch_modules: List[str] = Field(default_factory=lambda: ["botocore"])


class ObservabilityConfig(StrictModel):
    service: str = Field(default="bedrock-chains", min_length=1)
    # Default INFO in Lambda, WARNING locally; LOG_LEVEL (or POWERTOOLS_LOG_LEVEL) beats this.
    log_level: Optional[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]] = None
    # auto: JSON in Lambda, one readable line per event locally.
    log_format: Literal["auto", "json", "text"] = "auto"
    # Prompt and answer text in logs; LOG_PROMPTS=true/false beats this.
    log_prompts: bool = False
    metrics: MetricsConfig = MetricsConfig()
    tracing: TracingConfig = TracingConfig()


def load_observability(section: Optional[Mapping[str, Any]]) -> ObservabilityConfig:
    """Validate an ``observability:`` section given as a mapping; ``ConfigError`` names the bad key. (A whole
    configuration's section is read with ``chains.config.section(settings, "observability", ...)``.)"""
    return validate_section(ObservabilityConfig, dict(section or {}), "observability")


def in_lambda(env: Optional[Mapping[str, str]] = None) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def _truthy(value: Optional[str]) -> Optional[bool]:
    if value is None or value.strip() == "":
        return None
    return value.strip().lower() in _TRUE


# --- the process-wide set-up -------------------------------------------------------------------------------------


class Observability:
    """Resolved settings (file, then environment) and the installed Powertools objects."""

    def __init__(self, cfg: ObservabilityConfig, mode: str, env: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if env is None else env
        self.cfg = cfg
        self.mode = mode  # "lambda" or "local"
        self.service = env.get("POWERTOOLS_SERVICE_NAME") or cfg.service
        self.level, self.level_problem = _resolve_level(cfg, mode, env)
        self.log_format = cfg.log_format if cfg.log_format != "auto" else ("json" if mode == "lambda" else "text")
        prompts = _truthy(env.get("LOG_PROMPTS"))
        self.log_prompts = cfg.log_prompts if prompts is None else prompts
        metrics_on = cfg.metrics.enabled if cfg.metrics.enabled != "auto" else mode == "lambda"
        self.metrics_enabled = bool(metrics_on) and not _truthy(env.get("POWERTOOLS_METRICS_DISABLED"))
        self.namespace = env.get("POWERTOOLS_METRICS_NAMESPACE") or cfg.metrics.namespace
        self.tracing_enabled = cfg.tracing.enabled and not _truthy(env.get("POWERTOOLS_TRACE_DISABLED"))
        # Lambda's log and EMF destination is stdout; locally stdout belongs to the CLI's JSON.
        self.stream = "stdout" if mode == "lambda" else "stderr"
        self.logger: Any = None
        self.tracer: Any = None
        self._handler: Optional[logging.Handler] = None
        self._suppress: List[Any] = []

    def key(self) -> tuple:
        return (self.cfg.model_dump_json(), self.mode, self.service, self.level, self.log_format, self.log_prompts,
                self.metrics_enabled, self.namespace, self.tracing_enabled)

    # logging -------------------------------------------------------------------------------------------------
    def install(self) -> None:
        from aws_lambda_powertools.logging import Logger

        from chains.observability.log_format import CurrentStream, ReadableFormatter, RedactingJsonFormatter

        target = logging.getLogger(LOGGER_NAME)
        _forget_powertools_state(target)
        handler = logging.StreamHandler(CurrentStream(self.stream))
        handler.addFilter(RedactionFilter())
        handler._bedrock_chains = True  # type: ignore[attr-defined] - ours, to remove on reconfiguration
        formatter = RedactingJsonFormatter() if self.log_format == "json" else ReadableFormatter()
        root_handlers = list(logging.root.handlers)
        before = {id(h): list(h.filters) for h in root_handlers}
        # service=LOGGER_NAME makes Powertools' logger *the* ``bedrock_chains`` logger, parent of every
        # library logger; the ``service`` key of the lines is set below.
        self.logger = Logger(service=LOGGER_NAME, level=self.level, logger_handler=handler,
                             logger_formatter=formatter)
        self.logger.append_keys(service=self.service)
        self._handler = handler
        # Powertools adds a filter to the root handlers so our lines are not printed twice; remember them.
        for h in root_handlers:
            self._suppress += [(h, f) for f in h.filters if f not in before.get(id(h), [])]
        if self.level_problem:
            log.warning(self.level_problem, extra={"event": "config"})

    def uninstall(self) -> None:
        target = logging.getLogger(LOGGER_NAME)
        if self._handler is not None:
            target.removeHandler(self._handler)
        for h, f in self._suppress:
            h.removeFilter(f)
        self._suppress = []
        _forget_powertools_state(target)
        target.setLevel(logging.NOTSET)
        self._handler = None
        from aws_lambda_powertools.logging.formatter import clear_context_keys

        clear_context_keys()  # this thread's per-request keys

    # tracing -------------------------------------------------------------------------------------------------
    def tracer_or_none(self) -> Any:
        """The Powertools Tracer when tracing is enabled and active (in Lambda), else None."""
        if not self.tracing_enabled:
            return None
        if self.tracer is None:
            try:
                from aws_lambda_powertools import Tracer

                modules = self.cfg.tracing.patch_modules
                self.tracer = Tracer(service=self.service, auto_patch=bool(modules), patch_modules=modules or None)
            except Exception as exc:  # aws-xray-sdk missing: keep serving, say why once
                log.warning("X-Ray tracing is enabled but unavailable: %s", exc, extra={"event": "config"})
                self.tracing_enabled = False
                return None
        return None if self.tracer.disabled else self.tracer


def _resolve_level(cfg: ObservabilityConfig, mode: str, env: Mapping[str, str]) -> tuple:
    given = env.get("POWERTOOLS_LOG_LEVEL") or env.get("LOG_LEVEL")
    default = cfg.log_level or ("INFO" if mode == "lambda" else "WARNING")
    if given is None or given.strip() == "":
        return default, None
    if given.strip().upper() in _LEVELS:
        return given.strip().upper(), None
    return default, f"LOG_LEVEL={given[:40]!r} is not a level ({', '.join(_LEVELS)}); using {default}"


def _forget_powertools_state(target: logging.Logger) -> None:
    """Let Powertools configure ``bedrock_chains`` again (it marks a configured logger and reuses it)."""
    for h in list(target.handlers):
        if getattr(h, "_bedrock_chains", False):
            target.removeHandler(h)
    for attr in ("init", "powertools_handler", "powertools_buffer_config", "powertools_buffer_cache"):
        target.__dict__.pop(attr, None)


_lock = threading.RLock()
_current: Optional[Observability] = None
_forced_mode: Optional[str] = None
_cold_start = True


# Everything Observability reads from the environment; with the section and the mode, it decides the set-up.
_SETUP_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "POWERTOOLS_SERVICE_NAME", "LOG_PROMPTS", "POWERTOOLS_METRICS_DISABLED",
              "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_LOG_LEVEL", "LOG_LEVEL")
_last_inputs: Optional[tuple] = None
# os.environ's own storage, read without encoding every name on every request.
_ENVIRON_DATA = getattr(os.environ, "_data", None)
_SETUP_KEYS = [os.environ.encodekey(k) for k in _SETUP_ENV] if hasattr(os.environ, "encodekey") else []


def _setup_env(env: Optional[Mapping[str, str]]) -> tuple:
    if env is None and _ENVIRON_DATA is not None and _SETUP_KEYS:
        return tuple(_ENVIRON_DATA.get(k) for k in _SETUP_KEYS)
    source = os.environ if env is None else env
    return tuple(source.get(k) for k in _SETUP_ENV)


def setup(section: Optional[Mapping[str, Any]] = None, mode: Optional[str] = None,
          env: Optional[Mapping[str, str]] = None) -> Observability:
    """Install (or keep) the process's observability for this configuration section. Idempotent."""
    global _current, _last_inputs
    # Per-request fast path: the same section object, mode and environment as last time keep the current
    # set-up without validating the section again (the handler calls this on every request).
    inputs = (id(section), _section_stamp(section), mode, _forced_mode, _setup_env(env))
    with _lock:
        if _current is not None and inputs == _last_inputs:
            return _current
    result = _setup(section, mode, env)
    with _lock:
        _last_inputs = inputs
    return result


def _section_stamp(section: Any) -> Any:
    # Guards the identity check against a section dict edited in place (a notebook tweaking settings); a
    # validated section (chains.config.section) is cached per section object, so its identity is enough.
    return repr(section) if isinstance(section, Mapping) else None


def _setup(section: Optional[Mapping[str, Any]], mode: Optional[str],
           env: Optional[Mapping[str, str]]) -> Observability:
    global _current
    cfg = section if isinstance(section, ObservabilityConfig) else load_observability(section)
    mode = mode or _forced_mode or ("lambda" if in_lambda(env) else "local")
    wanted = Observability(cfg, mode, env)
    with _lock:
        if _current is not None and _current.key() == wanted.key():
            return _current
        previous_tracer = _current.tracer if _current is not None else None
        if _current is not None:
            _current.uninstall()
        wanted.tracer = previous_tracer if wanted.tracing_enabled else None
        wanted.install()
        _current = wanted
        return wanted


def configure_logging(level: Optional[str] = None, *, format: str = "text", log_prompts: bool = False) -> Observability:
    """For notebooks and scripts: show the library's log lines on stderr (nothing is configured otherwise).

    Add ``ModelCallObserver`` to a chain's callbacks for one line per model call::

        from chains.observability.setup import configure_logging
        from chains.observability.call_observer import ModelCallObserver
        configure_logging("INFO")
        qa.invoke({...}, config={"callbacks": [ModelCallObserver(runtime.settings)]})
    """
    section: Dict[str, Any] = {"log_format": format, "log_prompts": log_prompts}
    if level:
        section["log_level"] = level.upper()
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL")} if level else None
    return setup(section, mode="local", env=env)


def force_local() -> None:
    """The CLI: logs and metrics go to stderr even where AWS_LAMBDA_FUNCTION_NAME is set."""
    global _forced_mode
    _forced_mode = "local"


def reset() -> None:
    """Remove what ``setup`` installed and forget the cold start (tests; a notebook that wants silence)."""
    global _current, _forced_mode, _cold_start, _last_inputs
    with _lock:
        if _current is not None:
            _current.uninstall()
        _current = None
        _last_inputs = None
        _forced_mode = None
        _cold_start = True


def take_cold_start(env: Mapping[str, str]) -> bool:
    global _cold_start
    with _lock:
        cold, _cold_start = _cold_start, False
    # Provisioned concurrency initialises ahead of traffic: its first request is not a cold start.
    return cold and env.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "provisioned-concurrency"


__all__ = [
    "ObservabilityConfig",
    "configure_logging",
    "force_local",
    "load_observability",
    "reset",
    "setup",
]
