"""Batch inference on bedrock_local: Create/Get/List/StopModelInvocationJob with real boto3 ``bedrock`` clients,
input and output through a real S3 API server on loopback (moto in server mode, tests/conftest.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from bl_helpers import _SESSION, HAIKU, NO_RETRY, NOVA, SONNET, make_client, user
from botocore.exceptions import ClientError

from bedrock_local import Emulator
from bedrock_local.batch import NO_BATCH, attach_control_plane
from bedrock_local.faults import rules_from_json

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/BedrockBatch"
ORDER = ["Submitted", "Validating", "Scheduled", "InProgress", "Completed"]
ENDED = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")


def converse_input(i: int) -> dict:
    return {"messages": user(f"Ticket {i}: the printer on floor {i % 7} jams. What should I do?"),
            "inferenceConfig": {"maxTokens": 60}}


def put_records(s3, bucket: str, key: str, n: int, make=converse_input, extra: list | None = None) -> list[str]:
    ids = [f"REC{i:05d}" for i in range(n)]
    lines = [json.dumps({"recordId": rid, "modelInput": make(i)}) for i, rid in enumerate(ids)]
    lines += [json.dumps(e) if not isinstance(e, str) else e for e in extra or []]
    s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    return ids


def read_lines(s3, bucket: str, key: str) -> list[dict]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


@pytest.fixture
def s3(s3_bucket):
    return s3_bucket


@pytest.fixture
def make_emu(s3):
    client, _ = s3

    def _make(seconds: float = 0.01, **kw) -> Emulator:
        return Emulator(seed=0, s3_client=client, batch_seconds=seconds, **kw)

    return _make


@pytest.fixture
def control(mode):
    """control(emu) -> a boto3 ``bedrock`` client answered by ``emu`` in the current mode."""
    servers = []

    def _control(emu: Emulator):
        if mode == "inprocess":
            return attach_control_plane(emu, _SESSION.client("bedrock", config=NO_RETRY))
        servers.append(emu.serve())
        return _SESSION.client("bedrock", endpoint_url=servers[-1].url, config=NO_RETRY)

    yield _control
    for s in servers:
        s.shutdown()


def create(bedrock, bucket: str, in_key: str = "in/records.jsonl", model: str = HAIKU, name: str = "tickets",
           kind: str | None = "Converse", **kw) -> str:
    args = dict(jobName=name, roleArn=ROLE, modelId=model,
                inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{bucket}/{in_key}"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/out/"}}, **kw)
    if kind:
        args["modelInvocationType"] = kind
    return bedrock.create_model_invocation_job(**args)["jobArn"]


def wait(bedrock, arn: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = bedrock.get_model_invocation_job(jobIdentifier=arn)
        if job["status"] in ENDED or time.monotonic() > deadline:
            return job
        time.sleep(0.01)


def job_id(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


# --- a job that runs to the end -------------------------------------------------------------------------------------


def test_150_converse_records_each_answered_once_with_a_correct_manifest(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu()
    bedrock = control(emu)
    ids = put_records(client, bucket, "in/records.jsonl", 150)
    arn = create(bedrock, bucket)
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/") and len(job_id(arn)) == 12
    job = wait(bedrock, arn)
    assert job["status"] == "Completed" and job["jobName"] == "tickets" and job["modelId"] == HAIKU
    assert job["endTime"] >= job["submitTime"]

    prefix = f"out/{job_id(arn)}/"
    assert keys(client, bucket, prefix) == [f"{prefix}manifest.json.out", f"{prefix}records.jsonl.out"]
    lines = read_lines(client, bucket, f"{prefix}records.jsonl.out")
    assert sorted(line["recordId"] for line in lines) == ids  # every record exactly once
    assert [line["recordId"] for line in lines] != ids  # order is not guaranteed: callers join on recordId
    by_id = {line["recordId"]: line for line in lines}
    assert by_id["REC00003"]["modelInput"] == converse_input(3)

    # The answer, usage and stop reason are the on-demand Converse answer for the same input.
    runtime = emu.attach(make_client())
    on_demand = runtime.converse(modelId=HAIKU, **converse_input(3))
    out = by_id["REC00003"]["modelOutput"]
    assert out["output"] == on_demand["output"] and out["usage"] == on_demand["usage"]
    assert out["stopReason"] == on_demand["stopReason"]

    manifest = json.loads(client.get_object(Bucket=bucket, Key=f"{prefix}manifest.json.out")["Body"].read())
    assert manifest == {
        "totalRecordCount": 150, "processedRecordCount": 150, "successRecordCount": 150, "errorRecordCount": 0,
        "inputTokenCount": sum(line["modelOutput"]["usage"]["inputTokens"] for line in lines),
        "outputTokenCount": sum(line["modelOutput"]["usage"]["outputTokens"] for line in lines)}
    assert (job["totalRecordCount"], job["processedRecordCount"], job["successRecordCount"],
            job["errorRecordCount"]) == (150, 150, 150, 0)
    bill = emu.batch.billing(arn)
    assert bill["cost_usd"] == pytest.approx(manifest["inputTokenCount"] / 1000 * 0.000125
                                             + manifest["outputTokenCount"] / 1000 * 0.000625)


def test_states_are_reported_in_order(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu(seconds=0.15)
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 100)
    arn = create(bedrock, bucket)
    seen: list[str] = []
    while not seen or seen[-1] not in ENDED:
        status = bedrock.get_model_invocation_job(jobIdentifier=arn)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        time.sleep(0.01)
    assert emu.batch.history(arn) == ORDER
    assert seen == [s for s in ORDER if s in seen] and seen[-1] == "Completed"
    assert len(seen) >= 3  # each phase lasts 0.15 s: polling sees most of them even on a loaded machine


def test_invoke_model_type_takes_native_bodies_and_refuses_converse_ones_per_record(s3, make_emu, control):
    client, bucket = s3
    bedrock = control(make_emu())

    def anthropic(i):
        return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
                "messages": [{"role": "user", "content": f"Summary of ticket {i}?"}]}

    empty = {**anthropic(0), "messages": []}
    put_records(client, bucket, "in/native.jsonl", 100, make=anthropic,
                extra=[{"recordId": "CONVERSE1", "modelInput": converse_input(1)},
                       {"recordId": "EMPTY", "modelInput": empty}])
    arn = create(bedrock, bucket, "in/native.jsonl", kind=None)  # InvokeModel is the default type
    job = wait(bedrock, arn)
    assert job["status"] == "Completed" and job["errorRecordCount"] == 2 and job["successRecordCount"] == 100
    lines = {line["recordId"]: line for line in read_lines(client, bucket, f"out/{job_id(arn)}/native.jsonl.out")}
    assert lines["REC00000"]["modelOutput"]["type"] == "message"
    assert lines["REC00000"]["modelOutput"]["usage"]["output_tokens"] > 0
    assert lines["CONVERSE1"]["error"]["errorCode"] == 400 and "modelOutput" not in lines["CONVERSE1"]
    # The same refusal, in the same words, as an on-demand InvokeModel call with that body.
    assert lines["EMPTY"]["error"] == {"errorCode": 400, "errorMessage": "A conversation must start with a user "
                                       "message. Try again with a conversation that starts with a user message."}


def test_missing_record_ids_are_filled_in(s3, make_emu, control):
    client, bucket = s3
    bedrock = control(make_emu())
    lines = [json.dumps({"modelInput": converse_input(i)}) for i in range(100)]
    client.put_object(Bucket=bucket, Key="in/noids.jsonl", Body="\n".join(lines).encode())
    arn = create(bedrock, bucket, "in/noids.jsonl")
    assert wait(bedrock, arn)["status"] == "Completed"
    got = [line["recordId"] for line in read_lines(client, bucket, f"out/{job_id(arn)}/noids.jsonl.out")]
    assert len(set(got)) == 100 and all(len(r) == 11 and r.isalnum() for r in got)


def test_a_folder_of_jsonl_files_gives_one_output_file_each(s3, make_emu, control):
    client, bucket = s3
    bedrock = control(make_emu())
    put_records(client, bucket, "in/dir/a.jsonl", 60)
    put_records(client, bucket, "in/dir/b.jsonl", 60)
    client.put_object(Bucket=bucket, Key="in/dir/readme.txt", Body=b"not input")
    arn = create(bedrock, bucket, "in/dir/")
    assert wait(bedrock, arn)["totalRecordCount"] == 120
    prefix = f"out/{job_id(arn)}/"
    assert keys(client, bucket, prefix) == [f"{prefix}a.jsonl.out", f"{prefix}b.jsonl.out",
                                            f"{prefix}manifest.json.out"]


# --- refused at CreateModelInvocationJob ----------------------------------------------------------------------------


def error_of(call) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_a_model_without_batch_support_is_refused(s3, make_emu, control):
    from bedrock_local.catalogue import load_catalogue

    _, bucket = s3
    # Which models take batch jobs is catalogue data (capabilities.batch); here a configured model without it.
    catalogue = load_catalogue({"no_batch": {"model_id": "example.no-batch-v1:0", "capabilities": {"batch": False}}})
    bedrock = control(make_emu(catalogue=catalogue))
    assert error_of(lambda: create(bedrock, bucket, model="example.no-batch-v1:0")) == \
        ("ValidationException", NO_BATCH, 400)
    code, message, _ = error_of(lambda: create(bedrock, bucket, model="anthropic.claude-v9"))
    assert (code, message) == ("ValidationException", "The provided model identifier is invalid.")
    assert bedrock.list_model_invocation_jobs()["invocationJobSummaries"] == []


@pytest.mark.parametrize("field, value, where", [
    ("roleArn", "not-a-role", "roleArn"),
    ("jobName", "bad name!", "jobName"),
    ("outputDataConfig", {"s3OutputDataConfig": {"s3Uri": "https://bucket/out"}}, "outputDataConfig"),
    ("modelInvocationType", "Chat", "modelInvocationType"),
])
def test_malformed_create_requests_are_validation_errors(s3, make_emu, control, field, value, where):
    _, bucket = s3
    bedrock = control(make_emu())
    args = dict(jobName="ok-name", roleArn=ROLE, modelId=HAIKU,
                inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{bucket}/in/a.jsonl"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/out/"}})
    args[field] = value
    code, message, status = error_of(lambda: bedrock.create_model_invocation_job(**args))
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("1 validation error detected: Value ") and f"at '{where}" in message


def test_the_same_client_request_token_gives_the_same_job(s3, make_emu, control):
    client, bucket = s3
    bedrock = control(make_emu())
    put_records(client, bucket, "in/records.jsonl", 100)
    first = create(bedrock, bucket, clientRequestToken="retry-token-1")
    assert create(bedrock, bucket, clientRequestToken="retry-token-1") == first
    assert len(bedrock.list_model_invocation_jobs()["invocationJobSummaries"]) == 1


# --- failed while Validating ----------------------------------------------------------------------------------------


def test_too_few_records_fail_validation(s3, make_emu, control):
    client, bucket = s3
    bedrock = control(make_emu())
    put_records(client, bucket, "in/records.jsonl", 99)
    arn = create(bedrock, bucket)
    job = wait(bedrock, arn)
    assert job["status"] == "Failed" and "99 records" in job["message"] and "minimum of 100" in job["message"]
    assert keys(client, bucket, "out/") == []


def test_too_many_records_fail_validation(s3, make_emu, control, monkeypatch):
    import bedrock_local.batch_models as models

    client, bucket = s3
    # 50,000 records would take the test a while; the limit is read from the terms, so lower it.
    monkeypatch.setitem(models._TABLE, HAIKU, models.BatchTerms(min_records=100, max_records=120))
    bedrock = control(make_emu())
    put_records(client, bucket, "in/records.jsonl", 121)
    job = wait(bedrock, create(bedrock, bucket))
    assert job["status"] == "Failed" and "more than 120 records" in job["message"]


def test_a_bad_record_shape_fails_validation(s3, make_emu, control):
    client, bucket = s3
    bedrock = control(make_emu())
    put_records(client, bucket, "in/records.jsonl", 100, extra=[{"recordId": "X", "input": {}}])
    job = wait(bedrock, create(bedrock, bucket))
    assert job["status"] == "Failed" and "line 101 of records.jsonl" in job["message"]
    put_records(client, bucket, "in/records.jsonl", 100, extra=["{not json"])
    job = wait(bedrock, create(bedrock, bucket))
    assert job["status"] == "Failed" and "line 101" in job["message"]


@pytest.mark.parametrize("where", ["bucket", "key"])
def test_a_missing_bucket_or_key_fails_validation(s3, make_emu, control, where):
    client, bucket = s3
    bedrock = control(make_emu())
    arn = create(bedrock, "no-such-bucket-here" if where == "bucket" else bucket, "in/absent.jsonl")
    job = wait(bedrock, arn)
    assert job["status"] == "Failed"
    assert ("NoSuchBucket" if where == "bucket" else "NoSuchKey") in job["message"]
    assert job["totalRecordCount"] == 0


# --- faults ---------------------------------------------------------------------------------------------------------


def test_records_that_fail_become_error_lines_and_on_demand_calls_are_untouched(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu()
    emu.add_fault("haiku", error="ThrottlingException", rate=0.2, operation="batch_record")
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 150)
    arn = create(bedrock, bucket)
    job = wait(bedrock, arn)
    # A record the model refuses is an error line; the job still completes (PartiallyCompleted is for a job that
    # ran out of time, see the timeout test below).
    assert job["status"] == "Completed"
    lines = read_lines(client, bucket, f"out/{job_id(arn)}/records.jsonl.out")
    errors = [line for line in lines if "error" in line]
    assert len(lines) == 150 and 10 < len(errors) < 60 and job["errorRecordCount"] == len(errors)
    assert all(set(e) == {"recordId", "modelInput", "error"} for e in errors)
    assert {e["error"]["errorCode"] for e in errors} == {429}
    assert {e["error"]["errorMessage"] for e in errors} == {"Too many requests, please wait before trying again."}
    manifest = json.loads(client.get_object(Bucket=bucket, Key=f"out/{job_id(arn)}/manifest.json.out")["Body"]
                          .read())
    assert manifest["errorRecordCount"] == len(errors) and manifest["successRecordCount"] == 150 - len(errors)
    # The rule is scoped to batch records: on-demand calls to the same model are not throttled.
    runtime = emu.attach(make_client())
    assert all(runtime.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] for _ in range(10))


def test_an_unscoped_rule_reaches_batch_records_as_it_reaches_on_demand_calls(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu()
    emu.add_fault("claude_haiku", error="ModelErrorException", first_n=3)  # no operation: every call of the model
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 100)
    arn = create(bedrock, bucket)
    assert wait(bedrock, arn)["errorRecordCount"] == 3
    errors = [line["error"] for line in read_lines(client, bucket, f"out/{job_id(arn)}/records.jsonl.out")
              if "error" in line]
    assert [e["errorCode"] for e in errors] == [424] * 3


def test_a_job_that_runs_out_of_time_is_partially_completed(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu()
    emu.add_fault("*", error="ModelTimeoutException", operation="batch_job")
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 150)
    arn = create(bedrock, bucket)
    job = wait(bedrock, arn)
    assert job["status"] == "PartiallyCompleted" and job["processedRecordCount"] == 75
    assert len(read_lines(client, bucket, f"out/{job_id(arn)}/records.jsonl.out")) == 75


def test_a_whole_job_failure_by_fault_injection(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu(faults=rules_from_json('[{"model": "nova", "operation": "batch_job", '
                                          '"error": "InternalServerException", "message": "capacity lost"}]'))
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 100)
    nova = wait(bedrock, create(bedrock, bucket, model=NOVA, name="nova-job"))
    haiku = wait(bedrock, create(bedrock, bucket, model=HAIKU, name="haiku-job"))
    assert (nova["status"], nova["message"]) == ("Failed", "capacity lost")
    assert haiku["status"] == "Completed"
    assert keys(client, bucket, f"out/{job_id(nova['jobArn'])}/") == []


def test_fault_operations_are_checked():
    with pytest.raises(ValueError, match="unknown fault operation"):
        rules_from_json('[{"operation": "batch"}]')


# --- Stop and List --------------------------------------------------------------------------------------------------


def test_stop_moves_through_stopping_to_stopped(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu(seconds=0.3)
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 100)
    arn = create(bedrock, bucket)
    assert bedrock.stop_model_invocation_job(jobIdentifier=arn)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopping"
    job = wait(bedrock, arn)
    assert job["status"] == "Stopped" and job["processedRecordCount"] == 0
    assert emu.batch.history(arn) == ["Submitted", "Stopping", "Stopped"]
    code, message, _ = error_of(lambda: bedrock.stop_model_invocation_job(jobIdentifier=arn))
    assert code == "ValidationException" and "Stopped" in message
    code, _, status = error_of(lambda: bedrock.get_model_invocation_job(jobIdentifier="abcdefghijkl"))
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_stop_while_in_progress_keeps_what_was_done(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu(seconds=0.5)  # InProgress paces 100 records over 0.5 s: time to stop half way
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 100)
    arn = create(bedrock, bucket)
    while bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] != "InProgress":
        time.sleep(0.005)
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    job = wait(bedrock, arn)
    assert job["status"] == "Stopped" and job["processedRecordCount"] < 100
    lines = read_lines(client, bucket, f"out/{job_id(arn)}/records.jsonl.out")
    assert len(lines) == job["processedRecordCount"]


def test_list_filters_sorts_and_pages(s3, make_emu, control):
    client, bucket = s3
    emu = make_emu()
    bedrock = control(emu)
    put_records(client, bucket, "in/records.jsonl", 100)
    put_records(client, bucket, "in/small.jsonl", 5)
    arns = [create(bedrock, bucket, name="alpha-one"), create(bedrock, bucket, "in/small.jsonl", name="beta-two"),
            create(bedrock, bucket, name="alpha-three")]
    for arn in arns:
        wait(bedrock, arn)
    summaries = bedrock.list_model_invocation_jobs()["invocationJobSummaries"]
    assert [s["jobArn"] for s in summaries] == arns[::-1]  # newest first by default
    ascending = bedrock.list_model_invocation_jobs(sortBy="CreationTime", sortOrder="Ascending")
    assert [s["jobArn"] for s in ascending["invocationJobSummaries"]] == arns
    assert {s["jobName"] for s in bedrock.list_model_invocation_jobs(nameContains="alpha")
            ["invocationJobSummaries"]} == {"alpha-one", "alpha-three"}
    failed = bedrock.list_model_invocation_jobs(statusEquals="Failed")["invocationJobSummaries"]
    assert [s["jobName"] for s in failed] == ["beta-two"] and "minimum" in failed[0]["message"]
    middle = summaries[1]["submitTime"]
    after = bedrock.list_model_invocation_jobs(submitTimeAfter=middle)["invocationJobSummaries"]
    before = bedrock.list_model_invocation_jobs(submitTimeBefore=middle)["invocationJobSummaries"]
    assert [s["jobArn"] for s in after] == [arns[2]] and [s["jobArn"] for s in before] == [arns[0]]
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert bedrock.list_model_invocation_jobs(submitTimeAfter=future)["invocationJobSummaries"] == []
    page = bedrock.list_model_invocation_jobs(maxResults=2)
    assert len(page["invocationJobSummaries"]) == 2 and page["nextToken"]
    rest = bedrock.list_model_invocation_jobs(maxResults=2, nextToken=page["nextToken"])
    assert [s["jobArn"] for s in rest["invocationJobSummaries"]] == [arns[0]] and "nextToken" not in rest
    pages = bedrock.get_paginator("list_model_invocation_jobs").paginate(PaginationConfig={"PageSize": 1})
    assert [s["jobArn"] for p in pages for s in p["invocationJobSummaries"]] == arns[::-1]
    code, _, _ = error_of(lambda: bedrock.list_model_invocation_jobs(statusEquals="Done"))
    assert code == "ValidationException"


# --- the CLI server, S3 from boto3's usual configuration ------------------------------------------------------------


def test_python_m_bedrock_local_runs_jobs_against_aws_endpoint_url_s3(s3, s3_server):
    client, bucket = s3
    put_records(client, bucket, "in/records.jsonl", 100)
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": s3_server, "BEDROCK_LOCAL_BATCH_SECONDS": "0.01"}
    proc = subprocess.Popen([sys.executable, "-m", "bedrock_local", "--port", "0", "--latency-scale", "1.0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        bedrock = _SESSION.client("bedrock", endpoint_url=url, config=NO_RETRY)
        arn = create(bedrock, bucket)
        job = wait(bedrock, arn)
        assert job["status"] == "Completed" and job["successRecordCount"] == 100
        assert len(read_lines(client, bucket, f"out/{job_id(arn)}/records.jsonl.out")) == 100
    finally:
        proc.terminate()
        proc.wait(timeout=10)
