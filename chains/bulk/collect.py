"""``collect``: every record's result, exactly once, streamed; ``retry_failed``: failed records again, on demand.

A part (a batch job, an on-demand chunk) is collected once: its results are written to ``results/PART.jsonl``
in one upload, then the manifest marks it collected. A collector killed at any point and started again
finds the manifest, skips collected parts, rewrites at most the part it was on (same key: no duplicate),
and never creates a job that has an ARN. Within a job's output, a ``recordId`` seen twice counts once, and a
record of the job missing from the output gets a typed error (``RecordNotProcessed``), so the output holds
every input record exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Dict, Iterator, List, Optional, Set

import chains.bulk._deps as _deps
import chains.bulk.manifest as mf
from chains.bulk.plan import BATCH, ON_DEMAND, index_of
from chains.bulk.records import dumps, load_records
from chains.bulk.results import Totals, failed, from_batch, from_on_demand
from chains.bulk.settings import bulk_settings
from chains.bulk.status import load_run, refresh, view, wait_manifest
from chains.bulk.store import RunStore
from chains.bulk.terms import terms_for

logger = logging.getLogger("bedrock_chains.bulk")


def collect(run: Any, *, runtime: Any = None, wait: bool = False, poll_seconds: Optional[float] = None,
            progress: bool = False) -> Iterator[Dict[str, Any]]:
    """Every record's result (parts in order: rejected, on demand, then each job). Without ``wait``, raises
    RunNotReady (409) on reaching a job that is still running, after yielding what is ready before it."""
    runtime, store, manifest = load_run(run, runtime)
    yield from _collect(runtime, store, manifest, _waiter(runtime, store, manifest, wait, poll_seconds, progress))


def _waiter(runtime: Any, store: RunStore, manifest: Dict[str, Any], wait: bool, poll_seconds: Optional[float],
            progress: bool) -> Optional[Any]:
    if not wait:
        refresh(runtime, store, manifest)
        return None

    def waiter() -> None:
        wait_manifest(runtime, store, manifest, poll_seconds=poll_seconds, progress=progress, timeout_s=None,
                      default_poll=bulk_settings(runtime.settings).poll_seconds)

    waiter()
    return waiter


class OutOfTime(Exception):
    """The caller's deadline leaves no time for another part (a Lambda ``collect`` event resumes next time)."""


def _ready(runtime: Any, store: RunStore, manifest: Dict[str, Any], part: Dict[str, Any], waiter: Any) -> None:
    """Make sure ``part`` is collected (waiting for its job, or RunNotReady (409) without a waiter)."""
    if part.get("collected"):
        return
    deadline = manifest.get("_deadline")  # not saved: set by collect_all for this call only
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime()
    if not mf.part_done(part):
        if waiter is not None:
            waiter()
        else:
            waiting = [p["name"] for p in manifest["parts"] if not mf.part_done(p)]
            raise _deps.RunNotReady(
                f"run {manifest['run']}: {len(waiting)} job(s) still running ({', '.join(waiting[:5])}); "
                f"collect again later, or wait", run=manifest["run"], running=waiting[:20])
    collect_part(runtime, store, manifest, part)


def _collect(runtime: Any, store: RunStore, manifest: Dict[str, Any], waiter: Any = None) -> Iterator[Dict[str, Any]]:
    if manifest.get("kind") == "compare":
        yield from _collect_compare(runtime, store, manifest, waiter)
        return
    latest: Dict[int, int] = {}
    for n, retry in enumerate(manifest.get("retries") or []):
        for i in retry["indices"]:
            latest[i] = n
    for part in manifest["parts"]:
        _ready(runtime, store, manifest, part, waiter)
        for result in _stream(store, part):
            if result["bulk"]["index"] not in latest:
                yield result
    for n, retry in enumerate(manifest.get("retries") or []):
        for result in _stream(store, retry):
            if latest.get(result["bulk"]["index"]) == n:
                yield result


def _collect_compare(runtime: Any, store: RunStore, manifest: Dict[str, Any], waiter: Any) -> Iterator[Dict[str, Any]]:
    import chains.bulk.compare as compare

    info = manifest["compare"]
    for part in list(manifest["parts"]):
        _ready(runtime, store, manifest, part, waiter)
    if info.get("judge") and not info.get("judge_planned"):
        compare.plan_judge(runtime, store, manifest)
        for part in list(manifest["parts"]):
            _ready(runtime, store, manifest, part, waiter)
    final = {"name": "compare"}
    if not info.get("final_collected"):
        store.put_lines(mf.results_key(final), (dumps(r) for r in compare.final_results(runtime, store, manifest)))
        info["final_collected"] = True
        mf.save(store, manifest)
    yield from _stream(store, final)


