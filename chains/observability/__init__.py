"""Observability: set-up (``setup``), one request's scope (``scope``), EMF metrics (``metrics``), per model
call events (``call_observer``), log line formats (``log_format``) and redaction (``redaction``).

The process-wide set-up functions are re-exported here; nothing is configured at import.
"""

from chains.observability.setup import (
    LOGGER_NAME,
    ObservabilityConfig,
    configure_logging,
    force_local,
    load_observability,
    reset,
    setup,
)

__all__ = [
    "LOGGER_NAME", "ObservabilityConfig", "configure_logging", "force_local", "load_observability", "reset", "setup",
]
