"""Bulk runs as Lambda events (what the state machine sends): submit from a JSONL object in S3, status, collect."""

from __future__ import annotations

import json

import pytest

from chains.bulk.events import handle_bulk
from tests.functional.bulk.conftest import questions


def test_submit_status_collect_events(bulk_env):
    runtime, s3, prefix = bulk_env
    bucket = prefix[5:].split("/")[0]
    body = "\n".join(json.dumps(r) for r in questions(120)) + "\n"
    s3.put_object(Bucket=bucket, Key="in/tickets.jsonl", Body=body.encode())
    # The state machine passes its execution input as `request`.
    submitted = handle_bulk({"bulk": "submit", "s3": prefix,
                             "request": {"chain": "qa", "records_s3": f"s3://{bucket}/in/tickets.jsonl"}}, runtime)
    assert submitted["ok"] and submitted["run"].startswith(prefix) and submitted["batch"] == 120
    state = "in_progress"
    for _ in range(200):
        state = handle_bulk({"bulk": "status", "run": submitted["run"]}, runtime)["state"]
        if state != "in_progress":
            break
        runtime.factory.emulator.batch.wait(submitted["job_list"][0]["arn"], timeout=5)
    assert state == "ready"
    summary = handle_bulk({"bulk": "collect", "run": submitted["run"]}, runtime)
    assert summary["ok"] and summary["records"] == 120 and summary["answered"] == 120
    assert summary["cost_usd"] == pytest.approx(summary["on_demand_cost_usd"] / 2, rel=0.02)
    # The results stay in S3 next to the manifest.
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=submitted["run"].split("/", 3)[3])["Contents"]]
    assert any(k.endswith("/manifest.json") for k in keys) and any("/results/" in k for k in keys)


@pytest.mark.parametrize("event, words", [
    ({"bulk": "explode"}, "unknown bulk action 'explode'; bulk actions: submit, status, collect"),
    ({"bulk": "status"}, "needs 'run'"),
    ({"bulk": "submit", "chain": "qa", "s3": "s3://b/p"}, "exactly one of 'records'"),
    ({"bulk": "status", "run": "s3://b/r", "extra": 1}, "unknown field(s) extra"),
])
def test_bad_bulk_events_are_400s(bulk_env, event, words):
    from chains.errors import BadRequest

    with pytest.raises(BadRequest) as info:
        handle_bulk(event, bulk_env[0])
    assert words in info.value.message and info.value.status == 400


def test_cancel_stops_running_jobs(bulk_env):
    runtime, _, prefix = bulk_env
    runtime.factory.emulator.batch.seconds = 1.0  # slow jobs: still running when cancelled
    run = handle_bulk({"bulk": "submit", "chain": "qa", "s3": prefix, "records": questions(100)}, runtime)
    cancelled = handle_bulk({"bulk": "cancel", "run": run["run"]}, runtime)
    assert cancelled["stopping"] == [run["job_list"][0]["name"]]
    runtime.factory.emulator.batch.wait(run["job_list"][0]["arn"], timeout=10)
    assert handle_bulk({"bulk": "status", "run": run["run"]}, runtime)["job_states"] == {"Stopped": 1}
    summary = handle_bulk({"bulk": "collect", "run": run["run"]}, runtime)
    assert summary["records"] == 100 and summary["failed"] == 100 and summary["answered"] == 0
    from chains.bulk import collect

    codes = {r["error"]["code"] for r in collect(run["run"], runtime=runtime)}
    assert codes == {"ModelInvocationJobStopped"}
