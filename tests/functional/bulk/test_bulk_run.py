"""A bulk run end to end: submit, status, collect on bedrock_local's batch jobs over a loopback S3 server."""

from __future__ import annotations

import json

import pytest

from chains import get_chain
from chains.bulk import collect, collect_all, status, submit, wait
from tests.functional.bulk.conftest import create_calls, questions


def test_thousand_records_submit_status_collect(bulk_env):
    runtime, s3, prefix = bulk_env
    chain = get_chain("qa", runtime)
    records = questions(1000)
    records[7]["input"] = {"wrong": "field"}          # refused by the chain itself: a typed 400 result
    records[8] = "this line is not an object"           # an unusable line: also a result, never dropped
    run = submit(chain, records, prefix)

    assert run.uri.startswith(prefix + "/qa-")
    assert run.plan["records"] == 1000 and run.plan["batch"] == 998 and run.plan["rejected"] == 2
    assert run.plan["by_model"] == {"claude_haiku": {"batch": 998, "on_demand": 0}}
    assert [j["alias"] for j in run.jobs] == ["claude_haiku"] and run.jobs[0]["status"] == "Submitted"
    # The job's input is Converse-format JSONL: recordId + modelInput with maxTokens always set.
    bucket, key = run.uri[5:].split("/", 1)
    job_input = s3.get_object(Bucket=bucket, Key=f"{key}/jobs/{run.jobs[0]['name']}/input.jsonl")["Body"]
    first = json.loads(next(job_input.iter_lines()))
    assert set(first) == {"recordId", "modelInput"}
    assert first["modelInput"]["messages"][0]["role"] == "user"
    assert first["modelInput"]["inferenceConfig"]["maxTokens"] == 512

    early = status(run.uri, runtime=runtime)  # a run is named by its S3 URI alone
    assert early["records"] == 1000 and early["state"] in ("in_progress", "ready")

    final = wait(run, poll_seconds=0.05)
    assert final["state"] == "ready" and final["job_states"] == {"Completed": 1}

    results = list(collect(run))
    ids = [r["record_id"] for r in results]
    assert len(ids) == 1000 and len(set(ids)) == 1000
    assert set(ids) == {f"q{i}" for i in range(1000) if i not in (7, 8)} | {"q7", "9"}
    bad = {r["record_id"]: r for r in results if not r["ok"]}
    assert set(bad) == {"q7", "9"}
    assert bad["q7"]["error"]["status"] == 400 and bad["q7"]["error"]["type"] == "BadRequest"
    assert "unknown input field" in bad["q7"]["error"]["message"]
    assert bad["9"]["error"]["type"] == "BadRequest" and bad["9"]["bulk"]["mode"] == "rejected"

    answer = next(r for r in results if r["record_id"] == "q0")
    # The on-demand response shape, plus what bulk adds.
    for key_ in ("output", "model", "route", "attempts", "stop_reason", "usage", "usage_by_model", "cost_usd",
                 "on_demand_cost_usd", "bulk"):
        assert key_ in answer, key_
    assert answer["model"] == runtime.settings.model("claude_haiku").model_id
    assert answer["route"]["answered_by"] == "claude_haiku" and "fast tier" in answer["route"]["reason"]
    assert answer["bulk"]["mode"] == "batch" and answer["bulk"]["job_arn"] == run.jobs[0]["arn"]
    # Batch price is half the on-demand price (catalogue).
    assert answer["cost_usd"] == pytest.approx(answer["on_demand_cost_usd"] / 2, rel=0.02)

    summary = collect_all(run)
    assert summary["records"] == 1000 and summary["answered"] == 998 and summary["failed"] == 2
    assert summary["usage"]["total_tokens"] == sum(r.get("usage", {}).get("total_tokens", 0) for r in results)
    assert summary["cost_ratio"] == pytest.approx(0.5, abs=0.01)
    assert status(run)["state"] == "collected"
    assert create_calls(runtime) == 1


def test_too_few_records_for_a_job_run_on_demand(bulk_env):
    runtime, _, prefix = bulk_env
    run = submit(get_chain("qa", runtime), questions(30), prefix)
    assert run.plan["jobs"] == 0 and run.plan["on_demand"] == 30
    assert "fewer than the 100 a batch job needs" in run.plan["on_demand_reasons"]["claude_haiku"]
    results = list(collect(run))
    assert len(results) == 30 and all(r["ok"] for r in results)
    assert {r["bulk"]["mode"] for r in results} == {"on_demand"}
    assert all("fewer than the 100" in r["bulk"]["reason"] for r in results)
    # On demand: the chain's own route and on-demand price.
    assert all(r["cost_usd"] == r["on_demand_cost_usd"] > 0 for r in results)
    assert create_calls(runtime) == 0


