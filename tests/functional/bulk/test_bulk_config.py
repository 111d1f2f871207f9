"""The ``bulk:`` section: validated through chains.config.section (and by ``--check``), read by the runs."""

from __future__ import annotations

import pytest

from tests.functional.cli.test_check_sections import _check


def test_a_bad_bulk_section_fails_the_check_and_is_named(clean_env, tmp_path, capsys):
    code, out = _check(clean_env, tmp_path, lambda d: d.update(bulk={"timeout_hours": 3}), capsys)
    assert code == 1 and "bulk.timeout_hours" in out
    code, out = _check(clean_env, tmp_path, lambda d: d.update(bulk={"max_records": 5}), capsys)
    assert code == 1 and "bulk.max_records: unknown key" in out


def test_bulk_section_reaches_the_run(clean_env):
    from chains import get_chain
    from chains.bulk.plan import plan_records
    from chains.bulk.records import read_records
    from chains.bulk.settings import bulk_settings, role_arn
    from chains.errors import ConfigError
    from tests.functional.bulk.conftest import questions, runtime_with

    runtime = runtime_with({"min_records_per_job": 3, "role_arn": "arn:aws:iam::111122223333:role/batch-role"})
    assert bulk_settings(runtime.settings).min_records_per_job == 3
    assert role_arn(runtime.settings, backend="bedrock") == "arn:aws:iam::111122223333:role/batch-role"
    assert role_arn(runtime.settings, "arn:aws:iam::111122223333:role/given", "bedrock").endswith("/given")
    plan = plan_records(get_chain("qa", runtime), read_records(questions(3)))
    assert plan.on_demand == [] and len(plan.jobs) == 1
    with pytest.raises(ConfigError, match="bulk.poll_seconds"):
        bulk_settings(runtime_with({"poll_seconds": -1}).settings)
