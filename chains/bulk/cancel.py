"""``cancel``: stop every job of a run that has not finished (StopModelInvocationJob). Records a stopped job
did not process get a typed error at collect time; ``retry_failed`` can still run them on demand."""

from __future__ import annotations

from typing import Any, Dict

import chains.bulk.manifest as mf
from chains.bulk.status import load_run, refresh, view
from chains.bulk.store import bedrock_client


def cancel(run: Any, *, runtime: Any = None) -> Dict[str, Any]:
    runtime, store, manifest = load_run(run, runtime)
    refresh(runtime, store, manifest)
    bedrock = bedrock_client(runtime)
    stopped = []
    for part in mf.batch_parts(manifest):
        if part.get("arn") and part.get("status") not in mf.TERMINAL and part.get("status") != "Stopping":
            bedrock.stop_model_invocation_job(jobIdentifier=part["arn"])
            stopped.append(part["name"])
    refresh(runtime, store, manifest)
    return {**view(manifest), "stopping": stopped}