def test_model_without_batch_support_runs_on_demand_and_says_so(bulk_env):
    _, _, prefix = bulk_env
    from bedrock_local import Emulator, load_profiles
    from bedrock_local.catalogue import load_catalogue

    from chains import build_runtime
    from chains.models import _profile_source

    # Bedrock refuses batch jobs for a model without batch inference ("Batch inference is not supported for the
    # requested model"); here the emulator's catalogue says so of claude_sonnet's model. The service's planning
    # thought it could (its catalogue view says batch): Bedrock's refusal sends the group on demand, with the
    # chain's fallbacks, and the run says why.
    runtime = build_runtime(backend="local", notice=False)
    sonnet = runtime.settings.model("claude_sonnet").model_id
    no_batch = load_catalogue({"no_batch": {"model_id": sonnet, "capabilities": {"batch": False}}})
    emulator = Emulator(profiles=load_profiles(_profile_source(runtime.settings)), catalogue=no_batch)
    runtime = build_runtime(backend="local", notice=False, emulator=emulator)
    run = submit(get_chain("qa", runtime), questions(120, options={"model": "claude_sonnet"}), prefix)
    assert run.plan["batch"] == 120 and run.jobs == []
    st = status(run)
    assert "Bedrock refused a batch job for claude_sonnet" in st["plan"]["on_demand_reasons"]["claude_sonnet"]
    results = list(collect(run))
    assert len({r["record_id"] for r in results}) == 120
    assert {r["bulk"]["mode"] for r in results} == {"on_demand"}
    assert all("not supported" in r["bulk"]["reason"] for r in results)
    assert all(r["ok"] and r["route"]["answered_by"] == "claude_sonnet" for r in results)


def test_run_over_budget_is_refused_before_anything_is_submitted(bulk_env):
    runtime, s3, prefix = bulk_env
    from chains.errors import BudgetExceeded

    with pytest.raises(BudgetExceeded) as info:
        submit(get_chain("qa", runtime), questions(200), prefix, max_cost_usd=0.01)
    err = info.value
    assert err.status == 400 and "nothing was submitted" in err.message
    assert err.details["estimated_cost_usd"] > 0.01 and err.details["plan"]["batch"] == 200
    assert create_calls(runtime) == 0
    bucket = prefix[5:].split("/")[0]
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    # The same run within budget goes ahead, and its estimate is at batch prices.
    run = submit(get_chain("qa", runtime), questions(200), prefix, max_cost_usd=1.0)
    assert run.plan["estimated_cost_usd"] == pytest.approx(run.plan["estimated_on_demand_cost_usd"] / 2, rel=0.01)


@pytest.mark.parametrize("name,strategy", [("summarize", "map_reduce"), ("agent", "agent"), ("chat", "chat")])
def test_strategies_with_dependent_calls_are_refused(bulk_env, name, strategy):
    runtime, _, prefix = bulk_env
    from chains.errors import BulkUnsupported

    with pytest.raises(BulkUnsupported) as info:
        submit(get_chain(name, runtime), questions(5), prefix)
    err = info.value
    assert err.status == 400
    assert f"uses the {strategy} strategy" in err.message and "strategies that run in bulk:" in err.message
    # The ones that can, from the strategies' own declarations (StrategySpec.bulk), with chains to use.
    assert {"routed", "fallback", "compare"} <= set(err.details["bulk_strategies"])
    assert not {"map_reduce", "agent", "chat"} & set(err.details["bulk_strategies"])
    assert "qa" in err.details["chains"] and name not in err.details["chains"]
    assert create_calls(runtime) == 0


def test_bad_prefix_and_unknown_run_are_typed(bulk_env):
    runtime, _, prefix = bulk_env
    from chains.errors import BadRequest, UnknownRun

    with pytest.raises(BadRequest):
        submit(get_chain("qa", runtime), questions(1), "bucket/without-scheme")
    with pytest.raises(UnknownRun) as info:
        status(prefix + "/no-such-run", runtime=runtime)
    assert info.value.status == 404
