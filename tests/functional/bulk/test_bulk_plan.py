"""Planning a bulk run without S3: the router's decision per record, Converse JSONL, job splits, batch prices."""

from __future__ import annotations

import json

import pytest

from chains import get_chain
from chains.bulk.plan import JobPlan, Planned, plan_records, split_jobs
from chains.bulk.records import read_records
from chains.bulk.terms import terms_for


def test_plan_uses_the_routers_decision_and_langchain_aws_request(runtime):
    chain = get_chain("qa", runtime)
    records = list(read_records([
        {"record_id": "easy", "input": {"question": "What is S3?"}},
        {"record_id": "pinned", "input": {"question": "What is S3?"}, "options": {"model": "nova_pro"}},
        {"record_id": "bad", "input": {"nope": 1}},
    ]))
    plan = plan_records(chain, records, {"max_tokens": 300})
    easy, pinned, bad = plan.planned
    assert easy.alias == "claude_haiku" and "fast tier" in easy.route["reason"]
    assert pinned.alias == "nova_pro" and pinned.route["mode"] == "pinned"
    assert bad.mode == "rejected" and bad.error["status"] == 400 and plan.rejected == [2]
    # Both groups are under the minimum per job: on demand, with the reason.
    assert plan.on_demand == [0, 1] and "fewer than the 100" in plan.reasons["claude_haiku"]



def test_batch_line_is_the_converse_request_the_on_demand_call_sends(clean_env):
    from tests.functional.bulk.conftest import runtime_with

    runtime = runtime_with({"min_records_per_job": 1})
    chain = get_chain("qa", runtime)
    plan = plan_records(chain, read_records([{"input": {"question": "What is S3?"}}]), {"max_tokens": 300})
    assert plan.planned[0].mode == "batch" and plan.jobs[0].indices == [0]
    line = json.loads(plan.planned[0].line)
    assert line["recordId"] == "R0000000000"
    chain.invoke({"question": "What is S3?", "options": {"max_tokens": 300}})
    sent = runtime.factory.emulator.calls[-1].body  # what langchain-aws sent on demand
    for key in ("messages", "system", "inferenceConfig"):
        assert line["modelInput"].get(key) == sent.get(key), key
    assert line["modelInput"]["inferenceConfig"]["maxTokens"] == 300


def test_jobs_split_evenly_within_the_limits(runtime):
    terms = terms_for(runtime.settings, "claude_haiku")
    members = [Planned(i, str(i), "batch", "claude_haiku", line="x" * 10) for i in range(120_001)]
    jobs = split_jobs(terms, members)
    assert [len(j.indices) for j in jobs] == [40_001, 40_000, 40_000]
    assert sorted(i for j in jobs for i in j.indices) == list(range(120_001))
    # The byte limit splits too (1 GB per file by default; here lines of 1 KB against a 1 MB limit).
    from dataclasses import replace

    small = replace(terms, max_bytes=1_000_000)
    big = [Planned(i, str(i), "batch", "claude_haiku", line="x" * 1023) for i in range(2_500)]
    jobs = split_jobs(small, big)
    assert len(jobs) == 3 and all(isinstance(j, JobPlan) and j.size <= 1_000_000 for j in jobs)


def test_batch_prices_come_from_the_catalogue(runtime):
    t = terms_for(runtime.settings, "nova_pro")
    assert t.batch and t.input_per_1k == pytest.approx(0.0004) and t.output_per_1k == pytest.approx(0.0016)
    assert t.ratio == pytest.approx(0.5)
