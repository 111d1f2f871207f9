"""The learned router (``router.mode: learned``): strong_score in [0, 1] decides the tier against the
threshold, the reason names the score and its main features, no model is called, and a weights file that
cannot be used is a ConfigError at ``--check`` and on the first request."""

from __future__ import annotations

import copy
import json
import random

import pytest
import yaml

from chains import Router, build_runtime, get_chain, load_config
from chains.cli import main
from chains.config import DEFAULT_CONFIG_PATH
from chains.errors import ConfigError
from chains.routing.learned import shared_scorer

HAIKU, NOVA, SONNET = "claude_haiku", "nova_pro", "claude_sonnet"
PROMPTS = [
    "What is Amazon Bedrock?",
    "Hi?",
    "Janet has 3 apples and buys 5 more, then gives half of them to Tom. How many does she have left?",
    "Write a Python function that parses ISO 8601 dates with time zones, with unit tests.",
    "Translate 'good morning' to French.",
]


def _runtime(mutate=lambda data: None):
    data = load_config(env={}).model_dump()
    data["router"]["mode"] = "learned"
    mutate(data)
    return build_runtime(data, backend="local", notice=False)


@pytest.fixture
def runtime(clean_env):
    return _runtime()


def test_the_shipped_weights_route_without_calling_a_model(runtime, emulator):
    scorer = shared_scorer(None)
    qa = get_chain("qa", runtime)
    tiers = set()
    for prompt in PROMPTS:
        d = Router(qa).invoke({"question": prompt})
        assert d.mode == "learned"
        assert 0.0 <= d.strong_score <= 1.0
        assert d.strong_score == round(scorer.score(prompt), 4)
        assert d.threshold == round(scorer.threshold, 4)
        hard = d.strong_score >= d.threshold
        assert d.difficulty == ("hard" if hard else "easy")
        assert d.model == (SONNET if hard else HAIKU), d.reason
        assert f"strong_score {d.strong_score:.3f}" in d.reason and d.signals and d.signals[0] in d.reason
        tiers.add(d.difficulty)
    assert tiers == {"easy", "hard"}, "the prompts above span both tiers"
    assert emulator.calls == [], "deciding never calls a model"


def test_the_score_reaches_the_response(runtime):
    result = get_chain("qa", runtime).invoke({"question": PROMPTS[2]})
    assert result["route"]["mode"] == "learned" and 0 <= result["route"]["strong_score"] <= 1


@pytest.mark.parametrize("threshold, model", [(0.0, SONNET), (1.0, HAIKU)])
def test_the_threshold_in_config_decides_the_tier(clean_env, threshold, model):
    rt = _runtime(lambda data: data["router"].update(threshold=threshold))
    for prompt in PROMPTS:
        assert Router(get_chain("qa", rt)).invoke({"question": prompt}).model == model


def _fitted_weights(tmp_path):
    """A weights file fitted by ``router fit`` on synthetic rows where 'integral' marks prompts that need the
    strong model."""
    rng = random.Random(7)
    rows = []
    for i in range(300):
        hard = rng.random() < 0.5
        prompt = (f"compute the integral of x^{i} dx from 0 to {i + 1}" if hard else f"what colour is item {i}?")
        rows.append({"prompt": prompt, "weak_score": 0.0 if hard else 1.0, "strong_score": 1.0})
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    assert main(["router", "fit", str(data), "--out", str(tmp_path / "router.json"), "--plot",
                 str(tmp_path / "curve.png"), "--target-quality", "0.95"]) == 0
    assert (tmp_path / "curve.png").stat().st_size > 0
    return tmp_path / "router.json"


def test_weights_fitted_by_the_cli_are_used_from_config(clean_env, tmp_path):
    weights = _fitted_weights(tmp_path)
    config = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")))
    config["router"].update(mode="learned", learned={"weights": weights.name})  # relative: beside the file
    config["prompts_dir"] = str(DEFAULT_CONFIG_PATH.parent / "prompts")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    rt = build_runtime(str(path), backend="local", notice=False)
    qa = get_chain("qa", rt)
    assert Router(qa).invoke({"question": "compute the integral of x^400 dx from 0 to 7"}).model == SONNET
    assert Router(qa).invoke({"question": "what colour is item 12345?"}).model == HAIKU


@pytest.mark.parametrize("content", [None, b"not gzip, not json", json.dumps({"feature_version": 999}).encode()])
def test_an_unusable_weights_file_is_a_config_error(clean_env, tmp_path, capsys, content):
    weights = tmp_path / "router.json"
    if content is not None:
        weights.write_bytes(content)
    config = copy.deepcopy(yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")))
    config["router"].update(mode="learned", learned={"weights": str(weights)})
    config["prompts_dir"] = str(DEFAULT_CONFIG_PATH.parent / "prompts")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")

    clean_env.setenv("CHAINS_CONFIG", str(path))
    assert main(["--check"]) == 1
    out = capsys.readouterr().out
    assert "router" in out and "router.json" in out

    rt = build_runtime(str(path), backend="local", notice=False)
    with pytest.raises(ConfigError) as err:
        Router(get_chain("qa", rt)).invoke({"question": "Hi?"})
    assert "router.json" in str(err.value)
