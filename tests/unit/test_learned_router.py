"""The learned router's scorer and its weights file (no emulator: pure functions over text and files)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chains.errors import ConfigError
from chains.routing.features import FEATURE_VERSION, SIGNALS, FeatureSpec, extract
from chains.routing.learned import DEFAULT_WEIGHTS, LearnedScorer, check_weights, read_weights, shared_scorer, \
    weights_document, write_weights

ROOT = Path(__file__).resolve().parents[2]

PROMPTS = [
    "What is the capital of Australia?",
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast and bakes muffins with four. She sells the "
    "remainder at $2 per egg. How much does she make every day?",
    "Which of the following is NOT a prime ideal of Z[x]?\nA. (x)\nB. (2, x)\nC. (4)\nD. (3)\nAnswer:",
    "def f(x):\n    return x ** 2  # why does this fail on strings?",
    "",
    "Ünïcödé text — with em dashes, emoji 🙂 and CJK 漢字",
    "word " * 5000,
]


@pytest.fixture(scope="module")
def shipped() -> LearnedScorer:
    return LearnedScorer().load()


def small_document(**overrides):
    spec = FeatureSpec(hash_bits=8, char_n=(3,))
    doc = weights_document(0.1, [0.05] * len(SIGNALS), [((i * 37) % 11 - 5) / 10 for i in range(256)], spec,
                           threshold=0.5, seed=0)
    doc.update(overrides)
    return doc


def test_shipped_scores_are_bounded_and_the_same_from_two_scorers(shipped):
    other = LearnedScorer(DEFAULT_WEIGHTS)
    for p in PROMPTS:
        s = shipped.score(p)
        assert 0.0 <= s <= 1.0
        assert other.score(p) == s


def test_scores_do_not_depend_on_the_process_hash_seed(shipped):
    # Python's hash() of str changes with PYTHONHASHSEED; the features must not use it.
    code = ("import json,sys; from chains.routing.learned import LearnedScorer; s=LearnedScorer(); "
            "print(json.dumps([s.score(p) for p in json.loads(sys.stdin.read())]))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(PROMPTS[:4]), capture_output=True,
                         text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "12345"}, timeout=60, check=True)
    assert json.loads(out.stdout) == [shipped.score(p) for p in PROMPTS[:4]]


def test_harder_looking_prompts_score_higher_with_the_shipped_weights(shipped):
    # Not a quality claim (benchmarks/routing_eval.py measures that): the model learned *something* in the
    # direction of its data: a multi-step word problem needs the strong model more than a greeting does.
    assert shipped.score(PROMPTS[1]) > shipped.score("Hi!")


def test_shipped_file_records_its_provenance_and_fits_the_size_budget(shipped):
    assert DEFAULT_WEIGHTS.stat().st_size <= 2 * 1024 * 1024
    meta = shipped.metadata
    assert meta["feature_version"] == FEATURE_VERSION
    assert meta["spec"]["hash_bits"] >= 8 and isinstance(meta["seed"], int)
    assert len(meta["data_sha256"]) == 64
    assert 0.0 <= meta["threshold"] <= 1.0
    assert "dense" not in meta and "hashed" not in meta


def test_explain_names_the_features_that_pushed_the_score(shipped):
    top = shipped.explain(PROMPTS[2], top=3)
    assert 1 <= len(top) <= 3
    assert all(isinstance(name, str) and name for name, _ in top)
    assert abs(top[0][1]) >= abs(top[-1][1])


def test_features_are_deterministic_and_only_read_the_start():
    spec = FeatureSpec(hash_bits=10, max_chars=100)
    long = "x" * 100 + " tail words that are never read"
    assert extract(long, spec) == extract("x" * 100, spec)
    assert all(0 <= i < 1024 for i in extract(PROMPTS[1], spec)[1])


def test_loading_is_lazy_and_a_missing_file_is_a_config_error(tmp_path):
    scorer = LearnedScorer(tmp_path / "nope.json.gz")  # constructing reads nothing
    with pytest.raises(ConfigError, match="nope.json.gz.*not found"):
        scorer.score("hello")


@pytest.mark.parametrize("content", [b"", b"\x1f\x8b\x08\x00garbage", b"{not json", b"[1, 2, 3]",
                                     json.dumps({"format": "something-else"}).encode()])
def test_a_corrupt_file_is_a_config_error(tmp_path, content):
    path = tmp_path / "w.json.gz"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="router weights file"):
        LearnedScorer(path).score("hello")


def test_a_file_from_another_feature_version_is_a_config_error(tmp_path):
    path = write_weights(tmp_path / "old.json", small_document(feature_version=FEATURE_VERSION + 1))
    with pytest.raises(ConfigError, match=f"feature_version {FEATURE_VERSION + 1}.*retrain"):
        read_weights(path)


@pytest.mark.parametrize("overrides, words", [
    ({"hashed": [0.0] * 100}, "100 hashed weights"),
    ({"dense": [0.0]}, "dense signals"),
    ({"threshold": 1.5}, "outside"),
    ({"spec": {"hash_bits": 40, "word_bigrams": True, "char_n": [], "max_chars": 10}}, "hash_bits"),
    ({"bias": "NaN"}, "finite"),
])
def test_an_inconsistent_file_is_a_config_error(tmp_path, overrides, words):
    path = write_weights(tmp_path / "bad.json.gz", small_document(**overrides))
    with pytest.raises(ConfigError, match=words):
        LearnedScorer(path).load()


def test_a_written_file_reads_back_to_the_same_scores(tmp_path):
    doc = small_document()
    a = write_weights(tmp_path / "a.json.gz", doc)
    b = write_weights(tmp_path / "b.json", doc)
    assert gzip.decompress(a.read_bytes()) == b.read_bytes()
    assert write_weights(tmp_path / "c.json.gz", doc).read_bytes() == a.read_bytes()  # reproducible bytes
    sa, sb, sm = LearnedScorer(a), LearnedScorer(b), LearnedScorer.from_document(doc)
    for p in PROMPTS:
        assert sa.score(p) == sb.score(p) == sm.score(p)
    assert "threshold 0.5" in check_weights(a)


def test_one_shared_scorer_per_file(tmp_path):
    path = write_weights(tmp_path / "w.json", small_document())
    assert shared_scorer(path) is shared_scorer(str(path))
    assert shared_scorer() is shared_scorer(DEFAULT_WEIGHTS)
    assert shared_scorer(path) is not shared_scorer()
