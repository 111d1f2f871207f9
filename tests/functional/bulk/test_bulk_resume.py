"""A collector killed and restarted resumes from the S3 manifest; failed records are typed and retried."""

from __future__ import annotations

import json

from chains import get_chain
from chains.bulk import collect, collect_all, retry_failed, status, submit, wait
from tests.functional.bulk.conftest import create_calls, questions, runtime_with


def _manifest(s3, uri):
    bucket, key = uri[5:].split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=f"{key}/manifest.json")["Body"].read())


def _put_manifest(s3, uri, manifest):
    bucket, key = uri[5:].split("/", 1)
    s3.put_object(Bucket=bucket, Key=f"{key}/manifest.json", Body=json.dumps(manifest).encode())


def test_killed_collector_resumes_without_resubmitting_or_duplicating(bulk_env):
    _, s3, prefix = bulk_env
    runtime = runtime_with({"max_records_per_job": 150})
    records = questions(420)  # 3 jobs of 140 (split evenly, none under the minimum)
    run = submit(get_chain("qa", runtime), records, prefix)
    assert [j["records"] for j in run.jobs] == [140, 140, 140]
    assert create_calls(runtime) == 3
    wait(run, poll_seconds=0.05)

    # The collector dies part-way through the second job's results.
    seen = []
    stream = collect(run.uri, runtime=runtime)
    for result in stream:
        seen.append(result["record_id"])
        if len(seen) == 150:
            break
    stream.close()
    del stream, run  # nothing survives but S3
    manifest = _manifest(s3, prefix + "/" + _manifest_run_id(s3, prefix))
    assert [p.get("collected") for p in manifest["parts"]] == [True, True, False]

    # ... and was killed between writing a part's results and saving the manifest: the part is redone whole.
    manifest["parts"][1]["collected"] = False
    _put_manifest(s3, manifest["run"], manifest)

    results = list(collect(manifest["run"], runtime=runtime))
    ids = [r["record_id"] for r in results]
    assert len(ids) == 420 and set(ids) == {r["record_id"] for r in records}
    assert seen == ids[:150]  # the same order: parts are stable
    assert create_calls(runtime) == 3  # nothing resubmitted
    assert status(manifest["run"], runtime=runtime)["parts_collected"] == 3


def _manifest_run_id(s3, prefix):
    bucket, key = prefix[5:].split("/", 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key + "/")["Contents"]]
    return next(k for k in keys if k.endswith("/manifest.json")).split("/")[-2]


def test_a_job_that_fails_part_of_its_records_then_retry_failed(bulk_env):
    runtime, _, prefix = bulk_env
    emulator = runtime.factory.emulator
    haiku = runtime.settings.model("claude_haiku").model_id
    emulator.add_fault(model=haiku, error="ThrottlingException", rate=0.2,
                       operation="batch_record")
    emulator.add_fault(model=haiku, error="ModelErrorException", rate=0.05,
                       operation="batch_record")
    run = submit(get_chain("qa", runtime), questions(300), prefix)
    results = list(collect(run, wait=True, poll_seconds=0.05))
    assert len({r["record_id"] for r in results}) == 300
    failed = [r for r in results if not r["ok"]]
    assert 20 < len(failed) < 150
    # The same error types and statuses as on demand (chains.errors reads the batch error codes).
    kinds = {(r["error"]["type"], r["error"]["status"], r["error"]["code"]) for r in failed}
    assert kinds <= {("Throttled", 429, "ThrottlingException"), ("ModelUnavailable", 503, "ModelErrorException")}
    assert ("Throttled", 429, "ThrottlingException") in kinds
    assert all(r["bulk"]["mode"] == "batch" and r["route"]["model"] == "claude_haiku" for r in failed)
    assert status(run)["job_states"] == {"Completed": 1}

    emulator.clear_faults()
    retried = retry_failed(run)
    assert retried["retried"] == len(failed) and retried["answered"] == len(failed)
    summary = collect_all(run)
    assert summary["records"] == 300 and summary["answered"] == 300 and summary["failed"] == 0
    after = list(collect(run))
    assert len({r["record_id"] for r in after}) == 300 == len(after)
    again = {r["record_id"]: r for r in after if r["bulk"].get("reason") == "retry_failed"}
    assert set(again) == {r["record_id"] for r in failed}
    assert all(r["bulk"]["mode"] == "on_demand" and r["ok"] for r in again.values())
    assert create_calls(runtime) == 1


def test_a_job_that_runs_out_of_time_is_partially_completed(bulk_env):
    runtime, _, prefix = bulk_env
    runtime.factory.emulator.add_fault(model="*", error="ModelTimeoutException", operation="batch_job")
    run = submit(get_chain("qa", runtime), questions(200), prefix)
    summary = collect_all(run, wait=True, poll_seconds=0.05)
    assert status(run)["job_states"] == {"PartiallyCompleted": 1}
    assert summary["records"] == 200 and summary["answered"] == 100 and summary["failed"] == 100
    assert summary["errors"] == {"ModelUnavailable": 100}
    missing = [r for r in collect(run) if not r["ok"]]
    assert {r["error"]["code"] for r in missing} == {"RecordNotProcessed"}


def test_a_failed_job_fails_its_records_with_the_job_message(bulk_env):
    runtime, _, prefix = bulk_env
    runtime.factory.emulator.add_fault(model="*", error="InternalServerException", operation="batch_job",
                                       message="The batch job failed (injected).")
    run = submit(get_chain("qa", runtime), questions(120), prefix)
    results = list(collect(run, wait=True, poll_seconds=0.05))
    assert len(results) == 120 and not any(r["ok"] for r in results)
    err = results[0]["error"]
    assert err["code"] == "ModelInvocationJobFailed" and err["status"] == 503
    assert "injected" in err["message"]


def test_collect_within_a_time_budget_resumes_where_it_stopped(bulk_env):
    _, _, prefix = bulk_env
    from chains.bulk.events import handle_bulk

    runtime = runtime_with({"max_records_per_job": 100})
    run = submit(get_chain("qa", runtime), questions(200), prefix)
    wait(run, poll_seconds=0.05)
    # A Lambda with no time left to spare: no part is started, the answer says so.
    first = handle_bulk({"bulk": "collect", "run": run.uri}, runtime, remaining_ms=30_000)
    assert first["ok"] and first["complete"] is False and first["parts_collected"] == 0
    done = handle_bulk({"bulk": "collect", "run": run.uri}, runtime, remaining_ms=900_000)
    assert done["complete"] is True and done["records"] == 200 and done["answered"] == 200
