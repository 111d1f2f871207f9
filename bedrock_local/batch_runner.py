"""One batch inference job's life in a background thread: validate the S3 input, run every record
through the emulator's own runtime handling, write the output back to S3 as Bedrock lays it out.

States (GetModelInvocationJob ``status``): Submitted -> Validating -> Scheduled -> InProgress ->
Completed | PartiallyCompleted | Failed, and Stopping -> Stopped when stopped.  Meanings from
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListModelInvocationJobs.html (statusEquals):
Validating checks S3 access, that files are .jsonl with one JSON object per line in the right format
("validation doesn't check if the modelInput value matches the request body for the model") and the
record-count quotas; PartiallyCompleted means "Not all of your records could be processed in time".
A record the model refuses is an error line in a Completed job, not a job failure.

Output (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html):
``<output s3Uri>/<job id>/<input file>.out`` with one line per record, ``{"recordId", "modelInput",
"modelOutput"}`` or ``{"recordId", "modelInput", "error": {"errorCode": <status>, "errorMessage"}}``,
order not guaranteed (we shuffle, seeded by the job id, so callers join on recordId), and
``manifest.json.out`` with totalRecordCount, processedRecordCount, successRecordCount,
errorRecordCount, inputTokenCount, outputTokenCount.  A missing recordId is filled in with an
11-character alphanumeric id (batch-inference-data.html: "If you omit the recordId field, Amazon
Bedrock adds it in the output").

The failure messages below are our wording (Bedrock's own texts for these cases are not published);
they name the file, line, count and limit so a caller can act on them.
"""
from __future__ import annotations

import json
import random
import string
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .batch_models import BatchTerms
from .batch_request import echo, split_uri

TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
STOPPABLE = ("Submitted", "Validating", "Scheduled", "InProgress")
_ID_CHARS = string.ascii_uppercase + string.digits


def now() -> datetime:
    return datetime.now(timezone.utc)


class JobFailure(Exception):
    """Ends the job as Failed with this message."""


@dataclass
class InputFile:
    key: str
    name: str  # the output file is <name>.out under <output>/<job id>/
    # (recordId, the raw line): lines are parsed again when they run, so a big job holds bytes, not dicts.
    records: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Job:
    arn: str
    job_id: str
    request: dict[str, Any]
    terms: BatchTerms
    submit_time: datetime = field(default_factory=now)
    status: str = "Submitted"
    message: str | None = None
    last_modified: datetime = field(default_factory=now)
    end_time: datetime | None = None
    total: int = 0
    processed: int = 0
    success: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    history: list[tuple[str, float]] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.history.append((self.status, time.time()))

    @property
    def name(self) -> str:
        return self.request["jobName"]

    def set_status(self, status: str, message: str | None = None, force: bool = False) -> bool:
        """Move to ``status``; refused once a stop was asked for (unless ``force``) or when terminal."""
        with self.lock:
            if self.status in TERMINAL or (self.stop_event.is_set() and not force):
                return False
            self.status = status
            if message is not None:
                self.message = message
            self.last_modified = now()
            if status in TERMINAL:
                self.end_time = self.last_modified
            self.history.append((status, time.time()))
            return True

    def request_stop(self) -> bool:
        with self.lock:
            if self.status not in STOPPABLE:
                return False
            self.stop_event.set()
            self.status = "Stopping"
            self.last_modified = now()
            self.history.append(("Stopping", time.time()))
            return True


