"""Bulk events through the service (what the state machine's tasks invoke) and the CLI in its own process
(``python handler.py bulk ...`` and ``python -m chains.cli bulk ...``: the console script's main)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chains.service import handle
from tests.conftest import FakeLambdaContext
from tests.functional.bulk.conftest import questions

ROOT = Path(__file__).resolve().parents[3]


def test_bulk_events_through_the_service(bulk_env):
    runtime, _, prefix = bulk_env
    status, body = handle({"bulk": "submit", "chain": "qa", "s3": prefix, "records": questions(101)},
                          FakeLambdaContext(), runtime)
    assert status == 200 and body["ok"] and body["batch"] == 101 and body["request_id"] == "req-0001"
    runtime.factory.emulator.batch.wait(body["job_list"][0]["arn"], timeout=20)
    status, st = handle({"bulk": "status", "run": body["run"]}, FakeLambdaContext(), runtime)
    assert status == 200 and st["state"] == "ready"
    status, summary = handle({"bulk": "collect", "run": body["run"]}, FakeLambdaContext(remaining_ms=600_000),
                             runtime)
    assert status == 200 and summary["complete"] and summary["answered"] == 101
    # Typed errors in the usual envelope.
    status, bad = handle({"bulk": "submit", "chain": "chat", "s3": prefix, "records": questions(1)},
                         FakeLambdaContext(), runtime)
    assert status == 400 and bad["error"]["type"] == "BulkUnsupported"
    status, missing = handle({"bulk": "status", "run": prefix + "/nothing"}, FakeLambdaContext(), runtime)
    assert status == 404 and missing["error"]["type"] == "UnknownRun"


def test_bulk_events_are_not_taken_over_the_function_url(bulk_env):
    runtime, _, prefix = bulk_env
    event = {"rawPath": "/", "requestContext": {"http": {"method": "POST"}},
             "body": json.dumps({"bulk": "status", "run": prefix + "/x"})}
    status, body = handle(event, FakeLambdaContext(), runtime)
    assert status == 400 and "not over the Function URL" in body["error"]["message"]


def test_cli_in_its_own_processes(bulk_env, s3_server, tmp_path):
    _, _, prefix = bulk_env
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "CHAINS_CONFIG"}
    env.update(AWS_ENDPOINT_URL_S3=s3_server, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", CHAINS_BACKEND="local", BEDROCK_LOCAL_BATCH_SECONDS="0.02",
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"))
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in questions(100)))
    submit = subprocess.run(
        [sys.executable, "handler.py", "bulk", "submit", str(records), "--chain", "qa", "--s3", prefix, "--wait",
         "--poll-seconds", "0.05"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert submit.returncode == 0, submit.stderr[-2000:]
    run = json.loads(submit.stdout)["run"]
    assert "bulk jobs" in submit.stderr  # the tqdm progress bar, on stderr
    out = tmp_path / "results.jsonl"
    collect = subprocess.run([sys.executable, "-m", "chains.cli", "bulk", "collect", run, "--out", str(out)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert collect.returncode == 0, collect.stderr[-2000:]
    summary = json.loads(collect.stdout)
    assert summary["records"] == summary["answered"] == 100
    assert len(out.read_text().splitlines()) == 100
