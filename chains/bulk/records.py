"""Input records and result lines (JSON Lines).

A record line is the chain's input as an event's ``input``, with an optional ``record_id`` (default: its line
number, from 1) and optional ``options``:

    {"record_id": "t-1", "input": {"question": "..."}, "options": {"max_tokens": 200}}

A line that is not such an object is not dropped: it becomes a record whose result is a typed 400, so every
line of the input appears exactly once in the output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Union

from chains.bulk._deps import BadRequest

RECORD_KEYS = ("record_id", "input", "options")
ECHO = 200


@dataclass
class Record:
    index: int  # position in the run, from 0
    record_id: str
    input: Dict[str, Any] = field(default_factory=dict)
    options: Optional[Dict[str, Any]] = None
    problem: Optional[BadRequest] = None  # the line itself is unusable

    def payload(self, run_options: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The chain's input: variables plus options (the run's options, then the record's own on top)."""
        payload = dict(self.input)
        options = {**(run_options or {}), **(self.options or {})}
        if options:
            payload["options"] = options
        return payload

    def to_line(self) -> Dict[str, Any]:
        line: Dict[str, Any] = {"record_id": self.record_id, "input": self.input}
        if self.options:
            line["options"] = self.options
        return line


def _echo(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= ECHO else text[:ECHO] + "…"


def parse_record(raw: Any, index: int) -> Record:
    """One record from a parsed JSON value (or a JSON text line); never raises for bad content."""
    default_id = str(index + 1)
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return Record(index, default_id, problem=BadRequest(
                f"record line {index + 1} is not valid JSON: {_echo(str(exc))}", field="record"))
    if not isinstance(raw, Mapping):
        return Record(index, default_id, problem=BadRequest(
            f"record {index + 1} must be a JSON object with input (and optional record_id, options), got "
            f"{type(raw).__name__}", field="record"))
    unknown = sorted(set(raw) - set(RECORD_KEYS))
    rid = raw.get("record_id")
    record_id = default_id if rid is None else str(rid)[:256]
    if unknown:
        return Record(index, record_id, problem=BadRequest(
            f"record {_echo(record_id)}: unknown key(s) {_echo(', '.join(unknown))} (a record takes: "
            f"{', '.join(RECORD_KEYS)})", field="record"))
    if not isinstance(raw.get("input"), Mapping):
        return Record(index, record_id, problem=BadRequest(
            f"record {_echo(record_id)}: 'input' must be an object (the chain's input variables)", field="input"))
    options = raw.get("options")
    if options is not None and not isinstance(options, Mapping):
        return Record(index, record_id, problem=BadRequest(
            f"record {_echo(record_id)}: 'options' must be an object", field="options"))
    return Record(index, record_id, dict(raw["input"]), dict(options) if options else None)


def read_records(source: Union[str, Iterable[Any]]) -> Iterator[Record]:
    """Records from a JSONL path, an iterable of lines, or an iterable of dicts (blank lines skipped)."""
    if isinstance(source, str):
        with open(source, encoding="utf-8") as fh:
            yield from read_records(fh)
        return
    index = 0
    for item in source:
        if isinstance(item, (str, bytes)) and not item.strip():
            continue
        yield parse_record(item, index)
        index += 1


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def load_records(store: Any, wanted: "set") -> Dict[int, Record]:
    """The records at the ``wanted`` positions of a run's ``records.jsonl`` (``store``: a RunStore), streamed."""
    found: Dict[int, Record] = {}
    if not wanted:
        return found
    for n, line in enumerate(store.iter_lines("records.jsonl")):
        if n in wanted:
            found[n] = parse_record(line, n)
            if len(found) == len(wanted):
                break
    return found
