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

import contextlib
import contextvars
import logging
import os
import re
import weakref
from collections.abc import Mapping as AbcMapping
from typing import Any, Iterable, Iterator, List, Mapping, Optional

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
# What every ``_KEYED`` match contains: a key name's last word at a word boundary, then ``:`` or ``=``. A cheap
# scan that lets text with keys only in other shapes ("input_tokens", "api key") skip the expensive one.
# Searched in the lower-cased text: without IGNORECASE the scan is ~6x cheaper.
_KEYED_HINT = re.compile(r"(?:secret|token|key|password|bedrock)\b[\"']?\s*[:=]")
_HINT_WORDS = ("secret", "token", "key", "password", "bedrock")

# The two fast-path checks above, without the regex engine: on a log line's or a response's text (~1,000
# characters) the searches cost ~35 us and ~17 us, at every start position; these cost a few us. Each answers
# exactly what its regex would (tests/unit/test_redaction_fast_paths.py checks them against the regexes).
# Base64-alphabet bytes -> "a", every other byte (other ASCII, each byte of a non-ASCII character) -> " ".
_B64_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=")
_B64_TABLE = bytes(0x61 if b in _B64_BYTES else 0x20 for b in range(256))
_RUN20 = b"a" * 20


def has_shape_run(text: str) -> bool:
    """``_SHAPE_RUN.search(text) is not None``: a run of at least 20 base64-alphabet characters."""
    return _RUN20 in text.encode("utf-8", "surrogatepass").translate(_B64_TABLE)


def has_keyed_hint(lowered: str) -> bool:
    """``_KEYED_HINT.search(lowered) is not None``: a key word at a word boundary, an optional quote,
    optional whitespace, then ``:`` or ``=``."""
    n = len(lowered)
    for word in _HINT_WORDS:
        start = lowered.find(word)
        while start != -1:
            j = start + len(word)
            if j == n:
                break
            c = lowered[j]
            if not (c.isalnum() or c == "_"):  # \b after the word's last (word) character
                if c == '"' or c == "'":
                    j += 1
                while j < n and lowered[j].isspace():
                    j += 1
                if j < n and (lowered[j] == ":" or lowered[j] == "="):
                    return True
            start = lowered.find(word, start + 1)
    return False


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


# os.environ's own storage, read without encoding each name on every call (this runs for every log line).
_ENVIRON_DATA = getattr(os.environ, "_data", None)
_SECRET_KEYS = [os.environ.encodekey(n) for n in SECRET_ENV] if hasattr(os.environ, "encodekey") else []


# (raw environment values, the secret values found in them): decoded and sorted again only when they change.
_last_secrets: tuple = ((), ())


def secret_values(env: Optional[Mapping[str, str]] = None) -> List[str]:
    """The secret values currently in the environment, longest first (so a value containing another wins)."""
    global _last_secrets
    if env is None and _ENVIRON_DATA is not None and _SECRET_KEYS:
        raw = tuple([_ENVIRON_DATA.get(key) for key in _SECRET_KEYS])
        last_raw, last_values = _last_secrets
        if raw == last_raw:  # the usual case: the environment has not changed since the last line
            return list(last_values)
        if not any(raw):
            found: List[str] = []
        else:
            values = {os.environ.decodevalue(v).strip() for v in raw if v}
            found = sorted((v for v in values if len(v) >= _MIN_VERBATIM), key=len, reverse=True)
        _last_secrets = (raw, tuple(found))
        return found
    else:
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
    if any(word in lowered for word in _KEY_WORDS) and has_keyed_hint(lowered):
        text = _KEYED.sub(lambda m: m.group("key") + MASK, text)
    for value in list(extra_values) + (secret_values() if values is None else values):
        if value and value in text:
            text = text.replace(value, MASK)
    if not has_shape_run(text):
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
    """Gather every string (keys too) of a plain JSON-like structure; False for anything else or too deep.

    Exact types first, and leaves (strings, numbers, None) handled in the loops without a call of their own:
    a response or log line has ~100 nodes, and a call per node cost more than the rest of the scan. (The
    ABC checks go through ``collections.abc``, not ``typing``, whose isinstance is ~10x slower.)"""
    if depth >= max_depth:
        return False
    kind = type(obj)
    if kind is str:
        out.append(obj)
        return True
    if kind in _SCALAR_TYPES or obj is None:
        return True
    depth += 1
    if kind is dict or (kind is not list and kind is not tuple and isinstance(obj, AbcMapping)):
        if depth >= max_depth and obj:
            return False
        for k, v in obj.items():
            kk = type(k)
            if kk is str:
                out.append(k)
            elif not (kk in _SCALAR_TYPES or k is None or isinstance(k, (int, float, bool))):
                return False
            vk = type(v)
            if vk is str:
                out.append(v)
            elif not (vk in _SCALAR_TYPES or v is None) and not _collect_strings(v, max_depth, depth, out):
                return False
        return True
    if kind is list or kind is tuple or isinstance(obj, (list, tuple)):
        if depth >= max_depth and obj:
            return False
        for v in obj:
            vk = type(v)
            if vk is str:
                out.append(v)
            elif not (vk in _SCALAR_TYPES or v is None) and not _collect_strings(v, max_depth, depth, out):
                return False
        return True
    if isinstance(obj, str):
        out.append(obj)
        return True
    return isinstance(obj, (int, float, bool))


