"""Compare in bulk: one batch job per model over the same records, the judge as a second batch pass, a summary
per model over the whole set."""

from __future__ import annotations

import pytest

from chains import get_chain
from chains.bulk import collect, collect_all, status, submit
from tests.functional.bulk.conftest import create_calls, questions, runtime_with

JUDGE_ON_NOVA = {"compare": {"judge": {"model": "nova_pro", "prompt": "judge", "max_tokens": 1024}}}


def test_compare_in_bulk_two_models_and_a_batch_judge(bulk_env):
    _, _, prefix = bulk_env
    runtime = runtime_with({}, JUDGE_ON_NOVA)
    run = submit(get_chain("compare", runtime), questions(110), prefix,
                 options={"models": ["claude_haiku", "nova_pro"]})
    assert run.kind == "compare"
    assert sorted(j["alias"] for j in run.jobs) == ["claude_haiku", "nova_pro"]
    assert all(j["records"] == 110 for j in run.jobs)

    summary = collect_all(run, wait=True, poll_seconds=0.05)
    assert summary["records"] == 110 and summary["answered"] == 110
    # The judge ran as a third job, a batch pass over the answers.
    st = status(run)
    judge_jobs = [j for j in st["jobs"] if j["name"].endswith("-judge")]
    assert len(judge_jobs) == 1 and judge_jobs[0]["alias"] == "nova_pro" and judge_jobs[0]["records"] == 110
    assert create_calls(runtime) == 3

    models = summary["compare"]["models"]
    assert set(models) == {"claude_haiku", "nova_pro"}
    for m in models.values():
        assert m["answered"] == 110 and m["failed"] == 0
        assert 1 <= m["mean_score"] <= 10
        assert m["cost_usd"] == pytest.approx(m["on_demand_cost_usd"] / 2, rel=0.02)
    assert summary["compare"]["judge_cost_usd"] > 0

    lines = list(collect(run))
    assert len({r["record_id"] for r in lines}) == 110 == len(lines)
    line = lines[0]
    assert [e["alias"] for e in line["results"]] == ["claude_haiku", "nova_pro"]
    assert all("score" in e and e["mode"] == "batch" for e in line["results"])
    assert line["judge"]["mode"] == "batch" and set(line["judge"]["scores"]) == {"claude_haiku", "nova_pro"}
    assert line["route"]["strategy"] == "compare" and "best judge score" in line["route"]["reason"]
    assert line["output"] in {e["output"] for e in line["results"]}


def test_small_compare_runs_on_demand_with_the_judge_on_demand(bulk_env):
    runtime, _, prefix = bulk_env
    run = submit(get_chain("compare", runtime), questions(4), prefix,
                 options={"models": ["claude_haiku", "nova_pro"]})
    assert run.jobs == []
    lines = list(collect(run))
    assert len(lines) == 4
    assert all(e["mode"] == "on_demand" for r in lines for e in r["results"])
    assert {r["judge"]["mode"] for r in lines} == {"on_demand"}
    assert all(r["judge"]["scores"] for r in lines)
    assert create_calls(runtime) == 0
