"""Generate a value that validates against a JSON schema (tool inputs, structured output).

Values come from the user's text where it plausibly supplies them (numbers in order
for numeric fields, quoted strings in order for string fields), otherwise from the
schema itself (enum, const, default, format, bounds).  Deterministic: no randomness.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?!\w|\.\d)")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)|「([^」]+)」")
_FORMATS = {
    "date": "2024-01-01", "date-time": "2024-01-01T00:00:00Z", "time": "00:00:00",
    "email": "user@example.com", "uri": "https://example.com", "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000", "ipv4": "127.0.0.1", "hostname": "example.com",
}
_MAX_DEPTH = 8


class Hints:
    """Values offered by the conversation, consumed in order."""

    def __init__(self, text: str):
        self.text = text
        self.numbers = [m.group(0) for m in _NUMBER.finditer(text)]
        self.strings = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]

    def number(self) -> str | None:
        return self.numbers.pop(0) if self.numbers else None

    def string(self) -> str | None:
        return self.strings.pop(0) if self.strings else None


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < _MAX_DEPTH:
        ref = schema["$ref"]
        node: Any = root
        for part in ref.lstrip("#/").split("/") if ref.startswith("#") else []:
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **rest}
        seen += 1
    if "allOf" in schema:
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = list(merged.get("required", [])) + list(part.get("required", []))
            for k, v in part.items():
                merged.setdefault(k, v)
        schema = merged
    return schema


def _type_of(schema: Mapping[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if t:
        return t
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _integer(schema: Mapping[str, Any], hint: str | None) -> int:
    lo = schema.get("minimum", schema.get("exclusiveMinimum", None))
    hi = schema.get("maximum", schema.get("exclusiveMaximum", None))
    value = int(float(hint)) if hint is not None else 1
    if lo is not None and value < lo + ("exclusiveMinimum" in schema):
        value = int(lo) + (1 if "exclusiveMinimum" in schema else 0)
    if hi is not None and value > hi - ("exclusiveMaximum" in schema):
        value = int(hi) - (1 if "exclusiveMaximum" in schema else 0)
    step = schema.get("multipleOf")
    if isinstance(step, int) and step > 0 and value % step:
        value = (value // step + 1) * step
    return value


def _number(schema: Mapping[str, Any], hint: str | None) -> float | int:
    if hint is None or "." not in hint:
        return _integer(schema, hint)
    value = float(hint)
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and value < lo:
        value = float(lo)
    if hi is not None and value > hi:
        value = float(hi)
    return value


def _string(schema: Mapping[str, Any], name: str, hints: Hints) -> str:
    if schema.get("format") in _FORMATS:
        return _FORMATS[schema["format"]]
    value = hints.string()
    if value is None:
        subject = hints.text.strip().splitlines()[-1] if hints.text.strip() else ""
        value = f"{name or 'value'} for: {subject[:60]}" if subject else f"example {name or 'value'}"
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    if len(value) < lo:
        value = value + "x" * (lo - len(value))
    if hi is not None:
        value = value[:hi]
    return value


def generate(schema: Mapping[str, Any], hints: Hints, root: Mapping[str, Any] | None = None,
             name: str = "", depth: int = 0) -> Any:
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [_resolve(o, root) for o in schema[key]]
            chosen = next((o for o in options if _type_of(o) != "null"), options[0])
            return generate(chosen, hints, root, name, depth)
    kind = _type_of(schema)
    if kind == "object":
        if depth >= _MAX_DEPTH:
            return {}
        props = schema.get("properties") or {}
        return {key: generate(props.get(key, {}), hints, root, key, depth + 1)
                for key in schema.get("required") or [] }
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        if schema.get("maxItems") is not None:
            count = min(count, int(schema["maxItems"]))
        items = schema.get("items") or {}
        if depth >= _MAX_DEPTH:
            return []
        out = [generate(items, hints, root, name, depth + 1) for _ in range(count)]
        if schema.get("uniqueItems") and len(out) > 1 and isinstance(out[0], int):
            out = [out[0] + i for i in range(count)]
        return out
    if kind == "integer":
        return _integer(schema, hints.number())
    if kind == "number":
        return _number(schema, hints.number())
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, name, hints)