_SCALAR_TYPES = frozenset({int, float, bool})


def _redact_obj(obj: Any, max_depth: int, depth: int, values: List[str]) -> Any:
    if depth >= max_depth:
        return TOO_DEEP
    if isinstance(obj, str):
        return redact(obj, values=values)
    if isinstance(obj, (int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, AbcMapping):
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
            extras = [key for key in vars(record) if key not in _RECORD_ATTRS]
            message = None if isinstance(record.msg, (dict, list)) else record.getMessage()
            if not self._clean(record, message, extras, values):
                if message is None:
                    record.msg = _redact_obj(record.msg, 50, 0, values)
                else:
                    message = redact(message, values=values)
                for key in extras:
                    setattr(record, key, _redact_obj(getattr(record, key), 50, 0, values))
            if message is not None:
                record.msg, record.args = message, ()
            if record.exc_info and record.exc_info[0] is not None:
                # Formatters use exc_text when it is set instead of formatting exc_info again.
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info), values=values)
            elif record.exc_text:
                record.exc_text = redact(record.exc_text, values=values)
            if record.stack_info:
                record.stack_info = redact(record.stack_info, values=values)
            if not record.exc_info and not record.exc_text and not record.stack_info:
                FILTERED.add(record)
        except Exception:  # a filter must never lose the line; the formatter masks again
            pass
        return True

    @staticmethod
    def _clean(record: logging.LogRecord, message: Optional[str], extras: List[str], values: List[str]) -> bool:
        """Whether nothing in the message and ``extra`` fields needs masking: one pass over all their strings
        joined (the cost of a line is then one scan of its text, not one per field). Fields the logging code
        passed through ``prescanned`` were masked already and are not scanned again."""
        strings: List[str] = []
        if message is None:
            if not _collect_strings(record.msg, 50, 0, strings):
                return False
        else:
            strings.append(message)
        skip = _PRESCANNED.get()
        for key in extras:
            value = getattr(record, key)
            if id(value) in skip:
                continue
            if not _collect_strings(value, 50, 0, strings):
                return False
        joined = "\x00".join(strings)
        return redact(joined, values=values) == joined


# ids of objects the code about to log has masked already (``prescanned``): valid while that block runs, since the
# caller holds the objects (an id is unique among objects alive at the same time).
_PRESCANNED: "contextvars.ContextVar[frozenset]" = contextvars.ContextVar("chains_prescanned", default=frozenset())


@contextlib.contextmanager
def prescanned(*objects: Any) -> Iterator[None]:
    """Log lines written in this block may carry ``objects`` as ``extra`` fields without ``RedactionFilter``
    scanning them again: for structures that are already the output of ``redact_obj`` (a response body's
    route and usage, on the request's result line). Only for that: anything else is scanned as always."""
    token = _PRESCANNED.set(frozenset(id(o) for o in objects))
    try:
        yield
    finally:
        _PRESCANNED.reset(token)


# Records this filter has masked completely (message, extras; no exception or stack text): a formatter may skip
# masking their finished line again. Weak, so a record is forgotten with the record.
FILTERED: "weakref.WeakSet[logging.LogRecord]" = weakref.WeakSet()


def needs_final_pass(record: logging.LogRecord) -> bool:
    """Whether a formatter must mask the finished line (the record bypassed ``RedactionFilter``, or carries
    exception / stack text that the formatter renders itself)."""
    return record not in FILTERED
