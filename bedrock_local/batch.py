"""Batch inference on the ``bedrock`` control plane: Create / Get / List / Stop ModelInvocationJob.

Paths, members and required fields follow botocore's service model (bedrock 2023-04-20):
  POST /model-invocation-job                    CreateModelInvocationJob -> {"jobArn"}
  GET  /model-invocation-job/{jobIdentifier}    GetModelInvocationJob
  GET  /model-invocation-jobs?statusEquals=&nameContains=&submitTimeAfter=&submitTimeBefore=
       &sortBy=CreationTime&sortOrder=Ascending|Descending&maxResults=&nextToken=
  POST /model-invocation-job/{jobIdentifier}/stop StopModelInvocationJob -> {}
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelInvocationJob.html and the
pages next to it).  ``BatchJobs.route`` answers those paths and returns None for any other, so the
emulator's ``handle()`` calls it first.  Jobs run in background threads (batch_runner.py); S3 is
reached through boto3 only when a job runs.

In-process use: ``attach_control_plane(emulator, boto3.client("bedrock"))`` registers the same
before-send hook as ``inprocess.attach`` does for bedrock-runtime, on the ``bedrock`` service.
"""
from __future__ import annotations

import json
import os
import random
import re
import string
import threading
import urllib.parse
from datetime import datetime
from typing import Any, Callable, Mapping

from .batch_models import batch_cost, batch_terms
from .batch_request import STATUSES, check_create, echo
from .batch_runner import Job, Runner, TERMINAL
from .errors import BedrockError

ENV_SECONDS = "BEDROCK_LOCAL_BATCH_SECONDS"
DEFAULT_SECONDS = 0.05
ACCOUNT = "123456789012"
_JOB = re.compile(r"^/model-invocation-job/(?P<id>[^/]+)(?P<stop>/stop)?/?$")
_ARN_ID = re.compile(r"model-invocation-job/([a-z0-9]{12})$")
# Bedrock's refusal for a model without batch inference (quoted in stdapi-ai/stdapi.ai issue 292).
NO_BATCH = "Batch inference is not supported for the requested model"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat().replace("+00:00", "Z")


