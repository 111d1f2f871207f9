"""Issue 15: streaming treats bad model answers as invoke does, and a new user's friction (the CLI's messages
and columns, compare's "fastest" offline, the emulator's marker, dummy credentials in the docs)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chains import build_runtime, get_chain
from chains.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
QA = {"question": "Which family is Nova from?", "context": "Amazon Nova is Amazon's own family of models."}


def primary(runtime):
    return get_chain("qa", runtime).invoke(QA)["route"]["model"]


def streamed(chain, inputs):
    chunks = list(chain.stream(inputs))
    merged = {}
    for c in chunks:
        for k, v in c.items():
            merged[k] = merged.get(k, "") + v if k == "output" else v
    return merged


# --- streaming ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault, code", [({"empty": True}, "EmptyAnswer"), ({"malformed": True}, "MalformedResponse")])
def test_a_bad_answer_before_the_first_chunk_falls_over_as_invoke_does(runtime, emulator, fault, code):
    first = primary(runtime)
    emulator.add_fault(first, **fault)
    chain = get_chain("qa", runtime)
    result = streamed(chain, QA)
    # What invoke records for the same fault (tests/reliability/test_faults.py): the same code and class.
    assert result["output"].strip() and result["model"] != runtime.settings.models[first].model_id
    assert [a["code"] for a in result["attempts"]] == [code]
    assert result["attempts"][0]["alias"] == first and result["attempts"][0]["error_class"] == "unavailable"


@pytest.mark.parametrize("fault", [{"empty": True}, {"malformed": True}])
def test_a_bad_answer_everywhere_streams_the_same_typed_error_as_invoke(runtime, emulator, fault):
    emulator.add_fault("*", **fault)
    chain = get_chain("qa", runtime)
    with pytest.raises(Exception) as streamed_err:
        list(chain.stream(QA))
    with pytest.raises(Exception) as invoked_err:
        chain.invoke(QA)
    assert type(streamed_err.value) is type(invoked_err.value)
    assert streamed_err.value.status == invoked_err.value.status == 503


def test_a_failure_after_the_first_chunk_is_stream_interrupted(runtime, emulator):
    emulator.add_fault("*", stream_cut_after=3)
    with pytest.raises(Exception) as info:
        list(get_chain("qa", runtime).stream(QA))
    assert type(info.value).__name__ == "StreamInterrupted" and info.value.status == 502


# --- the command line ---------------------------------------------------------------------------------------------

def run_cli(*args, env_extra=None, cwd=ROOT):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CHAINS_BACKEND="local", BEDROCK_LOCAL_LIFECYCLE="0", **(env_extra or {}))
    return subprocess.run([sys.executable, "handler.py", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args, says", [((), "nothing to do"), (("--ping",), "--ping works only with --check")])
def test_the_cli_says_what_is_wrong(args, says):
    proc = run_cli(*args)
    assert proc.returncode == 2 and says in proc.stderr


def test_list_and_check_columns_stay_aligned_with_long_names(clean_env, tmp_path, capsys):
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    data["chains"]["a_rather_long_chain_name_for_alignment"] = dict(data["chains"]["qa"])
    alias = next(iter(data["models"]))
    data["models"]["a_model_alias_that_is_long"] = dict(data["models"][alias])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    import shutil

    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    clean_env.setenv("CHAINS_CONFIG", str(tmp_path / "config.yaml"))
    clean_env.setenv("CHAINS_BACKEND", "local")
    assert cli_main(["--list"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    starts = {line.index("prompt=") for line in lines}
    assert len(lines) == len(data["chains"]) and len(starts) == 1  # the prompt column starts at one place
    cli_main(["--check"])
    out = capsys.readouterr().out.splitlines()
    models = out[out.index("models:") + 1:]
    import re

    id_columns = {re.match(r"(\s+\S+\s+)\S", line).end(1) for line in models}
    assert len(models) == len(data["models"]) and len(id_columns) == 1  # model ids start at one place


# --- compare's fastest, offline -------------------------------------------------------------------------------------

def test_offline_fastest_is_the_simulated_latency_and_stable(runtime):
    chain = get_chain("compare", runtime)
    picks = set()
    for _ in range(3):
        body = chain.invoke({"question": "Which family is Amazon Nova?", "options": {"judge": False}})
        ok = [r for r in body["results"] if r["status"] == "ok"]
        expected = min(ok, key=lambda r: (r["bedrock_latency_ms"], r["model_alias"] if "model_alias" in r
                                          else r.get("alias")))
        picks.add(body["summary"]["fastest"])
        assert body["summary"]["fastest"] == expected.get("alias", expected.get("model_alias"))
    assert len(picks) == 1


# --- the emulator's marker ------------------------------------------------------------------------------------------

def test_a_summary_of_summaries_has_one_marker_and_an_unsplit_model_id(runtime):
    document = "\n\n".join(f"Section {i}. Nova Pro is discussed here: finding {i} costs {i % 7} units and "
                           f"answers within {100 + i} milliseconds. The team reviews it every quarter."
                           for i in range(30000))  # ~1.07M tokens: over every window (Sonnet 5.5: 1M)
    body = get_chain("summarize", runtime).invoke({"text": document})
    assert body.get("chunks", 2) > 1
    assert body["output"].count("[bedrock_local ·") == 1
    marker = body["output"].split("]", 1)[0]
    assert ". " not in marker and body["model"] in marker


# --- credentials ----------------------------------------------------------------------------------------------------

def test_the_docs_say_any_dummy_credentials_work_for_the_emulator_and_the_service_needs_none(runtime):
    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "docs" / "bedrock_local.md").read_text()
    assert "dummy" in readme and "AWS_ACCESS_KEY_ID=test" in readme
    assert "Any dummy AWS credentials" in guide
    # The service itself, with no credentials anywhere (clean_env), answers through the emulator.
    assert get_chain("qa", runtime).invoke(QA)["output"]
