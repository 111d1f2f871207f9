"""``--check`` validates every section of the configuration (through ``chains.config.section``), every
chain's strategy settings and every chain's prompt file: what would fail every request with a 500 fails here,
with exit code 1 and the section named."""

from __future__ import annotations

import copy

import pytest
import yaml

from chains.cli import main
from chains.config import DEFAULT_CONFIG_PATH

BASE = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))


def _write(tmp_path, change):
    data = copy.deepcopy(BASE)
    change(data)
    data["prompts_dir"] = str(DEFAULT_CONFIG_PATH.parent / "prompts")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _check(clean_env, tmp_path, change, capsys):
    clean_env.setenv("CHAINS_CONFIG", str(_write(tmp_path, change)))
    code = main(["--check"])
    return code, capsys.readouterr().out


def test_the_default_configuration_passes(clean_env, tmp_path, capsys):
    code, out = _check(clean_env, tmp_path, lambda d: None, capsys)
    assert code == 0, out
    assert "configuration: ok" in out


@pytest.mark.parametrize("section, change, named", [
    ("tokens", lambda d: d.setdefault("tokens", {}).update(chunk_size="big"), "tokens.chunk_size"),
    ("tokens", lambda d: d.setdefault("tokens", {}).update(chunk_overlap=9000, chunk_size=1000), "chunk_overlap"),
    ("router", lambda d: d.setdefault("router", {}).update(mode="telepathy"), "router.mode"),
    ("router", lambda d: d.setdefault("router", {}).setdefault("llm", {}).update(model="gpt"), "router.llm.model"),
    ("resilience", lambda d: d.setdefault("resilience", {}).update(cooldown_s={"sleepy": 3}), "resilience.cooldown_s"),
    ("observability", lambda d: d.setdefault("observability", {}).update(log_format="xml"), "observability.log_format"),
    ("compare", lambda d: d["compare"]["judge"].update(model="no_such_model"), "compare.judge.model"),
])
def test_a_bad_section_fails_the_check_and_is_named(clean_env, tmp_path, capsys, section, change, named):
    code, out = _check(clean_env, tmp_path, change, capsys)
    assert code == 1, out
    assert named in out
    assert "configuration: " in out and "problem" in out


def test_a_missing_prompt_file_fails_the_check(clean_env, tmp_path, capsys):
    def change(d):
        d["chains"]["qa"]["prompt"] = "no_such_prompt"

    code, out = _check(clean_env, tmp_path, change, capsys)
    assert code == 1, out
    assert "chains.qa" in out and "no_such_prompt" in out and "not found" in out


def test_bad_strategy_settings_of_a_chain_fail_the_check(clean_env, tmp_path, capsys):
    def change(d):
        d["chains"]["agent"]["settings"]["tools"] = ["qa", "no_such_chain"]

    code, out = _check(clean_env, tmp_path, change, capsys)
    assert code == 1, out
    assert "chains.agent" in out and "no_such_chain" in out
