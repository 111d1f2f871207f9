"""RouteLLM's metrics, threshold fitting and ``router fit`` on small synthetic workloads (a few hundred rows)."""

from __future__ import annotations

import json
import random

import pytest

from chains.routing.fit import FitDataError, choose_threshold, fit, main, normalise_rows
from chains.routing.learned import LearnedScorer
from chains.routing.metrics import evaluate, oracle_scores, random_apgr, share_for_quality

HARD = ["prove", "integral", "eigenvalue", "derive", "asymptotic", "theorem"]
EASY = ["capital", "colour", "weather", "author", "animal", "holiday"]
FILLER = ["the", "of", "a", "please", "tell", "me", "about", "what", "is", "in", "this", "one"]


def synthetic(n=300, seed=7, hard_share=0.3):
    """Prompts whose difficulty shows in their words: on 'hard' ones the strong model usually wins."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        hard = rng.random() < hard_share
        words = [rng.choice(FILLER) for _ in range(8)] + [rng.choice(HARD if hard else EASY) for _ in range(2)]
        rng.shuffle(words)
        if hard:
            weak, strong = (0.0, 1.0) if rng.random() < 0.8 else (1.0, 1.0)
        else:
            weak, strong = (1.0, 1.0) if rng.random() < 0.9 else rng.choice([(0.0, 0.0), (1.0, 0.0)])
        rows.append({"prompt": f"{' '.join(words)} #{i}?", "weak_score": weak, "strong_score": strong})
    return rows


def routed(scores, rows, threshold):
    n = len(rows)
    share = sum(s >= threshold for s in scores) / n
    quality = sum(r["strong_score"] if s >= threshold else r["weak_score"] for s, r in zip(scores, rows)) / n
    return share, quality


# --- metrics ----------------------------------------------------------------------------------------------


def test_apgr_of_the_oracle_is_about_one_and_of_a_constant_scorer_one_half():
    # 5% of prompts need the strong model, which never loses: the oracle recovers the gap at once. A grid of
    # 100 thresholds (RouteLLM's default is 10 quantiles, too coarse to see a 5% step: it gives 0.5 here).
    weak = [0.0] * 5 + [1.0] * 95
    strong = [1.0] * 5 + [1.0] * 95
    assert evaluate(oracle_scores(weak, strong), weak, strong, num_results=100).apgr == pytest.approx(1.0, abs=0.03)
    assert evaluate(oracle_scores(weak, strong), weak, strong).apgr == pytest.approx(0.5)
    assert evaluate([0.5] * 100, weak, strong).apgr == pytest.approx(0.5)
    assert evaluate([-g for g in oracle_scores(weak, strong)], weak, strong).apgr < 0.1  # the anti-oracle


def test_random_routing_averages_about_one_half():
    rows = synthetic(400)
    mean, runs = random_apgr([r["weak_score"] for r in rows], [r["strong_score"] for r in rows], seeds=range(8))
    assert mean == pytest.approx(0.5, abs=0.08)
    assert len(runs) == 8


def test_cpt_is_the_share_of_strong_calls_that_recovers_the_gap():
    weak = [0.0] * 20 + [1.0] * 80
    strong = [1.0] * 100
    m = evaluate(oracle_scores(weak, strong), weak, strong)  # 20% of calls recover everything
    assert m.cpt50 is not None and m.cpt50 <= 0.2 + 1e-9
    assert m.cpt80 is not None and m.cpt80 <= 0.2 + 1e-9
    flat = evaluate([0.0] * 100, weak, strong)  # all-or-nothing: half the gap at half the calls (interpolated)
    assert flat.cpt50 == pytest.approx(0.5)
    assert share_for_quality(m.curve, m.weak_quality, m.strong_quality, 0.95) <= 0.2 + 1e-9


# --- thresholds -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95, 1.0])
def test_a_quality_target_is_met_with_the_fewest_strong_calls(target):
    rows = synthetic(300, seed=3)
    rng = random.Random(1)
    scores = [rng.random() * 0.5 + (0.5 if r["strong_score"] > r["weak_score"] else 0.0) for r in rows]
    threshold, share, quality = choose_threshold(scores, [r["weak_score"] for r in rows],
                                                 [r["strong_score"] for r in rows], target_quality=target)
    all_strong = sum(r["strong_score"] for r in rows) / len(rows)
    assert routed(scores, rows, threshold) == pytest.approx((share, quality))
    assert quality >= target * all_strong - 1e-9
    higher = sorted({s for s in scores if s > threshold})
    if higher:  # the next higher threshold would miss the target: the share is minimal
        assert routed(scores, rows, higher[0])[1] < target * all_strong


@pytest.mark.parametrize("cost", [0.0, 0.1, 0.25, 0.6])
def test_a_cost_target_caps_the_share_of_strong_calls(cost):
    rows = synthetic(300, seed=4)
    scores = [random.Random(i).random() for i in range(len(rows))]
    threshold, share, quality = choose_threshold(scores, [r["weak_score"] for r in rows],
                                                 [r["strong_score"] for r in rows], target_cost=cost)
    assert routed(scores, rows, threshold) == pytest.approx((share, quality))
    assert share <= cost + 1e-9


def test_fit_learns_the_signal_and_its_threshold_hits_the_target_on_the_rows_it_was_set_on():
    rows = synthetic(300)
    result = fit(rows, target_quality=0.95, holdout=0.3, seed=1)
    assert result.calibration == "held-out" and result.held_rows
    assert result.metrics.apgr > 0.8  # the words say it all: a working fit ranks far better than random
    scorer = LearnedScorer.from_document(result.document)
    held = [rows[i] for i in result.held_rows]
    scores = [scorer.score(r["prompt"]) for r in held]
    share, quality = routed(scores, held, result.document["threshold"])
    assert quality >= 0.95 * sum(r["strong_score"] for r in held) / len(held) - 1e-9
    assert (share, quality) == pytest.approx((result.strong_share, result.quality))
    assert result.saving == pytest.approx((1 - share) * (2 / 3))

    capped = fit(rows, target_quality=None, target_cost=0.2, holdout=0.3, seed=1)
    assert routed(scores, held, capped.threshold)[0] <= 0.2 + 1e-9


def test_fit_refuses_data_it_cannot_learn_from():
    with pytest.raises(FitDataError, match="at least"):
        fit(synthetic(10))
    same = [{**r, "strong_score": r["weak_score"]} for r in synthetic(50)]
    with pytest.raises(FitDataError, match="nothing to route on"):
        fit(same)


def test_compare_output_maps_models_to_tiers_and_judge_scores_are_rescaled():
    raw = [{"prompt": "p1", "results": {"haiku": {"score": 7}, "sonnet": {"score": 10}, "nova": 3}},
           {"prompt": "p2", "results": [{"alias": "haiku", "score": 5}, {"alias": "sonnet", "score": None}]}]
    rows = normalise_rows(raw, weak="haiku", strong="sonnet")
    assert rows == [{"prompt": "p1", "weak_score": 0.7, "strong_score": 1.0}]  # p2: sonnet not judged, skipped
    with pytest.raises(FitDataError, match="'llama'.*models: haiku, nova, sonnet"):
        normalise_rows(raw[:1], weak="llama", strong="sonnet")
    with pytest.raises(FitDataError, match="--weak ALIAS --strong ALIAS"):
        normalise_rows(raw[:1])


# --- the command --------------------------------------------------------------------------------------------


def test_main_writes_weights_and_a_png(tmp_path, capsys):
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in synthetic(300)) + "\n")
    out, png = tmp_path / "router.json", tmp_path / "curve.png"
    assert main([str(data), "--out", str(out), "--target-cost", "0.3", "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "APGR" in printed and "CPT(50%)" in printed and "CPT(80%)" in printed and "saving" in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scorer = LearnedScorer(out).load()
    assert f"router.threshold {scorer.threshold:.4f}" in printed
    assert scorer.metadata["threshold_for"] == {"target_cost": 0.3}


def test_main_reports_bad_input_without_a_traceback(tmp_path, capsys):
    data = tmp_path / "labelled.jsonl"
    data.write_text('{"prompt": "x", "weak_score": 1, "strong_score": 1}\nnot json\n')
    assert main([str(data), "--out", str(tmp_path / "w.json")]) == 2
    assert "line 2 is not JSON" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "w.json")]) == 2
    assert not (tmp_path / "w.json").exists()
