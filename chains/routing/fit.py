"""``router fit``: train the learned router on the user's own labelled prompts and pick its threshold.

    bedrock-chains router fit LABELLED.jsonl --out router.json [--target-quality 0.95 | --target-cost 0.3]
                              [--plot curve.png] [--weak ALIAS --strong ALIAS]

Rows (JSON lines, ``.gz`` allowed) are either ``{"prompt", "weak_score", "strong_score"}`` or the output of a
bulk compare run, ``{"prompt", "results": {alias: score | {"score": ...}} | [{"alias", "score"}, ...]}``, with
``--weak``/``--strong`` naming the compared models that stand for the chain's fast and strong tiers. Scores
above 1 (a judge's 1-10) are divided by the largest one seen.

A part of the rows, chosen by prompt hash (``--holdout``), is kept out of training: the threshold is set on
it (``--target-quality``: the smallest share of strong calls keeping that share of the all-strong quality;
``--target-cost``: the most quality within that share of strong calls) and APGR, CPT(50%), CPT(80%) and the
expected saving are measured on it, so the printed figures are what unseen prompts of the same workload get.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from chains.errors import ChainsError
from chains.routing.features import FeatureSpec
from chains.routing.metrics import RoutingMetrics, cost_saving, evaluate, pgr_curve

# The recipe of the shipped weights (chosen by cross-validation in tools/train_router.py --search). No
# character n-grams: they cost ~100 us a prompt in pure Python and did not raise cross-validated APGR.
DEFAULT_SPEC = FeatureSpec(hash_bits=16, word_bigrams=True, char_n=(), max_chars=2000, kind_words=True)
DEFAULT_L2 = 3e-3
DEFAULT_TARGET = "gain"
# Price of a weak call as a share of a strong one with the same tokens: Claude Haiku 4.5 ($0.001/$0.005 per
# 1K in/out) against Claude Sonnet 4.5 ($0.003/$0.015), the defaults' tiers: 1/3 whatever the token mix.
DEFAULT_PRICE_RATIO = 1.0 / 3.0
MIN_ROWS = 20


class FitDataError(ChainsError):
    """The labelled rows cannot train a router (missing fields, too few rows, no quality gap)."""

    status = 400
    type = "FitDataError"


@dataclass
class FitResult:
    document: Dict[str, Any]  # the weights file's JSON (threshold included)
    threshold: float
    calibration: str  # "held-out" or "training" (too few rows to hold any out)
    metrics: RoutingMetrics  # on the calibration rows
    strong_share: float  # share of calibration rows at or above the threshold
    quality: float  # their routed quality
    saving: Optional[float]  # expected cost saving against always-strong at the threshold
    train_rows: List[int] = field(default_factory=list)
    held_rows: List[int] = field(default_factory=list)
    held_scores: List[float] = field(default_factory=list)

    def summary(self) -> str:
        m = self.metrics
        pct = lambda v: "not reached" if v is None else f"{v:.0%}"  # noqa: E731
        lines = [
            f"rows: {len(self.train_rows)} trained on, {len(self.held_rows) or len(self.train_rows)} "
            f"{'held out' if self.held_rows else 'calibrated on (training rows: too few to hold out)'}",
            f"quality: all weak {m.weak_quality:.3f}, all strong {m.strong_quality:.3f}",
            f"APGR {m.apgr:.3f} (random 0.5, perfect ~1); CPT(50%) {pct(m.cpt50)}, CPT(80%) {pct(m.cpt80)} "
            f"of calls to the strong tier",
            f"threshold {self.threshold:.4f}: {self.strong_share:.0%} of calls to the strong tier, quality "
            f"{self.quality:.3f} ({self.quality / m.strong_quality:.1%} of all strong)" if m.strong_quality else
            f"threshold {self.threshold:.4f}",
        ]
        if self.saving is not None:
            lines.append(f"expected cost saving against always strong: {self.saving:.0%}")
        return "\n".join(lines)


# --- rows -------------------------------------------------------------------------------------------------


def _score_of(entry: Any) -> Optional[float]:
    if isinstance(entry, Mapping):
        entry = entry.get("score")
    if isinstance(entry, (int, float)) and not isinstance(entry, bool) and math.isfinite(entry):
        return float(entry)
    return None


def _results_map(results: Any) -> Dict[str, Any]:
    if isinstance(results, Mapping):
        return dict(results)
    if isinstance(results, list):
        return {e.get("alias") or e.get("model"): e for e in results if isinstance(e, Mapping)}
    return {}


def normalise_rows(raw: Sequence[Mapping[str, Any]], weak: Optional[str] = None,
                   strong: Optional[str] = None) -> List[Dict[str, Any]]:
    """Rows as ``{"prompt", "weak_score", "strong_score", ...}``; FitDataError names the first bad row."""
    rows: List[Dict[str, Any]] = []
    for n, r in enumerate(raw, 1):
        if not isinstance(r, Mapping):
            raise FitDataError(f"row {n} is not a JSON object")
        prompt = r.get("prompt", r.get("question", r.get("input")))
        if not isinstance(prompt, str) or not prompt.strip():
            raise FitDataError(f"row {n} has no 'prompt' text")
        if "weak_score" in r or "strong_score" in r:
            w, s = _score_of(r.get("weak_score")), _score_of(r.get("strong_score"))
        else:
            if not (weak and strong):
                raise FitDataError(f"row {n} has no weak_score/strong_score; for compare output name the "
                                   f"models with --weak ALIAS --strong ALIAS")
            results = _results_map(r.get("results"))
            if weak not in results or strong not in results:
                raise FitDataError(f"row {n}: results have no score for "
                                   f"{weak if weak not in results else strong!r} "
                                   f"(models: {', '.join(sorted(map(str, results)))[:200] or 'none'})")
            w, s = _score_of(results[weak]), _score_of(results[strong])
        if w is None or s is None:
            continue  # a model failed or was not judged on this prompt: nothing to learn from it
        rows.append({**{k: v for k, v in r.items() if k != "results"}, "prompt": prompt,
                     "weak_score": w, "strong_score": s})
    top = max([max(r["weak_score"], r["strong_score"]) for r in rows] or [1.0])
    if top > 1.0:
        for r in rows:
            r["weak_score"] /= top
            r["strong_score"] /= top
    return rows


def load_rows(path: Any, weak: Optional[str] = None, strong: Optional[str] = None) -> List[Dict[str, Any]]:
    path = Path(path)
    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
            raw = []
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        raw.append(json.loads(line))
                    except ValueError:
                        raise FitDataError(f"{str(path)[:200]} line {n} is not JSON") from None
    except OSError as exc:
        raise FitDataError(f"cannot read {str(path)[:200]}: {exc.strerror or exc}") from None
    return normalise_rows(raw, weak, strong)


# --- threshold ----------------------------------------------------------------------------------------------


def _groups(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]
            ) -> List[Tuple[float, int, float]]:
    """(score, prompts with this score, their total gain), highest score first."""
    agg: Dict[float, List[float]] = {}
    for s, w, g in zip(scores, weak, strong):
        a = agg.setdefault(s, [0, 0.0])
        a[0] += 1
        a[1] += g - w
    return [(s, int(a[0]), a[1]) for s, a in sorted(agg.items(), reverse=True)]


def choose_threshold(scores: Sequence[float], weak: Sequence[float], strong: Sequence[float],
                     target_quality: Optional[float] = None, target_cost: Optional[float] = None
                     ) -> Tuple[float, float, float]:
    """(threshold, strong share, routed quality) on these rows; ``score >= threshold`` goes strong.

    target_quality q: the highest threshold whose routed quality is >= q x all-strong quality (the fewest
    strong calls); target_cost c: the threshold with the best quality among those sending <= c of the calls
    to the strong tier."""
    if (target_quality is None) == (target_cost is None):
        raise ValueError("give exactly one of target_quality and target_cost")
    n = len(scores)
    base = sum(weak) / n
    goal = target_quality * sum(strong) / n if target_quality is not None else None
    # Candidates: nothing strong (threshold above every score), then each score group added in turn.
    best = (min(1.0, max(scores) + 1e-9) if max(scores) < 1.0 else 1.0, 0.0, base)
    if goal is not None and base >= goal:
        return best
    count, gain = 0, 0.0
    for s, k, g in _groups(scores, weak, strong):
        count += k
        gain += g
        share, quality = count / n, base + gain / n
        if goal is not None:
            if quality >= goal - 1e-12:
                return s, share, quality
        elif share <= target_cost + 1e-12:
            if quality > best[2]:
                best = (s, share, quality)
        else:
            break
    if goal is not None:  # unreachable even with everything strong (the weak model wins some prompts)
        return min(scores), 1.0, base + gain / n
    return best


# --- fit --------------------------------------------------------------------------------------------------


def fit(rows: Sequence[Mapping[str, Any]], *, target_quality: Optional[float] = 0.95,
        target_cost: Optional[float] = None, holdout: float = 0.2, seed: int = 0, l2: float = DEFAULT_L2,
        spec: FeatureSpec = DEFAULT_SPEC, target: str = DEFAULT_TARGET,
        sample_weight: Optional[Callable[[Mapping[str, Any]], float]] = None,
        price_ratio: Optional[float] = DEFAULT_PRICE_RATIO, meta: Optional[Mapping[str, Any]] = None) -> FitResult:
    """Train on ``rows`` minus a hash-chosen ``holdout`` share, set the threshold and measure on the rest."""
    from chains.routing import train as T
    from chains.routing.learned import weights_document

    if target_cost is not None:
        target_quality = None
    if target_quality is not None and not 0 < target_quality <= 1.5:
        raise FitDataError(f"target quality {target_quality:g} is outside (0, 1.5]")
    if target_cost is not None and not 0 <= target_cost <= 1:
        raise FitDataError(f"target cost {target_cost:g} is outside [0, 1]")
    if len(rows) < MIN_ROWS:
        raise FitDataError(f"{len(rows)} labelled rows: at least {MIN_ROWS} are needed")
    prompts = [r["prompt"] for r in rows]
    weak = [float(r["weak_score"]) for r in rows]
    strong = [float(r["strong_score"]) for r in rows]
    if all(w == s for w, s in zip(weak, strong)):
        raise FitDataError("the weak and strong scores are equal on every row: there is nothing to route on")
    train_idx, held_idx = T.split_by_hash(prompts, holdout, salt=f"router-fit-{seed}")
    if len(held_idx) < 10 or len(train_idx) < 10:
        train_idx, held_idx = list(range(len(rows))), []

    X = T.design([prompts[i] for i in train_idx], spec)
    y = T.target_values([weak[i] for i in train_idx], [strong[i] for i in train_idx], target)
    sw = [sample_weight(rows[i]) for i in train_idx] if sample_weight else None
    lw = T.fit_logistic(X, y, l2, sw)

    # Score through the file format (rounded weights), so the threshold matches what the scorer will compute.
    doc = weights_document(lw.bias, lw.dense, lw.hashed, spec, threshold=0.5)
    scorer = _scorer_from(doc)
    cal = held_idx or train_idx
    cal_scores = [scorer.score(prompts[i]) for i in cal]
    cw, cs = [weak[i] for i in cal], [strong[i] for i in cal]
    metrics = evaluate(cal_scores, cw, cs)
    threshold, share, quality = choose_threshold(cal_scores, cw, cs, target_quality, target_cost)
    saving = cost_saving(share, price_ratio, 1.0) if price_ratio is not None else None
    doc = weights_document(
        lw.bias, lw.dense, lw.hashed, spec, threshold,
        seed=seed, holdout=holdout, target=target, l2=l2, rows=len(rows), trained_on=len(train_idx),
        data_sha256=T.data_hash(rows), iterations=lw.iterations,
        threshold_for={"target_quality": target_quality} if target_quality is not None else
        {"target_cost": target_cost},
        metrics={"validation" if held_idx else "training": {
            "rows": len(cal), "apgr": round(metrics.apgr, 4),
            "cpt50": None if metrics.cpt50 is None else round(metrics.cpt50, 4),
            "cpt80": None if metrics.cpt80 is None else round(metrics.cpt80, 4),
            "strong_share": round(share, 4), "quality": round(quality, 4),
            "weak_quality": round(metrics.weak_quality, 4), "strong_quality": round(metrics.strong_quality, 4)}},
        **dict(meta or {}),
    )
    return FitResult(doc, threshold, "held-out" if held_idx else "training", metrics, share, quality, saving,
                     train_idx, held_idx, cal_scores if held_idx else [])


def _scorer_from(doc: Mapping[str, Any]) -> Any:
    from chains.routing.learned import LearnedScorer

    return LearnedScorer.from_document(doc)


# --- plot ---------------------------------------------------------------------------------------------------


def plot_curve(path: Any, scores: Sequence[float], weak: Sequence[float], strong: Sequence[float],
               threshold: float, title: str = "learned router (held-out rows)") -> Path:
    """PNG of quality against share of strong calls: the router, random, the two models, the threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = pgr_curve(scores, weak, strong, num_results=min(100, max(10, len(scores) // 5)))
    wq, sq = sum(weak) / len(weak), sum(strong) / len(strong)
    share = sum(1 for s in scores if s >= threshold) / len(scores)
    quality = sum(g if s >= threshold else w for s, w, g in zip(scores, weak, strong)) / len(scores)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        ax.plot([p.strong_share * 100 for p in points], [p.quality for p in points], marker=".", label="learned")
        ax.plot([0, 100], [wq, sq], linestyle=":", color="grey", label="random")
        ax.axhline(wq, color="grey", linestyle="--", linewidth=0.8, label="all weak")
        ax.axhline(sq, color="red", linestyle="--", linewidth=0.8, label="all strong")
        ax.plot([share * 100], [quality], marker="o", color="black", label=f"threshold {threshold:.3f}")
        ax.set_xlabel("calls to the strong tier (%)")
        ax.set_ylabel("quality")
        ax.set_title(title)
        ax.legend(loc="lower right")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)
    return path


# --- command line -------------------------------------------------------------------------------------------


def parser(prog: str = "bedrock-chains router fit") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog,
                                 description="Train the learned router on labelled prompts and set its threshold.")
    ap.add_argument("labelled", help="JSON lines (.gz allowed): prompt + weak_score/strong_score, or compare output")
    ap.add_argument("--out", required=True, help="weights file to write (.json or .json.gz)")
    goal = ap.add_mutually_exclusive_group()
    goal.add_argument("--target-quality", type=float, default=None,
                      help="share of the strong tier's quality to keep (default 0.95)")
    goal.add_argument("--target-cost", type=float, default=None, help="largest share of calls to the strong tier")
    ap.add_argument("--plot", help="write a PNG of quality against the share of strong calls")
    ap.add_argument("--weak", help="compare output: the model standing for the fast tier")
    ap.add_argument("--strong", help="compare output: the model standing for the strong tier")
    ap.add_argument("--holdout", type=float, default=0.2, help="share of rows held out to set and check the "
                                                              "threshold (default 0.2)")
    ap.add_argument("--seed", type=int, default=0, help="chooses the held-out rows (default 0)")
    ap.add_argument("--l2", type=float, default=DEFAULT_L2, help=f"L2 penalty (default {DEFAULT_L2:g})")
    ap.add_argument("--price-ratio", type=float, default=DEFAULT_PRICE_RATIO,
                    help="a weak call's price as a share of a strong one (default 1/3: Haiku 4.5 vs Sonnet 4.5)")
    return ap


def main(argv: Optional[Sequence[str]] = None, prog: str = "bedrock-chains router fit") -> int:
    args = parser(prog).parse_args(argv)
    from chains.routing.learned import write_weights

    try:
        if not 0 <= args.holdout < 1:
            raise FitDataError(f"--holdout {args.holdout:g} is outside [0, 1)")
        rows = load_rows(args.labelled, args.weak, args.strong)
        tq = args.target_quality if args.target_quality is not None or args.target_cost is not None else 0.95
        result = fit(rows, target_quality=tq, target_cost=args.target_cost, holdout=args.holdout,
                     seed=args.seed, l2=args.l2, price_ratio=args.price_ratio)
    except ChainsError as exc:
        print(f"router fit: {exc.message}", file=sys.stderr)
        return 2
    out = write_weights(args.out, result.document)
    print(result.summary())
    print(f"wrote {out} (router.learned.weights; router.threshold {result.threshold:.4f})")
    if args.plot:
        cal = result.held_rows or result.train_rows
        scores = result.held_scores or [_scorer_from(result.document).score(rows[i]["prompt"]) for i in cal]
        png = plot_curve(args.plot, scores, [rows[i]["weak_score"] for i in cal],
                         [rows[i]["strong_score"] for i in cal], result.threshold,
                         title=f"learned router ({result.calibration} rows)")
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
