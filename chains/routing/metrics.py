"""How well a router ranks prompts: RouteLLM's PGR curve, APGR and CPT(x%) (arXiv 2406.18665).

The computation follows lm-sys/RouteLLM ``routellm/evals/benchmarks.py`` (``evaluate``: thresholds are the
``num_results``-quantile edges of the router's scores, a prompt goes to the strong model when its score is
``>=`` the threshold, ``>`` for the last edge) and ``routellm/evals/evaluate.py`` (``generate_results``: the
points sorted by share of strong calls; ``auc_metric`` is the trapezoid area of quality over that share;
``apgr_metric`` = (AUC - weak AUC) / (strong AUC - weak AUC) over the same x range; ``pct_call_metric``
interpolates the share of strong calls at which quality reaches weak + x * (strong - weak)). RouteLLM's
default is 10 bins (``--num-results 10``); ``num_results`` changes the grid.

Two deliberate differences, both for degenerate inputs RouteLLM never meets: tied scores keep their repeated
quantile edges (pandas ``qcut`` would refuse them; repeats only add duplicate points, so a constant scorer
gets exactly 0.5), and CPT is the first crossing of the target on the curve (``np.interp`` assumes a monotone
curve; on one it is the same number). Pure Python: usable without numpy.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

DEFAULT_NUM_RESULTS = 10  # RouteLLM's --num-results default


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    strong_share: float  # share of prompts sent to the strong model, 0..1
    quality: float  # mean quality of the routed answers


@dataclass(frozen=True)
class RoutingMetrics:
    n: int
    weak_quality: float  # all prompts to the weak model
    strong_quality: float  # all prompts to the strong model
    apgr: float
    cpt50: Optional[float]  # share of strong calls to recover 50% of the gap (None: never reached)
    cpt80: Optional[float]
    curve: Tuple[CurvePoint, ...]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default, what pandas.qcut uses for its edges)."""
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def pgr_curve(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float],
              num_results: int = DEFAULT_NUM_RESULTS) -> List[CurvePoint]:
    """Quality against share of strong calls at ``num_results + 1`` quantile thresholds, by share."""
    n = len(scores)
    if n == 0 or not (n == len(weak) == len(strong)):
        raise ValueError("scores, weak and strong must be non-empty and of equal length")
    ordered = sorted(scores)
    edges = [quantile(ordered, i / num_results) for i in range(num_results + 1)]
    points = []
    for i, t in enumerate(edges):
        last = i == len(edges) - 1
        total = 0.0
        to_strong = 0
        for s, w, g in zip(scores, weak, strong):
            if (s > t) if last else (s >= t):
                total += g
                to_strong += 1
            else:
                total += w
        points.append(CurvePoint(t, to_strong / n, total / n))
    points.sort(key=lambda p: p.strong_share)  # stable: RouteLLM's sort_values keeps equal shares in order
    return points


def _trapz(ys: Sequence[float], xs: Sequence[float]) -> float:
    return sum((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2.0 for i in range(1, len(xs)))


def apgr_of(curve: Sequence[CurvePoint], weak_quality: float, strong_quality: float) -> float:
    xs = [p.strong_share for p in curve]
    auc = _trapz([p.quality for p in curve], xs)
    span = xs[-1] - xs[0]
    gap = (strong_quality - weak_quality) * span
    if gap == 0:
        return float("nan")  # no gap to recover: APGR is undefined
    return (auc - weak_quality * span) / gap


def cpt_of(curve: Sequence[CurvePoint], weak_quality: float, strong_quality: float, x: float) -> Optional[float]:
    """Share of strong calls at which the curve first reaches weak + x * (strong - weak)."""
    target = weak_quality + x * (strong_quality - weak_quality)
    prev = None
    for p in curve:
        if p.quality >= target:
            if prev is None or p.quality == prev.quality:
                return p.strong_share
            frac = (target - prev.quality) / (p.quality - prev.quality)
            return prev.strong_share + frac * (p.strong_share - prev.strong_share)
        prev = p
    return None


def evaluate(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float],
             num_results: int = DEFAULT_NUM_RESULTS) -> RoutingMetrics:
    """APGR, CPT(50%), CPT(80%) and the curve of a router's ``scores`` (higher = strong) on labelled prompts."""
    n = len(scores)
    curve = pgr_curve(scores, weak, strong, num_results)
    wq = sum(weak) / n
    sq = sum(strong) / n
    return RoutingMetrics(n, wq, sq, apgr_of(curve, wq, sq), cpt_of(curve, wq, sq, 0.5),
                          cpt_of(curve, wq, sq, 0.8), tuple(curve))


def oracle_scores(weak: Sequence[float], strong: Sequence[float]) -> List[float]:
    """The label oracle: the gain of the strong model on each prompt."""
    return [g - w for w, g in zip(weak, strong)]


def random_apgr(weak: Sequence[float], strong: Sequence[float], seeds: Sequence[int] = (0, 1, 2, 3, 4),
                num_results: int = DEFAULT_NUM_RESULTS) -> Tuple[float, List[RoutingMetrics]]:
    """Mean APGR of random routing over ``seeds`` (RouteLLM's random router: a uniform score per prompt)."""
    runs = []
    for seed in seeds:
        rng = random.Random(seed)
        runs.append(evaluate([rng.random() for _ in weak], weak, strong, num_results))
    return sum(r.apgr for r in runs) / len(runs), runs


def share_for_quality(curve: Sequence[CurvePoint], weak_quality: float, strong_quality: float,
                      target: float) -> Optional[float]:
    """Share of strong calls needed to reach ``target`` x the all-strong quality (e.g. 0.95)."""
    goal = target * strong_quality
    if strong_quality == weak_quality:
        return 0.0
    return cpt_of(curve, weak_quality, strong_quality, (goal - weak_quality) / (strong_quality - weak_quality))


def cost_saving(strong_share: Optional[float], weak_cost: float, strong_cost: float) -> Optional[float]:
    """Saving against always-strong when ``strong_share`` of calls go strong and the rest weak (same tokens)."""
    if strong_share is None:
        return None
    routed = strong_share * strong_cost + (1 - strong_share) * weak_cost
    return 1 - routed / strong_cost
