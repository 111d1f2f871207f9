"""``submit``: plan the records, check the run's budget, write the inputs to S3, create the batch jobs.

Nothing is written and no job is created when the run's estimate is over ``max_cost_usd``. Jobs are created
with a ``clientRequestToken`` derived from the run and job name, so creating one again (a retried submit, a
collector completing a submit that was cut short) returns the same job instead of a second one.
"""

from __future__ import annotations

import datetime as _dt
import re
import uuid
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import chains.bulk._deps as _deps
import chains.bulk.manifest as mf
from chains.bulk.jobs import create_jobs
from chains.bulk.plan import ON_DEMAND, REJECTED, Plan, batch_record_id, bulk_mode, check_strategy, plan_records
from chains.bulk.records import Record, dumps, read_records
from chains.bulk.settings import role_arn as resolve_role
from chains.bulk.store import RunStore, s3_client, split_s3

_UNSAFE = re.compile(r"[^a-zA-Z0-9]+")


def resolve_chain(chain: Any, runtime: Any = None) -> Any:
    if isinstance(chain, str):
        return _deps.get_chain(chain, runtime)
    return chain


def new_run_id(chain_name: str) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dt%H%M%S")
    return f"{_UNSAFE.sub('-', chain_name)[:24].strip('-') or 'run'}-{stamp}-{uuid.uuid4().hex[:6]}"


def _job_name(run_id: str, alias: str, n: int) -> str:
    # Bedrock: [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}, at most 63 characters.
    tail = f"-{_UNSAFE.sub('-', alias)[:16].strip('-')}-{n}"
    return (_UNSAFE.sub("-", run_id)[: 63 - len(tail)].strip("-") + tail)[:63]


def submit(
    chain: Any,
    records: Union[str, Iterable[Any]],
    s3_prefix: str,
    *,
    options: Optional[Mapping[str, Any]] = None,
    max_cost_usd: Optional[float] = None,
    role_arn: Optional[str] = None,
    run_id: Optional[str] = None,
    runtime: Any = None,
    models: Optional[List[str]] = None,
) -> "mf.Run":
    """Start a bulk run of ``chain`` over ``records`` (dicts, JSON lines, or a JSONL path) under ``s3_prefix``.

    Returns the ``Run`` (``run.uri`` names it). Raises BulkUnsupported (400) for strategies that need several
    dependent calls, BudgetExceeded (400) when the estimate is over ``max_cost_usd`` (nothing submitted),
    BadRequest (400) for a bad prefix or run options. A compare chain runs as a bulk compare
    (chains/bulk/compare.py): one job per model, then the judge as a second pass.
    """
    chain = resolve_chain(chain, runtime)
    check_strategy(chain)
    bucket, prefix = split_s3(s3_prefix)
    if options is not None:
        _deps.parse_options(options)  # a bad run option is the caller's 400, not N rejected records
    if max_cost_usd is not None and (isinstance(max_cost_usd, bool) or not float(max_cost_usd) > 0):
        raise _deps.BadRequest("max_cost_usd must be a positive number", field="max_cost_usd")
    recs = list(read_records(records))
    if not recs:
        raise _deps.BadRequest("a bulk run needs at least one record", field="records")
    kind = "compare" if bulk_mode(chain) == "compare" else "bulk"
    if kind == "compare":
        from chains.bulk.compare import plan_compare

        plan = plan_compare(chain, recs, options, models)
    else:
        plan = plan_records(chain, recs, options)
    if max_cost_usd is not None and plan.estimate_usd > float(max_cost_usd):
        raise _deps.BudgetExceeded(
            f"the run would cost ~${plan.estimate_usd:.4f} (estimate at batch prices for "
            f"{plan.summary()['batch']} batch and on-demand prices for {len(plan.on_demand)} on-demand records), "
            f"above max_cost_usd ${float(max_cost_usd):g}; nothing was submitted",
            estimated_cost_usd=round(plan.estimate_usd, 6), max_cost_usd=float(max_cost_usd),
            plan=plan.summary(),
        )
    runtime = chain.runtime
    role = resolve_role(chain.settings, role_arn, runtime.factory.backend)
    if plan.jobs and not role:
        raise _deps.BadRequest(
            "batch jobs need a service role Bedrock can assume: set bulk.role_arn in config.yaml, "
            "$BULK_ROLE_ARN, or --role-arn", field="role_arn")
    run_id = run_id or new_run_id(chain.name)
    store = RunStore(s3_client(runtime), bucket, f"{prefix}/{run_id}" if prefix else run_id)
    manifest = _write_run(store, chain, recs, plan, options, max_cost_usd, role, run_id, kind)
    create_jobs(runtime, store, manifest)
    return mf.Run.from_manifest(manifest, runtime)