def _parse_time(value: str, where: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BedrockError("ValidationException", f"Value '{echo(value)}' at '{where}' is not a valid timestamp.")
    if dt.tzinfo is None:
        from datetime import timezone

        dt = dt.replace(tzinfo=timezone.utc)
    return dt


class BatchJobs:
    """The emulator's batch jobs: state, the HTTP routes, and billing at batch prices."""

    def __init__(self, emulator: Any, s3_client: Any = None, s3_endpoint_url: str | None = None,
                 seconds: float | None = None):
        self.emulator = emulator
        self._s3_client, self._s3_endpoint = s3_client, s3_endpoint_url
        self._s3_cached: Any = None
        if seconds is None:
            seconds = float(os.environ.get(ENV_SECONDS) or DEFAULT_SECONDS)
        self.seconds = max(0.0, float(seconds))
        self._jobs: dict[str, Job] = {}  # job id -> job, in submit order
        self._tokens: dict[str, str] = {}  # clientRequestToken -> job id
        self._lock = threading.Lock()
        # Job ids are random, not seeded: two emulators writing under one S3 prefix must not collide.
        self._rng = random.SystemRandom()

    # ----------------------------------------------------------------- S3
    def s3(self) -> Any:
        """A boto3 S3 client: the one given, the factory's, or one from boto3's usual configuration."""
        if self._s3_cached is None:
            given = self._s3_client
            if given is not None and callable(given) and not hasattr(given, "put_object"):
                given = given()
            if given is None:
                import boto3  # only when a job runs: importing bedrock_local stays boto3-free

                region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
                given = boto3.session.Session().client("s3", region_name=region,
                                                       endpoint_url=self._s3_endpoint)
            self._s3_cached = given
        return self._s3_cached

    # ----------------------------------------------------------------- Python API
    def get(self, identifier: str) -> Job:
        ident = urllib.parse.unquote(identifier)
        m = _ARN_ID.search(ident)
        job = self._jobs.get(m.group(1) if m else ident)
        if job is None:
            raise BedrockError("ResourceNotFoundException",
                               f"The model invocation job {echo(ident)} could not be found.")
        return job

    def history(self, identifier: str) -> list[str]:
        """Every status the job has had, in order (what polling may miss)."""
        return [s for s, _ in self.get(identifier).history]

    def wait(self, identifier: str, timeout: float = 30.0) -> Job:
        """Block until the job reaches a terminal status (for tests and notebooks)."""
        import time

        job, deadline = self.get(identifier), time.monotonic() + timeout
        while job.status not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.01)
        return job

    def billing(self, identifier: str) -> dict[str, Any]:
        """What the manifest counts, priced at the model's batch prices (USD)."""
        job = self.get(identifier)
        return {"inputTokenCount": job.input_tokens, "outputTokenCount": job.output_tokens,
                "successRecordCount": job.success, "errorRecordCount": job.errors,
                "cost_usd": batch_cost(job.terms, job.input_tokens, job.output_tokens)}

    # ----------------------------------------------------------------- routing
    def route(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes):
        """The Reply for a model-invocation-job path, or None when the path is not one of ours."""
        from .emulator import CallRecord, error_reply

        m = _JOB.match(path)
        if path.rstrip("/") == "/model-invocation-job" and method == "POST":
            operation = "CreateModelInvocationJob"
        elif path.rstrip("/") == "/model-invocation-jobs" and method == "GET":
            operation = "ListModelInvocationJobs"
        elif m and method == "POST" and m.group("stop"):
            operation = "StopModelInvocationJob"
        elif m and method == "GET" and not m.group("stop"):
            operation = "GetModelInvocationJob"
        else:
            return None
        rec = CallRecord(operation, "", None)
        try:
            try:
                rec.body = json.loads(body) if body else {}
            except ValueError:
                rec.body = body
            if "authorization" not in headers:
                raise BedrockError("AccessDeniedException", "Authorization header is missing")
            if operation == "CreateModelInvocationJob":
                if not isinstance(rec.body, dict):
                    raise BedrockError("ValidationException", "Malformed input request, please reformat "
                                                              "your input and try again.")
                rec.model_id = str(rec.body.get("modelId") or "")
                out = self._create(rec.body, headers)
            elif operation == "ListModelInvocationJobs":
                out = self._list(urllib.parse.parse_qs(query))
            elif operation == "StopModelInvocationJob":
                out = self._stop(m.group("id"))
            else:
                out = self.describe(self.get(m.group("id")))
        except BedrockError as err:
            rec.error, rec.status = err.code, err.status
            self.emulator._record(rec, body)
            return error_reply(err)
        self.emulator._record(rec, body)
        from .emulator import _json_reply

        return _json_reply(out, False)

    # ----------------------------------------------------------------- operations
    def _create(self, body: dict[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        from .catalogue import region_from_headers

        check_create(body)
        token = body.get("clientRequestToken")
        with self._lock:
            if token and token in self._tokens:  # idempotent retry: the same job
                return {"jobArn": self._jobs[self._tokens[token]].arn}
        emu = self.emulator
        # The catalogue resolves what the modelId names (bare id, system or application profile, ARN) and
        # refuses what Bedrock refuses (invalid id, end of life in the caller's region, on-demand only).
        region = region_from_headers(headers, emu.region)
        resolved = emu.catalogue.resolve(str(body["modelId"]), region,
                                         application_profiles=emu.control.application_profiles(),
                                         lifecycle=emu.lifecycle)
        terms = batch_terms(resolved.entry)
        if terms is None:
            raise BedrockError("ValidationException", NO_BATCH)
        with self._lock:
            job_id = "".join(self._rng.choices(string.ascii_lowercase + string.digits, k=12))
            job = Job(f"arn:aws:bedrock:{region}:{ACCOUNT}:model-invocation-job/{job_id}", job_id,
                      dict(body), terms)
            self._jobs[job_id] = job
            if token:
                self._tokens[token] = job_id
        runner = Runner(job, self.s3, self._record_runner(job), self.seconds, self._job_fault)
        threading.Thread(target=runner.run, name=f"bedrock_local-batch-{job_id}", daemon=True).start()
        return {"jobArn": job.arn}

    def _stop(self, identifier: str) -> dict[str, Any]:
        job = self.get(identifier)
        if not job.request_stop():
            # Our wording: a job that has ended (or is already stopping) cannot be stopped.
            raise BedrockError("ValidationException",
                               f"The model invocation job cannot be stopped in its current status ({job.status}).")
        return {}

    def _list(self, query: Mapping[str, list[str]]) -> dict[str, Any]:
        q = {k: v[-1] for k, v in query.items()}
        status = q.get("statusEquals")
        if status is not None and status not in STATUSES:
            raise BedrockError("ValidationException", f"1 validation error detected: Value '{echo(status)}' at "
                               f"'statusEquals' failed to satisfy constraint: Member must satisfy enum value set: "
                               f"[{', '.join(STATUSES)}]")
        order = q.get("sortOrder", "Descending")
        if order not in ("Ascending", "Descending") or q.get("sortBy", "CreationTime") != "CreationTime":
            raise BedrockError("ValidationException", "sortBy must be CreationTime and sortOrder Ascending or "
                                                      "Descending.")
        try:
            max_results = int(q.get("maxResults", 1000))
            start = int(q.get("nextToken", 0))
        except ValueError:
            raise BedrockError("ValidationException", "maxResults and nextToken must be the values this API gave.")
        if not 1 <= max_results <= 1000:
            raise BedrockError("ValidationException", f"1 validation error detected: Value '{max_results}' at "
                               f"'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000")
        after = _parse_time(q["submitTimeAfter"], "submitTimeAfter") if "submitTimeAfter" in q else None
        before = _parse_time(q["submitTimeBefore"], "submitTimeBefore") if "submitTimeBefore" in q else None
        with self._lock:
            jobs = list(self._jobs.values())
        jobs = [j for j in jobs
                if (status is None or j.status == status)
                and (not q.get("nameContains") or q["nameContains"] in j.name)
                and (after is None or j.submit_time > after)
                and (before is None or j.submit_time < before)]
        jobs.sort(key=lambda j: j.submit_time, reverse=order == "Descending")
        page = jobs[start:start + max_results]
        out: dict[str, Any] = {"invocationJobSummaries": [self.describe(j) for j in page]}
        if start + max_results < len(jobs):
            out["nextToken"] = str(start + max_results)
        return out

    def describe(self, job: Job) -> dict[str, Any]:
        """GetModelInvocationJob's response, which is also ModelInvocationJobSummary's shape."""
        req = job.request
        with job.lock:
            out = {
                "jobArn": job.arn, "jobName": req["jobName"], "modelId": req["modelId"],
                "clientRequestToken": req.get("clientRequestToken"), "roleArn": req["roleArn"],
                "status": job.status, "message": job.message, "submitTime": _iso(job.submit_time),
                "lastModifiedTime": _iso(job.last_modified), "endTime": _iso(job.end_time),
                "inputDataConfig": req["inputDataConfig"], "outputDataConfig": req["outputDataConfig"],
                "vpcConfig": req.get("vpcConfig"), "timeoutDurationInHours": req.get("timeoutDurationInHours"),
                "modelInvocationType": req.get("modelInvocationType"),
                # While Submitted/Validating Bedrock reports 0 records (BerriAI/litellm PR 38744).
                "totalRecordCount": job.total, "processedRecordCount": job.processed,
                "successRecordCount": job.success, "errorRecordCount": job.errors,
            }
        return {k: v for k, v in out.items() if v is not None}

    # ----------------------------------------------------------------- records and faults
    def _job_fault(self, job: Job):
        from .profiles import ModelProfile

        model_id = job.request["modelId"]
        entry = self.emulator.catalogue.base_of(model_id)
        profile = ModelProfile.from_entry(entry) if entry is not None else None
        return self.emulator.faults.decide(model_id, profile, operation="batch_job")

    def _record_runner(self, job: Job) -> Callable[[str, Any], tuple[dict[str, Any], int, int]]:
        """Answer one record through the emulator's own runtime path (same answers, tokens, faults)."""
        operation = "Converse" if job.request.get("modelInvocationType") == "Converse" else "InvokeModel"
        model_id = job.request["modelId"]
        headers = {"authorization": "bedrock-batch"}

        def run(record_id: str, model_input: Any) -> tuple[dict[str, Any], int, int]:
            body = json.dumps(model_input, ensure_ascii=False).encode("utf-8", "surrogatepass")
            reply, rec = self.emulator.run_operation(operation, model_id, headers, body, pace=False,
                                                     fault_operation="batch_record")
            line: dict[str, Any] = {"recordId": record_id, "modelInput": model_input}
            try:
                payload = json.loads(reply.body)
            except ValueError:
                payload = None
            if reply.status == 200 and isinstance(payload, dict):
                line["modelOutput"] = payload
                return line, rec.input_tokens, rec.output_tokens
            if reply.status == 200:  # a malformed-body fault: the model's answer could not be read
                line["error"] = {"errorCode": 500, "errorMessage": "The model returned a malformed response."}
            else:
                message = payload.get("message") if isinstance(payload, dict) else None
                line["error"] = {"errorCode": reply.status, "errorMessage": message or "error"}
            return line, 0, 0

        return run


def attach_control_plane(emulator: Any, client: Any) -> Any:
    """Answer a boto3 ``bedrock`` (control-plane) client's requests in-process.

    Kept separate from inprocess.attach so the control-plane registration built elsewhere (the
    catalogue's foundation models, profiles) can replace it; it serves the same emulator.handle().
    """
    from botocore.awsrequest import AWSResponse

    from .inprocess import _body_bytes, _RawBody

    def before_send(request: Any, **_: Any) -> AWSResponse:
        parts = urllib.parse.urlsplit(request.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v.decode("latin-1") if isinstance(v, bytes) else v for k, v in request.headers.items()}
        reply = emulator.handle(request.method, target, headers, _body_bytes(request.body))
        return AWSResponse(request.url, reply.status, reply.headers, _RawBody(reply.chunks()))

    client.meta.events.register("before-send.bedrock", before_send,
                                unique_id=f"bedrock_local-batch-{id(emulator)}")
    return client
