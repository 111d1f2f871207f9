"""``bulk submit / status / collect`` on the command line: JSON on stdout, results JSONL, typed errors."""

from __future__ import annotations

import json

import pytest

from chains.cli.bulk import main
from tests.functional.bulk.conftest import questions


@pytest.fixture
def cli_env(bulk_env, tmp_path):
    runtime, s3, prefix = bulk_env
    bulk_env_monkeypatch = None  # noqa: F841 - the environment is bulk_env's
    import os

    os.environ["CHAINS_BACKEND"] = "local"  # restored by clean_env (monkeypatch) at teardown
    records = tmp_path / "records.jsonl"
    lines = [json.dumps({k: v for k, v in r.items() if k != "record_id"}) for r in questions(104)]
    records.write_text("\n".join(lines) + "\n")
    return prefix, records, tmp_path


def _json(capsys):
    out = capsys.readouterr().out
    return json.loads(out)


def test_submit_wait_status_collect(cli_env, capsys, clean_env):
    clean_env.setenv("CHAINS_BACKEND", "local")
    prefix, records, tmp = cli_env
    assert main(["submit", str(records), "--chain", "qa", "--s3", prefix, "--options", '{"max_tokens": 200}',
                 "--wait", "--poll-seconds", "0.05"]) == 0
    submitted = _json(capsys)
    run = submitted["run"]
    assert submitted["ok"] and run.startswith(prefix) and submitted["batch"] == 104
    assert submitted["status"]["state"] == "ready"

    assert main(["status", run]) == 0
    assert _json(capsys)["job_states"] == {"Completed": 1}

    out = tmp / "results.jsonl"
    assert main(["collect", run, "--out", str(out)]) == 0
    summary = _json(capsys)
    assert {k: summary[k] for k in ("records", "answered", "failed")} == {"records": 104, "answered": 104, "failed": 0}
    assert summary["usage"]["total_tokens"] > 0 and summary["cost_usd"] < summary["on_demand_cost_usd"]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    # record_id defaults to the line number; a result line is record_id + the on-demand response shape.
    assert sorted(int(r["record_id"]) for r in lines) == list(range(1, 105))
    assert all(r["ok"] and r["output"] and r["route"]["reason"] for r in lines)
    assert all(r["usage"]["output_tokens"] <= 200 for r in lines)


def test_cli_errors_are_json(cli_env, capsys, clean_env):
    clean_env.setenv("CHAINS_BACKEND", "local")
    prefix, records, _ = cli_env
    assert main(["submit", str(records), "--chain", "summarize", "--s3", prefix]) == 1
    err = _json(capsys)["error"]
    assert err["type"] == "BulkUnsupported" and err["status"] == 400
    assert main(["submit", str(records), "--chain", "qa", "--s3", prefix, "--options", "{bad"]) == 1
    assert "--options is not valid JSON" in _json(capsys)["error"]["message"]
    assert main(["submit", "/no/such/file.jsonl", "--chain", "qa", "--s3", prefix]) == 1
    assert "cannot read /no/such/file.jsonl" in _json(capsys)["error"]["message"]
    assert main(["submit", str(records), "--chain", "qa", "--s3", prefix, "--max-cost-usd", "0.0001"]) == 1
    assert _json(capsys)["error"]["type"] == "BudgetExceeded"
    assert main(["status", prefix + "/missing-run"]) == 1
    assert _json(capsys)["error"]["status"] == 404
