"""Bulk runs as Lambda events (what the Step Functions state machine and a direct invoke send):

    {"bulk": "submit", "chain": "qa", "records_s3": "s3://b/in.jsonl" | "records": [...], "s3": "s3://b/bulk",
     "options": {...}, "max_cost_usd": 5, "role_arn": "arn:..."}          -> {"ok", "run", plan ...}
    {"bulk": "status", "run": "s3://b/bulk/RUN"}                          -> {"ok", "state", jobs ...}
    {"bulk": "collect", "run": "s3://b/bulk/RUN"}                         -> {"ok", "complete", "records", ...}
    {"bulk": "retry_failed", "run": ...} / {"bulk": "cancel", "run": ...}

A ``request`` object (the state machine's execution input) is merged under the event's own keys. Results stay
in S3 (``RUN/results/``); the response is the summary. Errors raise the typed ChainsError the handler answers.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping

import chains.bulk._deps as _deps

BULK_ACTIONS = ("submit", "status", "collect", "retry_failed", "cancel")
_KEYS = {
    "submit": {"chain", "records", "records_s3", "s3", "options", "max_cost_usd", "role_arn"},
    "status": {"run"}, "collect": {"run"}, "retry_failed": {"run"}, "cancel": {"run"},
}


def is_bulk_event(event: Any) -> bool:
    return isinstance(event, Mapping) and "bulk" in event


def _records_from_s3(runtime: Any, uri: str) -> Iterator[bytes]:
    from chains.bulk.store import RunStore, s3_client, split_s3

    bucket, key = split_s3(uri, "records_s3")
    store = RunStore(s3_client(runtime), bucket, "")
    try:
        yield from store.iter_lines(key, absolute=True)
    except _deps.ChainsError:
        raise
    except Exception as exc:
        code = (getattr(exc, "response", {}) or {}).get("Error", {}).get("Code", type(exc).__name__)
        raise _deps.BadRequest(f"cannot read records_s3 {uri[:200]!r}: {code}", field="records_s3") from None


# Kept back from a Lambda's remaining time when collecting: writing one more part's results must still fit.
COLLECT_RESERVE_S = 60.0


def handle_bulk(event: Mapping[str, Any], runtime: Any = None, remaining_ms: Any = None) -> Dict[str, Any]:
    """Run one bulk event. ``remaining_ms`` (the Lambda context's): a ``collect`` stops starting new parts when
    the rest would not fit, answering ``complete: false`` (the state machine calls it again)."""
    from chains.bulk.collect import collect_all, retry_failed
    from chains.bulk.status import status
    from chains.bulk.submit import submit
    from chains.bulk.cancel import cancel

    event = {**(event.get("request") or {}), **{k: v for k, v in event.items() if k != "request"}}
    action = event.get("bulk")
    if action not in BULK_ACTIONS:
        raise _deps.BadRequest(f"unknown bulk action {str(action)[:80]!r}; bulk actions: {', '.join(BULK_ACTIONS)}",
                               field="bulk", available=list(BULK_ACTIONS))
    unknown = sorted(set(event) - _KEYS[action] - {"bulk"})
    if unknown:
        raise _deps.BadRequest(f"bulk {action}: unknown field(s) {', '.join(unknown)[:200]} (takes: "
                               f"{', '.join(sorted(_KEYS[action]))})", field="event")
    runtime = runtime or _deps.default_runtime()
    if action == "submit":
        for name in ("chain", "s3"):
            if not isinstance(event.get(name), str):
                raise _deps.BadRequest(f"bulk submit needs '{name}'", field=name)
        if ("records" in event) == ("records_s3" in event):
            raise _deps.BadRequest("bulk submit needs exactly one of 'records' (a list) or 'records_s3' (a JSONL "
                                   "object)", field="records")
        records = event.get("records")
        if records is not None and not isinstance(records, list):
            raise _deps.BadRequest("'records' must be a list of record objects", field="records")
        source = records if records is not None else _records_from_s3(runtime, str(event["records_s3"]))
        run = submit(event["chain"], source, event["s3"], options=event.get("options"),
                     max_cost_usd=event.get("max_cost_usd"), role_arn=event.get("role_arn"), runtime=runtime)
        return {"ok": True, **run.to_dict()}
    if not isinstance(event.get("run"), str):
        raise _deps.BadRequest(f"bulk {action} needs 'run' (the s3://... URI printed by submit)", field="run")
    if action == "status":
        return {"ok": True, **status(event["run"], runtime=runtime)}
    if action == "collect":
        budget = None if remaining_ms is None else max(0.0, float(remaining_ms) / 1000.0 - COLLECT_RESERVE_S)
        return {"ok": True, **collect_all(event["run"], runtime=runtime, time_budget_s=budget)}
    if action == "retry_failed":
        return {"ok": True, **retry_failed(event["run"], runtime=runtime)}
    return {"ok": True, **cancel(event["run"], runtime=runtime)}