def _write_run(store: RunStore, chain: Any, recs: List[Record], plan: Plan, options: Any,
               max_cost_usd: Any, role: Optional[str], run_id: str, kind: str) -> Dict[str, Any]:
    store.put_lines("records.jsonl", (dumps(r.to_line()) for r in recs))
    planned = plan.planned
    parts: List[Dict[str, Any]] = []
    if plan.rejected:
        part = {"name": "rejected", "kind": REJECTED, "indices": plan.rejected, "records": len(plan.rejected)}
        store.put_lines(mf.results_key(part), (dumps(_rejected_result(planned[i])) for i in plan.rejected))
        part["collected"] = True
        parts.append(part)
    chunk = mf.ON_DEMAND_CHUNK
    # A compare run has on-demand records per compared model; a bulk run, per record (the chain routes them).
    groups = plan.compare.get("on_demand_by_alias") or {None: plan.on_demand}
    for alias, members in groups.items():
        for n, start in enumerate(range(0, len(members), chunk), 1):
            indices = members[start:start + chunk]
            name = f"on-demand-{alias.replace('_', '-')}-{n}" if alias else f"on-demand-{n}"
            reasons = [plan.reasons[alias]] if alias else sorted({planned[i].reason for i in indices})
            parts.append({"name": name, "kind": ON_DEMAND, "alias": alias, "indices": indices,
                          "records": len(indices), "reasons": reasons, "collected": False})
    counters: Dict[str, int] = {}
    for job in plan.jobs:
        tag = f"{job.alias}-{job.tag}".rstrip("-")
        counters[tag] = counters.get(tag, 0) + 1
        name = _job_name(run_id, tag, counters[tag])
        base = f"jobs/{name}"
        store.put_lines(f"{base}/input.jsonl", iter(job.lines))
        store.put_lines(f"{base}/routes.jsonl", (
            dumps({"recordId": batch_record_id(i), "route": planned[i].route}) for i in job.indices))
        parts.append({
            "name": name, "kind": "batch", "alias": job.alias, "model_id": job.model_id,
            "phase": "answer",
            "indices": job.indices, "records": len(job.indices), "input": f"{base}/input.jsonl",
            "routes": f"{base}/routes.jsonl", "output": f"{base}/output/", "arn": None, "status": None,
            "collected": False,
        })
        job.lines = []  # written: free the memory
    manifest: Dict[str, Any] = {
        "version": mf.VERSION, "kind": kind, "run": store.uri, "run_id": run_id, "chain": chain.name,
        "created": mf.now(), "backend": chain.runtime.factory.backend, "region": chain.settings.region,
        "role_arn": role, "options": dict(options or {}), "max_cost_usd": max_cost_usd,
        "records": plan.records, "record_ids": [p.record_id for p in planned],
        "plan": plan.summary(), "parts": parts, "retries": [],
    }
    if kind == "compare":
        manifest["compare"] = {k: v for k, v in plan.compare.items() if k != "on_demand_by_alias"}
    mf.save(store, manifest)
    return manifest


def _rejected_result(p: Any) -> Dict[str, Any]:
    return {"record_id": p.record_id, "ok": False, "error": p.error,
            "bulk": {"mode": REJECTED, "index": p.index, "reason": "refused before any model call"}}
