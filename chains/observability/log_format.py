"""How a log line looks: Powertools' JSON (Lambda) or one readable line (CLI, notebook); both redacted.

Both formatters are Powertools formatters, so ``append_keys`` (request id, chain, cold start, the Lambda
context) works the same in either, and both mask credentials in the finished line
(``chains.observability.redaction``) when the record did not pass ``RedactionFilter`` completely (exception
or stack text, or a record that bypassed the filter); appended keys are masked when appended.
Imported only when logging is configured: it imports Powertools.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict

from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter, _get_context

from chains.observability.redaction import needs_final_pass, redact

# Keys the text format shows in front (in this order) or leaves out; the rest follow as key=value.
_TEXT_FRONT = ("timestamp", "level")
_TEXT_SKIP = {
    "timestamp", "level", "message", "location", "service", "sampling_rate", "exception", "exception_name",
    "exception_notes", "stack_trace", "xray_trace_id", "function_name", "function_memory_size", "function_arn",
    "function_request_id",
}


def json_message(text: Any) -> Any:
    """Powertools' ``json_deserializer``: it tries every message as a JSON document (a message may be one).
    Ours are sentences, and a failed ``json.loads`` raises on every line (~10 us): only a text that can be a
    JSON object or array is parsed; anything else stays the text it is."""
    if isinstance(text, str) and text[:1] in ("{", "["):
        return json.loads(text)
    raise ValueError("not a JSON document")  # Powertools keeps the message as it is


_RESERVED = frozenset(RESERVED_LOG_ATTRS)


class RedactingJsonFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON line, with credentials masked in the serialized text (unless ``RedactionFilter``
    already masked every field of the record: then the line is not scanned twice)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_deserializer", json_message)
        super().__init__(**kwargs)

    def _extract_log_keys(self, log_record: Any) -> Dict[str, Any]:
        """Powertools' own ``_extract_log_keys`` (3.37), with its reserved names in a set instead of a tuple
        scanned once per record attribute (~20 us a line). tests/unit/test_log_format.py checks the result is
        the same as Powertools' for the lines we write."""
        record_dict = log_record.__dict__.copy()
        record_dict["asctime"] = self.formatTime(record=log_record)
        formatted: Dict[str, Any] = {}
        for source in (self.log_format, _get_context().get()):
            for key, value in source.items():
                if value and key in _RESERVED:
                    if not isinstance(value, str):
                        return super()._extract_log_keys(log_record)  # Powertools raises its own error
                    formatted[key] = value % record_dict
                else:
                    formatted[key] = value
        formatted.update({k: v for k, v in record_dict.items() if k not in _RESERVED})
        return formatted

    def format(self, record: Any) -> str:  # noqa: A003 - logging API
        line = super().format(record)
        return redact(line) if needs_final_pass(record) else line


class ReadableFormatter(LambdaPowertoolsFormatter):
    """``12:00:01.234 INFO  [qa req-1] model call claude_haiku ok  latency_ms=412.0 input_tokens=97 ...``"""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("datefmt", "%H:%M:%S.%F")
        kwargs.setdefault("serialize_stacktrace", False)
        super().__init__(**kwargs)

    def serialize(self, log: Dict[str, Any]) -> str:  # type: ignore[override]
        where = " ".join(str(log[k]) for k in ("chain", "request_id") if log.get(k))
        head = f"{log.get('timestamp', '')} {str(log.get('level', '')):<7}" + (f" [{where}]" if where else "")
        message = log.get("message")
        if not isinstance(message, str):
            message = json.dumps(message, default=str, ensure_ascii=False)
        fields = " ".join(
            f"{k}={_compact(v)}"
            for k, v in log.items()
            if k not in _TEXT_SKIP and k not in ("chain", "request_id") and v is not None
        )
        line = f"{head} {message}" + (f"  {fields}" if fields else "")
        if log.get("exception"):
            line += "\n" + str(log["exception"])
        return line

    def format(self, record: Any) -> str:  # noqa: A003 - logging API
        line = super().format(record)
        return redact(line) if needs_final_pass(record) else line


def _compact(value: Any) -> str:
    if isinstance(value, str):
        return value if value and " " not in value else json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))


class CurrentStream:
    """Writes to whatever ``sys.stdout``/``sys.stderr`` is at write time, not at set-up time.

    A handler bound to the stream object of set-up time would keep writing into a replaced stream
    (pytest's capture, a notebook's redirected output, the CLI's ``redirect_stdout``).
    """

    def __init__(self, name: str) -> None:
        if name not in ("stdout", "stderr"):
            raise ValueError(name)
        self.name = name

    def write(self, text: str) -> int:
        return getattr(sys, self.name).write(text)

    def flush(self) -> None:
        stream = getattr(sys, self.name)
        if hasattr(stream, "flush"):
            stream.flush()
