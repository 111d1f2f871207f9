"""Creating a run's batch jobs (CreateModelInvocationJob), idempotently.

Each job is created with a ``clientRequestToken`` derived from the run and job name, and its ARN is saved in
the manifest right after, so creating again (a retried submit, a collector finishing a submit cut short, the
judge pass of a compare run) never makes a second job.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict

import chains.bulk._deps as _deps
import chains.bulk.manifest as mf
from chains.bulk.plan import ON_DEMAND
from chains.bulk.settings import bulk_settings
from chains.bulk.store import RunStore, bedrock_client

# Bedrock's refusal for a model without batch inference: "Batch inference is not supported for the requested
# model" (quoted in stdapi-ai/stdapi.ai issue 292; bedrock_local/batch.py answers the same).
_NO_BATCH_MARKERS = ("batch inference is not supported", "does not support batch")


def _token(run_id: str, name: str) -> str:
    return hashlib.sha256(f"{run_id}/{name}".encode()).hexdigest()[:64]


def create_jobs(runtime: Any, store: RunStore, manifest: Dict[str, Any]) -> int:
    """Create every batch job of the run that has no ARN yet (idempotent); returns how many were created."""
    bedrock = bedrock_client(runtime)
    bs = bulk_settings(runtime.settings)
    created = 0
    for part in mf.batch_parts(manifest):
        if part.get("arn") or part.get("status") == "NotCreated":
            continue
        try:
            reply = bedrock.create_model_invocation_job(
                jobName=part["name"], roleArn=manifest["role_arn"], modelId=part["model_id"],
                clientRequestToken=_token(manifest["run_id"], part["name"]),
                inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{store.bucket}/{store.k(part['input'])}",
                                                       "s3InputFormat": "JSONL"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{store.bucket}/{store.k(part['output'])}"}},
                timeoutDurationInHours=bs.timeout_hours,
                modelInvocationType="Converse",
            )
        except Exception as exc:
            err = _deps.to_model_error(exc, part["model_id"])
            if any(m in err.message.lower() for m in _NO_BATCH_MARKERS):
                # Bedrock says the model takes no batch jobs (the catalogue thought it did): its records run on
                # demand instead, and the run says why.
                why = f"Bedrock refused a batch job for {part['alias']}: {err.message[:200]}; run on demand"
                part.update(kind=ON_DEMAND, reasons=[why], refused=err.code)
                manifest["plan"].setdefault("on_demand_reasons", {})[part["alias"]] = why
            else:
                # The job could not be created (access, quota, a bad bucket ...): its records fail with that
                # typed error at collect time; retry_failed can still run them on demand.
                part.update(status="NotCreated", message=err.message[:500],
                            error={**err.to_dict(), "status": err.status})
        else:
            part.update(arn=reply["jobArn"], status="Submitted")
            created += 1
        mf.save(store, manifest)  # after each job: a restart never creates one twice
    return created
