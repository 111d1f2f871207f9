"""Masking AWS credentials out of text: log lines, error messages, responses, trace metadata.

Two nets, because either alone leaks:

1. The actual secret values present in the environment right now (``AWS_SECRET_ACCESS_KEY``,
   ``AWS_SESSION_TOKEN``, ...), replaced wherever they occur, whatever their shape.
2. Shapes: access key ids (``AKIA``/``ASIA``... + 16), Bedrock API keys (``ABSK...``), values after a
   credential-like key (``aws_secret_access_key=...``, ``"SessionToken": "..."``, ``X-Amz-Security-Token``),
   40-character secret-key-like tokens and long base64 runs (session tokens are several hundred characters).

Only ``re`` and ``os`` are imported: this module is on every request path and costs nothing at import.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Iterable, List, Mapping, Optional

MASK = "[REDACTED]"

# Environment variables whose values are secrets. Their values are masked verbatim.
SECRET_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
)
# Values shorter than this are not masked verbatim (a 3-letter "secret" would mask every occurrence of a word).
_MIN_VERBATIM = 8

_B64 = r"A-Za-z0-9/+="

_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AIDA|AROA|ABIA|ACCA|AGPA|ANPA|ANVA|APKA|AIPA)[A-Z0-9]{16}(?![A-Z0-9])")
_BEDROCK_API_KEY = re.compile(r"(?<![A-Za-z0-9])ABSK[A-Za-z0-9+/=]{20,}")
# key = value, key: value, "key": "value" for credential-like keys (the value is masked, the key kept).
_KEYED = re.compile(
    r"(?i)(?P<key>(?<![A-Za-z0-9])(?:aws_?secret_?access_?key|secret_?access_?key|aws_?session_?token|session_?token"
    r"|aws_?security_?token|security_?token|x-amz-security-token|bearer_?token(?:_bedrock)?|api_?key"
    r"|secret|password)\b[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\s\"',;}\]\[][^\s\"',;}\]]*)"
)
_AUTH_SIGNATURE = re.compile(r"(?i)(Signature=)[0-9a-f]{64}")
# A bare 40-character token from the base64 alphabet with mixed case and digits: a secret access key.
_SECRET_LIKE = re.compile(rf"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{{40}}(?![{_B64}])")  # "key=<secret>" counts
# A long base64 run: a session token (hundreds of characters) or a signed blob.
_LONG_B64 = re.compile(rf"(?<![{_B64}])[{_B64}]{{100,}}")
# Fast paths (redact runs on every string of every response): each shape above needs a run of at least
# 20 base64-alphabet characters, and each keyed form one of these words. Text with neither skips them.
_SHAPE_RUN = re.compile(rf"[{_B64}]{{20,}}")
_KEY_WORDS = ("secret", "token", "key", "password")


def _mixed(token: str) -> bool:
    """Random-looking: upper and lower case, and digits (two, or one next to a ``/`` or ``+``).

    Words, identifiers and paths rarely are; a random 40-character key misses this about 1 time in 100,
    and the verbatim environment values cover the key that is actually in use.
    """
    digits = sum(c.isdigit() for c in token)
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and (digits >= 2 or (digits >= 1 and ("/" in token or "+" in token)))
    )


def secret_values(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The secret values currently in the environment, longest first (so a value containing another wins)."""
    env = os.environ if env is None else env
    values = {env.get(name, "").strip() for name in SECRET_ENV}
    return sorted((v for v in values if len(v) >= _MIN_VERBATIM), key=len, reverse=True)


def redact(text: str, extra_values: Iterable[str] = (), *, values: Optional[List[str]] = None) -> str:
    """``text`` with every credential masked. Never raises; non-strings are returned unchanged.

    ``values``: the environment's secret values when the caller already read them (``redact_obj`` reads
    them once for a whole structure instead of once per string).
    """
    if not isinstance(text, str) or len(text) < 8:  # shorter than any shape or verbatim value masked here
        return text
    lowered = text.lower()
    if any(word in lowered for word in _KEY_WORDS):
        text = _KEYED.sub(lambda m: m.group("key") + MASK, text)
    for value in list(extra_values) + (secret_values() if values is None else values):
        if value and value in text:
            text = text.replace(value, MASK)
    if _SHAPE_RUN.search(text) is None:
        return text
    text = _KEY_ID.sub(MASK, text)
    text = _BEDROCK_API_KEY.sub(MASK, text)
    text = _AUTH_SIGNATURE.sub(lambda m: m.group(1) + MASK, text)
    text = _SECRET_LIKE.sub(lambda m: MASK if _mixed(m.group(0)) else m.group(0), text)
    text = _LONG_B64.sub(lambda m: MASK if _mixed(m.group(0)) else m.group(0), text)
    return text


