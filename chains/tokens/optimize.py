"""Input optimisation: fewer tokens for the same content, before any model sees it.

Two lossless-in-practice rewrites of long text inputs (documents, context), on by default:
  * whitespace normalisation: CRLF to LF, exotic spaces to plain ones, zero-width characters dropped,
    trailing spaces stripped, runs of spaces/tabs inside a line collapsed (leading indentation is kept,
    so code stays readable), at most one blank line in a row;
  * duplicate-line removal: a line (of at least ``min_line_chars``) that already appeared earlier is
    dropped: page headers and footers of converted PDFs, repeated log lines, pasted boilerplate.
Only inputs of at least ``tokens.optimize.min_tokens`` estimated tokens are touched. ``options.optimize``
(true/false) beats ``tokens.optimize.enabled``. The saving is reported in the response as
``optimization: {tokens_before, tokens_after, saved_tokens, fields, duplicate_lines_removed}``.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Tuple

from chains.tokens.settings import OptimizeConfig, tokens_config
from chains.tokens.estimator import estimate_text

_EXOTIC_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_INNER_RUNS = re.compile(r"(?<=\S)[ \t]{2,}")
_BLANK_RUNS = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", _EXOTIC_SPACES.sub(" ", text))
    lines = [_INNER_RUNS.sub(" ", line.rstrip()) for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")


def remove_duplicate_lines(text: str, min_line_chars: int = 16) -> Tuple[str, int]:
    """Drop lines already seen earlier (compared without surrounding whitespace); returns (text, removed)."""
    seen = set()
    kept = []
    removed = 0
    for line in text.split("\n"):
        key = line.strip()
        if len(key) >= min_line_chars:
            if key in seen:
                removed += 1
                continue
            seen.add(key)
        kept.append(line)
    out = "\n".join(kept)
    if removed:
        out = _BLANK_RUNS.sub("\n\n", out)
    return out, removed


def optimize_text(text: str, cfg: OptimizeConfig) -> Tuple[str, int]:
    """The optimised text and how many duplicate lines were removed."""
    removed = 0
    if cfg.normalize_whitespace:
        text = normalize_whitespace(text)
    if cfg.dedupe_lines:
        text, removed = remove_duplicate_lines(text, cfg.min_line_chars)
    return text, removed


def enabled(settings: Any, options: Any) -> bool:
    flag = getattr(options, "optimize", None)
    return tokens_config(settings).optimize.enabled if flag is None else bool(flag)


def optimize_inputs(
    settings: Any, inputs: Dict[str, Any], options: Any = None
) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """``(inputs, report)``: long string inputs optimised; ``report`` is None when nothing was long enough
    (or optimisation is off), so short requests carry no extra key."""
    if not enabled(settings, options):
        return inputs, None
    cfg = tokens_config(settings).optimize
    out = dict(inputs)
    before = after = removed = 0
    fields = []
    for name, value in inputs.items():
        if not isinstance(value, str):
            continue
        tokens = estimate_text(value)
        if tokens < cfg.min_tokens:
            continue
        new, dropped = optimize_text(value, cfg)
        out[name] = new
        fields.append(name)
        before += tokens
        after += estimate_text(new)
        removed += dropped
    if not fields:
        return inputs, None
    report = {
        "tokens_before": before,
        "tokens_after": after,
        "saved_tokens": before - after,
        "fields": fields,
        "duplicate_lines_removed": removed,
    }
    return out, report


def optimize_request(settings: Any, request: Any) -> Any:
    """Optimise a ``ChainRequest`` in place (its inputs) and record the report on it; returns it."""
    request.inputs, request.optimization = optimize_inputs(settings, request.inputs, request.options)
    return request
