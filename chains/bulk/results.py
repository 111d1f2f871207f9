"""One result line per record, in the on-demand response shape (output, model, route, attempts, stop_reason,
usage, usage_by_model, cost_usd, latency_ms), plus ``record_id``, ``ok``, ``on_demand_cost_usd`` and ``bulk``
(index, mode, job, reason). A failed record has ``ok: false`` and ``error`` with the same types and statuses as
an on-demand failure (``chains.errors``)."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import chains.bulk._deps as _deps
from chains.bulk.converse import parse_output
from chains.bulk.terms import Terms

USAGE_KEYS = ("input_tokens", "output_tokens", "total_tokens")


def error_dict(err: Any) -> Dict[str, Any]:
    if isinstance(err, _deps.ChainsError):
        return {**err.to_dict(), "status": err.status}
    return {"type": "InternalError", "message": "internal error while running this record", "status": 500}


def failed(record_id: str, bulk: Dict[str, Any], err: Any, route: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    out: Dict[str, Any] = {"record_id": record_id, "ok": False, "error": error_dict(err)}
    if route is not None:
        out["route"] = route
    out["bulk"] = bulk
    return out


def from_batch(record_id: str, line: Mapping[str, Any], terms: Terms, route: Optional[Dict[str, Any]],
               bulk: Dict[str, Any]) -> Dict[str, Any]:
    """A batch output line (``modelOutput`` or ``error``) as a result."""
    model_id = terms.model_id
    route = {**(route or {}), "answered_by": terms.alias}
    if line.get("error") is not None or not isinstance(line.get("modelOutput"), Mapping):
        err = _deps.batch_record_error(line.get("error") or {"errorCode": 500,
                                                             "errorMessage": "no modelOutput in the output line"},
                                       model_id)
        return failed(record_id, bulk, err, route)
    try:
        message = parse_output(line["modelOutput"])
    except (KeyError, TypeError, ValueError) as exc:
        err = _deps.to_model_error(ValueError(f"no 'output' key found in the response: {str(exc)[:100]}"), model_id)
        return failed(record_id, bulk, err, route)
    text = _deps.message_text(message)
    if not text.strip() and not getattr(message, "tool_calls", None):
        return failed(record_id, bulk, _deps.Unavailable("the model returned an empty answer", code="EmptyAnswer",
                                                   model=model_id), route)
    u = getattr(message, "usage_metadata", None) or {}
    usage = {k: int(u.get(k, 0) or 0) for k in USAGE_KEYS}
    cost = terms.batch_cost(usage["input_tokens"], usage["output_tokens"])
    od_cost = terms.on_demand_cost(usage["input_tokens"], usage["output_tokens"])
    meta = getattr(message, "response_metadata", None) or {}
    latency = (meta.get("metrics") or {}).get("latencyMs")
    if isinstance(latency, list):
        latency = latency[0] if latency else None
    result: Dict[str, Any] = {
        "record_id": record_id, "ok": True, "output": text, "model": model_id, "route": route, "attempts": [],
        "stop_reason": meta.get("stopReason"), "usage": usage,
        "usage_by_model": {model_id: {**usage, "cost_usd": round(cost, 8), "alias": terms.alias}},
        "cost_usd": round(cost, 8), "on_demand_cost_usd": round(od_cost, 8),
        "latency_ms": latency, "bulk": bulk,
    }
    if getattr(message, "tool_calls", None):
        result["tool_calls"] = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
    return result


def from_on_demand(record_id: str, value: Any, bulk: Dict[str, Any]) -> Dict[str, Any]:
    """A chain's on-demand result (or the exception it raised) as a result line."""
    if isinstance(value, BaseException):
        route = value.details.get("route") if isinstance(value, _deps.ChainsError) else None
        return failed(record_id, bulk, value, route)
    result = {"record_id": record_id, "ok": True, **value}
    result["on_demand_cost_usd"] = result.get("cost_usd", 0.0)
    result["bulk"] = bulk
    return result


class Totals:
    """The run's summary, added up while results stream by."""

    def __init__(self) -> None:
        self.records = self.answered = self.failed = 0
        self.usage = {k: 0 for k in USAGE_KEYS}
        self.cost = self.od_cost = 0.0
        self.by_mode: Dict[str, int] = {}
        self.errors: Dict[str, int] = {}

    def add(self, result: Mapping[str, Any]) -> None:
        self.records += 1
        mode = (result.get("bulk") or {}).get("mode", "?")
        self.by_mode[mode] = self.by_mode.get(mode, 0) + 1
        if result.get("ok"):
            self.answered += 1
        else:
            self.failed += 1
            kind = (result.get("error") or {}).get("type", "?")
            self.errors[kind] = self.errors.get(kind, 0) + 1
        for k in USAGE_KEYS:
            self.usage[k] += int((result.get("usage") or {}).get(k, 0) or 0)
        self.cost += float(result.get("cost_usd") or 0.0)
        self.od_cost += float(result.get("on_demand_cost_usd") or 0.0)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "records": self.records, "answered": self.answered, "failed": self.failed, "usage": dict(self.usage),
            "cost_usd": round(self.cost, 6), "on_demand_cost_usd": round(self.od_cost, 6),
            "cost_ratio": round(self.cost / self.od_cost, 4) if self.od_cost else None,
            "by_mode": dict(self.by_mode), "errors": dict(self.errors),
        }
