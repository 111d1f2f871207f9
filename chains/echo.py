"""THE limit on what is echoed back: any value a response body or a log field repeats from the caller (a field
name, an option, a model alias, a list of them) goes through ``clip``, so a 5 MB name costs a few hundred
bytes in the answer and the log, never 5 MB (nor the CPU to redact and serialise it).
"""

from __future__ import annotations

from typing import Any

ECHO_CHARS = 200


def clip(value: Any, limit: int = ECHO_CHARS) -> str:
    """``value`` as text, cut to ``limit`` characters with a note of the full size when longer."""
    text = value if isinstance(value, str) else _text(value, limit)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} chars)"


def clip_list(values: Any, limit: int = ECHO_CHARS, items: int = 20) -> str:
    """A list echoed as ``a, b, c``: each item clipped, at most ``items`` of them, the total clipped too."""
    values = list(values)
    shown = [clip(v, limit) for v in values[:items]]
    if len(values) > items:
        shown.append(f"… ({len(values):,} in all)")
    return clip(", ".join(shown), limit * 4)


def _text(value: Any, limit: int) -> str:
    try:
        text = str(value)
    except Exception:  # a value whose __str__ fails is still echoed as something
        text = type(value).__name__
    return text


def bounded(value: Any, limit: int = ECHO_CHARS, items: int = 20, depth: int = 4) -> Any:
    """A JSON-like ``value`` cut down for a log field: strings (keys too) clipped, at most ``items`` entries per
    list or object (a note says how many there were), nothing deeper than ``depth``."""
    if isinstance(value, str):
        return clip(value, limit)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth <= 0:
        return f"<{type(value).__name__}>"
    if isinstance(value, dict):
        out = {clip(k, limit): bounded(v, limit, items, depth - 1) for k, v in list(value.items())[:items]}
        if len(value) > items:
            out["…"] = f"{len(value):,} keys in all"
        return out
    if isinstance(value, (list, tuple)):
        out_list = [bounded(v, limit, items, depth - 1) for v in list(value[:items])]
        if len(value) > items:
            out_list.append(f"… {len(value):,} items in all")
        return out_list
    return clip(value, limit)