TOO_DEEP = "[nested too deep]"


def redact_obj(obj: Any, max_depth: int = 50) -> Any:
    """A copy of a JSON-like structure with every string (keys too) passed through ``redact``.

    Nesting below ``max_depth`` is replaced by a placeholder (a hostile 5,000-level list must not take the
    request down with a RecursionError, nor reach a log line). Never raises.
    """
    values = secret_values()
    strings: List[str] = []
    if _collect_strings(obj, max_depth, 0, strings):
        # Fast path for the common case (nothing to mask): one pass over all the strings joined by NUL, which
        # is in none of the patterns' character classes, so it bounds a match exactly as a string's ends do.
        # Unchanged joined text means no string would change, and the structure is returned as it is.
        joined = "\x00".join(strings)
        if redact(joined, values=values) == joined:
            return obj
    return _redact_obj(obj, max_depth, 0, values)


def _collect_strings(obj: Any, max_depth: int, depth: int, out: List[str]) -> bool:
    """Gather every string (keys too) of a plain JSON-like structure; False for anything else or too deep."""
    if depth >= max_depth:
        return False
    if isinstance(obj, str):
        out.append(obj)
        return True
    if isinstance(obj, (int, float, bool)) or obj is None:
        return True
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str) and not (isinstance(k, (int, float, bool)) or k is None):
                return False
            if isinstance(k, str):
                out.append(k)
            if not _collect_strings(v, max_depth, depth + 1, out):
                return False
        return True
    if isinstance(obj, (list, tuple)):
        return all(_collect_strings(v, max_depth, depth + 1, out) for v in obj)
    return False


def _redact_obj(obj: Any, max_depth: int, depth: int, values: List[str]) -> Any:
    if depth >= max_depth:
        return TOO_DEEP
    if isinstance(obj, str):
        return redact(obj, values=values)
    if isinstance(obj, (int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, Mapping):
        return {(redact(k, values=values) if isinstance(k, str) else k): _redact_obj(v, max_depth, depth + 1, values)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact_obj(v, max_depth, depth + 1, values) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_redact_obj(v, max_depth, depth + 1, values) for v in obj)
    try:
        return redact(str(obj), values=values)  # anything else as its (masked) text: an exception, a UUID
    except Exception:
        return f"[{type(obj).__name__}]"


# Attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


class RedactionFilter(logging.Filter):
    """Masks credentials in a record in place (message, arguments, ``extra`` fields, exception text).

    Attach it to a handler (handler filters see records from child loggers too). Because it rewrites the
    record itself, every handler that sees the record after this one (pytest's caplog, the root handler of
    the CLI) gets the masked text as well. The formatters in ``chains.observability`` also mask the final
    line, so a record that bypassed this filter is still safe there.
    """

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        try:
            values = secret_values()
            if isinstance(record.msg, (dict, list)):
                record.msg = _redact_obj(record.msg, 50, 0, values)
                record.args = ()
            else:
                message = record.getMessage()
                record.msg, record.args = redact(message, values=values), ()
            for key, value in list(vars(record).items()):
                if key not in _RECORD_ATTRS:
                    setattr(record, key, _redact_obj(value, 50, 0, values))
            if record.exc_info and record.exc_info[0] is not None:
                # Formatters use exc_text when it is set instead of formatting exc_info again.
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info), values=values)
            elif record.exc_text:
                record.exc_text = redact(record.exc_text, values=values)
            if record.stack_info:
                record.stack_info = redact(record.stack_info, values=values)
        except Exception:  # a filter must never lose the line; the formatter masks again
            pass
        return True
