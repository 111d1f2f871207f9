"""``status``: where a run is (each job's Bedrock state and counts), and ``wait`` for its jobs with a progress bar."""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional, Tuple

import chains.bulk._deps as _deps
import chains.bulk.manifest as mf
from chains.bulk.jobs import create_jobs
from chains.bulk.store import RunStore, bedrock_client, open_run

_COUNTS = ("totalRecordCount", "processedRecordCount", "successRecordCount", "errorRecordCount")


def runtime_of(run: Any, runtime: Any = None) -> Any:
    return runtime or getattr(run, "runtime", None) or _deps.default_runtime()


def load_run(run: Any, runtime: Any = None) -> Tuple[Any, RunStore, Dict[str, Any]]:
    runtime = runtime_of(run, runtime)
    store = open_run(runtime, run)
    return runtime, store, mf.load(store)


def refresh(runtime: Any, store: RunStore, manifest: Dict[str, Any]) -> bool:
    """Ask Bedrock for every unfinished job's state; saves the manifest when something changed."""
    changed = False
    if any(not p.get("arn") and p.get("status") != "NotCreated" for p in mf.batch_parts(manifest)):
        changed = create_jobs(runtime, store, manifest) > 0  # a submit cut short: finish it (idempotent)
    bedrock = bedrock_client(runtime)
    for part in mf.batch_parts(manifest):
        if not part.get("arn") or part.get("status") in mf.TERMINAL:
            continue
        try:
            job = bedrock.get_model_invocation_job(jobIdentifier=part["arn"])
        except Exception as exc:  # typed: e.g. a job another (emulated) Bedrock made is unknown here
            raise _deps.to_model_error(exc, part["model_id"]) from None
        update = {"status": job.get("status"), "message": (job.get("message") or None)}
        update.update({k: job[k] for k in _COUNTS if job.get(k) is not None})
        if any(part.get(k) != v for k, v in update.items()):
            part.update(update)
            changed = True
    if changed:
        mf.save(store, manifest)
    return changed


def state_of(manifest: Dict[str, Any]) -> str:
    parts = manifest["parts"]
    if manifest.get("summary") and all(p.get("collected") for p in parts):
        return "collected"
    if any(not mf.part_done(p) for p in parts):
        return "in_progress"
    return "ready"  # every job finished: collect can run to the end


def view(manifest: Dict[str, Any]) -> Dict[str, Any]:
    jobs = []
    by_status: Dict[str, int] = {}
    for p in mf.batch_parts(manifest):
        entry = mf.job_view(p)
        entry.update({k: p[k] for k in _COUNTS if k in p})
        entry["collected"] = bool(p.get("collected"))
        jobs.append(entry)
        by_status[p.get("status") or "Unsubmitted"] = by_status.get(p.get("status") or "Unsubmitted", 0) + 1
    parts = manifest["parts"]
    out = {
        "run": manifest["run"], "chain": manifest["chain"], "kind": manifest.get("kind", "bulk"),
        "state": state_of(manifest), "records": manifest["records"], "plan": manifest.get("plan"),
        "jobs": jobs, "job_states": by_status,
        "parts_collected": sum(1 for p in parts if p.get("collected")), "parts": len(parts),
        "retries": len(manifest.get("retries") or []),
    }
    if manifest.get("compare"):
        out["compare"] = {k: v for k, v in manifest["compare"].items() if k != "judge_parts"}
    if manifest.get("summary"):
        out["summary"] = manifest["summary"]
    return out


def status(run: Any, *, runtime: Any = None) -> Dict[str, Any]:
    """The run's state: ``in_progress`` (jobs running), ``ready`` (collect can finish), ``collected``."""
    runtime, store, manifest = load_run(run, runtime)
    refresh(runtime, store, manifest)
    return view(manifest)


def wait(run: Any, *, runtime: Any = None, poll_seconds: Optional[float] = None, progress: bool = False,
         timeout_s: Optional[float] = None) -> Dict[str, Any]:
    """Poll until every job has finished (tqdm progress bar over the batch records when ``progress``)."""
    from chains.bulk.settings import bulk_settings

    runtime, store, manifest = load_run(run, runtime)
    return wait_manifest(runtime, store, manifest, poll_seconds=poll_seconds, progress=progress,
                         timeout_s=timeout_s, default_poll=bulk_settings(runtime.settings).poll_seconds)


def wait_manifest(runtime: Any, store: RunStore, manifest: Dict[str, Any], *, poll_seconds: Optional[float],
                  progress: bool, timeout_s: Optional[float], default_poll: float = 30.0) -> Dict[str, Any]:
    poll = default_poll if poll_seconds is None else max(0.01, float(poll_seconds))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    bar = None
    if progress:
        from tqdm import tqdm

        total = sum(p["records"] for p in mf.batch_parts(manifest))
        bar = tqdm(total=total, unit="rec", desc="bulk jobs", file=sys.stderr, leave=False)
    try:
        while True:
            refresh(runtime, store, manifest)
            if bar is not None:
                done = sum(p["records"] if p.get("status") in mf.TERMINAL else int(p.get("processedRecordCount") or 0)
                           for p in mf.batch_parts(manifest))
                bar.update(max(0, done - bar.n))
            if all(mf.part_done(p) for p in manifest["parts"]):
                return view(manifest)
            if deadline is not None and time.monotonic() > deadline:
                raise _deps.RunNotReady(f"run {manifest['run']} still has jobs running after {timeout_s:g} s",
                                        run=manifest["run"], run_status=view(manifest))
            time.sleep(poll)
    finally:
        if bar is not None:
            bar.close()