class Runner:
    """Runs one job; ``s3`` is a boto3 S3 client, ``run_record`` answers one record."""

    def __init__(self, job: Job, s3: Callable[[], Any],
                 run_record: Callable[[str, Any], tuple[dict[str, Any], int, int]],
                 seconds: float, job_fault: Callable[[Job], Any]):
        self.job, self._s3_factory, self.run_record = job, s3, run_record
        self.seconds, self.job_fault = seconds, job_fault
        self.files: list[InputFile] = []

    # -- phases ----------------------------------------------------------------------------------------
    def run(self) -> None:
        job = self.job
        try:
            self._phases()
        except JobFailure as failure:
            job.set_status("Failed", str(failure))
        except Exception as exc:  # noqa: BLE001 - a job ends Failed, never a dead thread with a stale status
            job.set_status("Failed", f"Internal error while running the job ({type(exc).__name__}).")
        if job.stop_event.is_set():
            self._stopped()

    def _phases(self) -> None:
        self.s3 = self._s3_factory()
        if self._after_wait("Validating"):
            self._validate()
            if self._after_wait("Scheduled") and self._after_wait("InProgress"):
                self._process()

    def _after_wait(self, status: str) -> bool:
        if self.job.stop_event.wait(self.seconds):
            return False
        return self.job.set_status(status)

    def _stopped(self) -> None:
        time.sleep(min(self.seconds, 0.5))  # Stopping is observable for a moment, as on Bedrock
        self.job.set_status("Stopped", force=True)

    # -- Validating ------------------------------------------------------------------------------------
    def _s3_error(self, uri: str, exc: Exception) -> JobFailure:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        code = {"404": "NoSuchBucket", "403": "AccessDenied"}.get(code, code)  # HeadBucket has no error body
        return JobFailure(f"Unable to access the S3 location {echo(uri)} ({code}). Check that the bucket "
                          f"and objects exist and that the service role can access them.")

    def _validate(self) -> None:
        job, req = self.job, self.job.request
        in_uri = req["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        out_uri = req["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"]
        out_bucket, _ = split_uri(out_uri)
        try:
            self.s3.head_bucket(Bucket=out_bucket)
        except Exception as exc:  # noqa: BLE001 - botocore ClientError or a connection error
            raise self._s3_error(out_uri, exc) from exc
        bucket, key = split_uri(in_uri)
        try:
            if key.endswith(".jsonl"):
                keys = [(key, key.rsplit("/", 1)[-1])]
            else:
                prefix = key.rstrip("/") + "/" if key.strip("/") else ""
                keys = []
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    keys += [(o["Key"], o["Key"][len(prefix):]) for o in page.get("Contents", [])
                             if o["Key"].endswith(".jsonl")]
            if not keys:
                raise JobFailure(f"No .jsonl input files found at {echo(in_uri)}.")
            total = 0
            for k, name in keys:
                f = InputFile(k, name)
                body = self.s3.get_object(Bucket=bucket, Key=k)["Body"]
                for n, raw in enumerate(body.iter_lines(), start=1):
                    if raw.strip():
                        f.records.append(self._record(raw, name, n))
                        total += 1
                        if total > job.terms.max_records:
                            break
                self.files.append(f)
        except JobFailure:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._s3_error(in_uri, exc) from exc
        if total < job.terms.min_records:
            raise JobFailure(f"The input has {total} records, fewer than the minimum of {job.terms.min_records} "
                             f"records per batch inference job for this model.")
        if total > job.terms.max_records:
            raise JobFailure(f"The input has more than {job.terms.max_records} records, the maximum number of "
                             f"records per batch inference job.")
        job.total = total

    def _record(self, raw: bytes, name: str, line: int) -> tuple[str, bytes]:
        bad = (f"Invalid record at line {line} of {echo(name)}: each line must be a JSON object with a "
               f"modelInput object and an optional recordId string.")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise JobFailure(bad) from exc
        if not isinstance(data, dict) or not isinstance(data.get("modelInput"), dict):
            raise JobFailure(bad)
        rid = data.get("recordId")
        if rid is None:
            rid = "".join(random.Random(f"{self.job.job_id}:{name}:{line}").choices(_ID_CHARS, k=11))
        elif not isinstance(rid, str) or not rid:
            raise JobFailure(bad)
        return rid, bytes(raw)

    # -- InProgress ------------------------------------------------------------------------------------
    def _process(self) -> None:
        job = self.job
        fault = self.job_fault(job)
        cut = None
        if fault.error == "ModelTimeoutException":
            cut = job.total // 2  # the job's time ran out half way
        elif fault.error:
            from .errors import DEFAULT_MESSAGES

            raise JobFailure(fault.message or DEFAULT_MESSAGES.get(fault.error, fault.error))
        pause = self.seconds / max(1, job.total)
        outputs = []
        try:
            for f in self.files:
                out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
                outputs.append((f, out))
                order = list(range(len(f.records)))
                random.Random(f"{job.job_id}:{f.key}").shuffle(order)  # order is not guaranteed
                for i in order:
                    if job.stop_event.is_set() or (cut is not None and job.processed >= cut):
                        break
                    rid, raw = f.records[i]
                    line, tokens_in, tokens_out = self.run_record(rid, json.loads(raw)["modelInput"])
                    out.write(json.dumps(line, ensure_ascii=False).encode("utf-8", "surrogatepass") + b"\n")
                    with job.lock:
                        job.processed += 1
                        job.errors += "error" in line
                        job.success += "error" not in line
                        job.input_tokens += tokens_in
                        job.output_tokens += tokens_out
                    if pause > 0.0005:
                        job.stop_event.wait(pause)
                f.records = []  # done with this file's inputs: free them
            self._write(outputs)
        finally:
            for _, out in outputs:
                out.close()
        if job.stop_event.is_set():
            return
        if cut is not None and job.processed < job.total:
            job.set_status("PartiallyCompleted", fault.message or
                           "Not all of the records could be processed before the job timed out.")
        else:
            job.set_status("Completed")

    def _write(self, outputs: list[tuple[InputFile, Any]]) -> None:
        job = self.job
        bucket, key = split_uri(job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        prefix = (key.rstrip("/") + "/" if key.strip("/") else "") + job.job_id + "/"
        for f, out in outputs:
            out.seek(0)
            self.s3.put_object(Bucket=bucket, Key=f"{prefix}{f.name}.out", Body=out)
        manifest = {"totalRecordCount": job.total, "processedRecordCount": job.processed,
                    "successRecordCount": job.success, "errorRecordCount": job.errors,
                    "inputTokenCount": job.input_tokens, "outputTokenCount": job.output_tokens}
        self.s3.put_object(Bucket=bucket, Key=f"{prefix}manifest.json.out",
                           Body=json.dumps(manifest).encode())