def _stream(store: RunStore, part: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    for line in store.iter_lines(mf.results_key(part)):
        yield json.loads(line)


def collect_part(runtime: Any, store: RunStore, manifest: Dict[str, Any], part: Dict[str, Any]) -> None:
    if part["kind"] == BATCH:
        lines = _batch_results(runtime, store, manifest, part)
    elif part["kind"] == ON_DEMAND and part.get("phase") == "judge":
        from chains.bulk.compare import judge_on_demand

        lines = judge_on_demand(runtime, store, manifest, part)
    elif part["kind"] == ON_DEMAND:
        lines = _on_demand_results(runtime, store, manifest, part["indices"], part)
    else:  # rejected: written at submit
        return
    store.put_lines(mf.results_key(part), (dumps(r) for r in lines))
    part["collected"] = True
    mf.save(store, manifest)


def collect_all(run: Any, *, runtime: Any = None, out: Any = None, wait: bool = False,
                poll_seconds: Optional[float] = None, progress: bool = False,
                time_budget_s: Optional[float] = None) -> Dict[str, Any]:
    """Collect the whole run; write result lines to ``out`` (a path or a text file) if given; the summary.

    ``time_budget_s`` (a Lambda event: what is left of its deadline): no new part is started after it; the
    answer is then ``{"complete": false, ...}`` and calling again continues where this one stopped."""
    runtime, store, manifest = load_run(run, runtime)
    if time_budget_s is not None:
        manifest["_deadline"] = time.monotonic() + max(0.0, time_budget_s)
    totals = Totals()
    handle = open(out, "w", encoding="utf-8") if isinstance(out, str) else out
    try:
        waiter = _waiter(runtime, store, manifest, wait, poll_seconds, progress)
        for result in _collect(runtime, store, manifest, waiter):
            totals.add(result)
            if handle is not None:
                handle.write(dumps(result) + "\n")
    except OutOfTime:
        done = sum(1 for p in manifest["parts"] if p.get("collected"))
        return {"run": manifest["run"], "chain": manifest["chain"], "complete": False,
                "parts_collected": done, "parts": len(manifest["parts"])}
    finally:
        manifest.pop("_deadline", None)
        if isinstance(out, str) and handle is not None:
            handle.close()
    summary = {"run": manifest["run"], "chain": manifest["chain"], "complete": True, **totals.to_dict()}
    if manifest.get("compare"):
        from chains.bulk.compare import finish_compare

        summary["compare"] = finish_compare(runtime, store, manifest)
    manifest["summary"] = summary
    mf.save(store, manifest)
    return summary


# --- batch parts ------------------------------------------------------------------------------------------------


def _job_error(part: Dict[str, Any]) -> Any:
    from botocore.exceptions import ClientError

    if part.get("error"):
        stored = dict(part["error"])
        return _Stored(stored)
    status = part.get("status") or "Failed"
    message = part.get("message") or f"the batch job ended {status}"
    return _deps.to_model_error(ClientError(
        {"Error": {"Code": f"ModelInvocationJob{status}", "Message": f"batch job {part['name']} {status}: {message}"},
         "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetModelInvocationJob"), part["model_id"])


class _Stored(_deps.ChainsError):
    """An error recorded in the manifest (a job Bedrock refused to create), replayed for each of its records."""

    def __init__(self, d: Dict[str, Any]) -> None:
        super().__init__(d.get("message", ""), **{k: v for k, v in d.items() if k not in ("type", "message", "status")})
        self.type = d.get("type", "ModelCallError")
        self.status = int(d.get("status", 502))


def _output_keys(store: RunStore, part: Dict[str, Any]) -> List[str]:
    # Bedrock writes <output uri>/<job id>/<input file>.out; find it rather than guess the job-id segment.
    return sorted(k for k in store.list_keys(part["output"]) if k.endswith(".jsonl.out"))


def _batch_results(runtime: Any, store: RunStore, manifest: Dict[str, Any], part: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    ids = manifest["record_ids"]
    terms = terms_for(runtime.settings, part["alias"]) if part["alias"] in runtime.settings.models else None
    indices: Set[int] = set(part["indices"])
    routes: Dict[int, Any] = {}
    for line in store.iter_lines(part["routes"]):
        entry = json.loads(line)
        idx = index_of(entry.get("recordId"))
        if idx is not None:
            routes[idx] = entry.get("route")
    bulk_base = {"mode": BATCH, "job": part["name"], "job_arn": part.get("arn"), "phase": part.get("phase", "answer")}
    seen: Set[int] = set()
    keys = _output_keys(store, part) if part.get("arn") else []
    for key in keys:
        for raw in store.iter_lines(key, absolute=True):
            try:
                line = json.loads(raw)
            except ValueError:
                logger.warning("unreadable line in batch output", extra={"job": part["name"]})
                continue
            idx = index_of(line.get("recordId"))
            if idx is None or idx not in indices or idx in seen:
                continue  # not ours, or a duplicate line: each record once
            seen.add(idx)
            yield from_batch(ids[idx], line, terms, routes.get(idx), {**bulk_base, "index": idx})
    missing = [i for i in part["indices"] if i not in seen]
    if missing:
        status = part.get("status")
        if status in ("Completed", "PartiallyCompleted") and keys:
            err: Any = _deps.Unavailable(f"batch job {part['name']} ({status}) wrote no output line for this record",
                                   code="RecordNotProcessed", model=part["model_id"])
        else:
            err = _job_error(part)
        for i in missing:
            route = {**(routes.get(i) or {}), "answered_by": None}
            yield failed(ids[i], {**bulk_base, "index": i}, err, route)


# --- on-demand parts --------------------------------------------------------------------------------------------


def _on_demand_results(runtime: Any, store: RunStore, manifest: Dict[str, Any], indices: List[int],
                       part: Dict[str, Any], reason: Optional[str] = None) -> Iterator[Dict[str, Any]]:
    """Run records through the chain itself (routing, fallbacks, deadlines as on demand), bounded concurrency."""
    chain = _deps.get_chain(manifest["chain"], runtime)
    if manifest.get("kind") == "compare" and part.get("alias"):
        from chains.bulk.compare import answer_chain

        chain = answer_chain(chain, part["alias"], (manifest.get("options") or {}).get("prompt"))
    records = load_records(store, set(indices))
    options = manifest.get("options") or {}
    if manifest.get("kind") == "compare":  # each compared model answers alone: compare-only options stay out
        options = {k: v for k, v in options.items() if k not in ("models", "judge", "seed", "prompt")}
    payloads = [records[i].payload(options) for i in indices]
    concurrency = bulk_settings(runtime.settings).on_demand_concurrency
    values = chain.batch(payloads, config={"max_concurrency": concurrency, "run_name": f"{chain.name}.bulk"},
                         return_exceptions=True)
    why = reason or "; ".join(part.get("reasons") or []) or "on demand"
    for i, value in zip(indices, values):
        if isinstance(value, BaseException) and not isinstance(value, _deps.ChainsError):
            logger.error("on-demand record failed", exc_info=value, extra={"index": i})
        yield from_on_demand(records[i].record_id, value,
                             {"mode": ON_DEMAND, "index": i, "reason": why, "part": part["name"]})


# --- retry ------------------------------------------------------------------------------------------------------


def retry_failed(run: Any, *, runtime: Any = None, include_rejected: bool = False) -> Dict[str, Any]:
    """Run every failed record of a collected run again, on demand (with the chain's fallbacks); the new results
    replace the failed ones in ``collect``. Rejected records (the caller's 400) are left out unless asked."""
    runtime, store, manifest = load_run(run, runtime)
    if manifest.get("kind") == "compare":
        raise _deps.BadRequest("retry_failed applies to bulk runs; a compare run's failures are part of the "
                               "comparison (submit the failed records again as a new compare run)", field="run")
    failed_idx = []
    for result in _collect(runtime, store, manifest):
        if not result.get("ok") and (include_rejected or result["bulk"].get("mode") != "rejected"):
            failed_idx.append(result["bulk"]["index"])
    retries = manifest.setdefault("retries", [])
    if not failed_idx:
        return {"run": manifest["run"], "retried": 0, "answered": 0, "failed": 0}
    part = {"name": f"retry-{len(retries) + 1}", "kind": ON_DEMAND, "indices": sorted(failed_idx),
            "records": len(failed_idx)}
    totals = Totals()

    def lines() -> Iterator[str]:
        for r in _on_demand_results(runtime, store, manifest, part["indices"], part, reason="retry_failed"):
            totals.add(r)
            yield dumps(r)

    store.put_lines(mf.results_key(part), lines())
    part["collected"] = True
    retries.append(part)
    manifest.pop("summary", None)
    mf.save(store, manifest)
    return {"run": manifest["run"], "retried": totals.records, "answered": totals.answered, "failed": totals.failed,
            "cost_usd": round(totals.cost, 6)}


__all__ = ["collect", "collect_all", "retry_failed", "view"]
