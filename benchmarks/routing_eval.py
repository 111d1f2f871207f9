"""Routing evaluation: which prompts need the strong model, measured on labelled data nobody here wrote.

1. RouteLLM's labelled prompts (``../shared/data/routing/labelled_dev.jsonl.gz``: GSM8K, MMLU and MT-bench
   prompts with a weaker and a stronger model's graded quality; see its README). Per source and overall:
   APGR, CPT(50%), CPT(80%) (RouteLLM's metrics, ``chains/routing/metrics.py``, 10 quantile thresholds like
   RouteLLM's default) and the cost saving at 95% of the strong model's quality, for
     - rules: today's difficulty score (``content_difficulty`` with config.yaml's router section),
     - learned: the shipped weights (``chains/routing/weights/router-v1.json.gz``),
     - random: uniform scores, mean over 10 seeds,
     - oracle: the labels themselves (strong - weak).
   All four are scored on the same prompts: the part of the dev data the learned weights were NOT trained on
   (held out by prompt hash, ``tools/train_router.py``). A separate split, not in this repository, checks the
   result again.
   Prices: weak tier = Claude Haiku 4.5 ($0.001 / $0.005 per 1K input / output tokens), strong tier = Claude
   Sonnet 4.5 ($0.003 / $0.015): a weak call costs 1/3 of a strong one whatever the token mix, so the saving
   is (1 - share of strong calls) x 2/3 against always-strong.
2. Scoring time of the learned scorer per prompt, against the rules score on the same prompts.
3. The project's own 80 labelled prompts (``tests/data/routing_labels.jsonl``, easy / hard), as before:
   every prompt through the ``qa`` chain on bedrock_local, routed and pinned, costed with config.yaml prices;
   plus the learned scorer's agreement with the labels at its threshold.

    python benchmarks/routing_eval.py [--data PATH] [--labels tests/data/routing_labels.jsonl] [--no-save]

The output is also written to benchmarks/results/routing_eval.txt.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from _common import ROOT, machine, result, table

STRONGEST, CHEAPEST = "claude_sonnet", "claude_haiku"
SOURCES = ("gsm8k", "mmlu", "mt_bench")
RANDOM_SEEDS = tuple(range(10))
# Per 1K input / output tokens (catalogue-like prices of today's default tiers).
WEAK_PRICE, STRONG_PRICE = (0.001, 0.005), (0.003, 0.015)
PRICE_RATIO = WEAK_PRICE[0] / STRONG_PRICE[0]  # == WEAK_PRICE[1] / STRONG_PRICE[1] == 1/3


def default_data() -> Path:
    for cand in (ROOT.parent / "shared" / "data" / "routing" / "labelled_dev.jsonl.gz",
                 Path("/work/shared/data/routing/labelled_dev.jsonl.gz")):
        if cand.exists():
            return cand
    return ROOT.parent / "shared" / "data" / "routing" / "labelled_dev.jsonl.gz"


class Tee(io.TextIOBase):
    def __init__(self, *streams: Any) -> None:
        self.streams = streams

    def write(self, s: str) -> int:
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self) -> None:
        for st in self.streams:
            st.flush()


# --- scorers -------------------------------------------------------------------------------------------------


def rules_scorer() -> Tuple[Optional[Callable[[str], float]], str]:
    """The keyword rules' difficulty score (``router.mode: rules``) with config.yaml's router section."""
    from chains.config import load_config
    from chains.routing.settings import CompiledRules
    from chains.routing.signals import content_difficulty
    from chains.tokens.estimator import estimate_text

    rules = CompiledRules(load_config())
    return (lambda text: float(content_difficulty(rules, text, estimate_text(text))[0])), "chains.routing.signals"


def metrics_row(name: str, scores: Sequence[float], weak: Sequence[float], strong: Sequence[float]) -> Dict[str, Any]:
    from chains.routing.metrics import cost_saving, evaluate, share_for_quality

    m = evaluate(scores, weak, strong)
    share95 = share_for_quality(m.curve, m.weak_quality, m.strong_quality, 0.95)
    return {"router": name, "apgr": m.apgr, "cpt50": m.cpt50, "cpt80": m.cpt80, "share95": share95,
            "saving95": cost_saving(share95, PRICE_RATIO, 1.0)}


def random_row(weak: Sequence[float], strong: Sequence[float]) -> Dict[str, Any]:
    runs = []
    for seed in RANDOM_SEEDS:
        rng = random.Random(seed)
        runs.append(metrics_row("random", [rng.random() for _ in weak], weak, strong))

    def mean(key: str) -> Optional[float]:
        vals = [r[key] for r in runs if r[key] is not None]
        return statistics.fmean(vals) if len(vals) == len(runs) else None

    return {"router": f"random (mean of {len(runs)} seeds)", **{k: mean(k) for k in
                                                                 ("apgr", "cpt50", "cpt80", "share95", "saving95")}}


def pct(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.1%}"


# --- 1. RouteLLM's labelled prompts -------------------------------------------------------------------------


def labelled_section(data: Path) -> Optional[List[str]]:
    from chains.routing import train as T
    from chains.routing.learned import LearnedScorer

    if not data.exists():
        print(f"labelled data {data} not found: section skipped (pass --data)")
        return None
    with gzip.open(data, "rt", encoding="utf-8") if data.name.endswith(".gz") else open(data) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    learned = LearnedScorer().load()
    meta = learned.metadata
    prompts = [r["prompt"] for r in rows]
    _, held = T.split_by_hash(prompts, meta["holdout"], salt=f"router-fit-{meta['seed']}")
    same_data = T.data_hash(rows) == meta["data_sha256"]
    rules, rules_from = rules_scorer()

    print(f"1. RouteLLM labelled prompts: {data.name}, {len(rows):,} rows; evaluated on the {len(held):,} "
          f"held out by prompt hash (holdout {meta['holdout']:g}, seed {meta['seed']}) that the learned weights "
          f"were not trained on" + ("" if same_data else
                                    " -- WARNING: this data's hash differs from the weights' training data, "
                                    "so 'held out' is not guaranteed"))
    print(f"   weak = Mixtral-8x7B, strong = GPT-4 (the data's models); prices: weak tier Claude Haiku 4.5 "
          f"${WEAK_PRICE[0]}/${WEAK_PRICE[1]}, strong tier Claude Sonnet 4.5 ${STRONG_PRICE[0]}/${STRONG_PRICE[1]} "
          f"per 1K in/out tokens")
    print(f"   rules: " + (f"content_difficulty from {rules_from}" if rules else f"UNAVAILABLE ({rules_from})"))
    scores: Dict[str, List[float]] = {"learned": [learned.score(prompts[i]) for i in held]}
    if rules:
        scores["rules"] = [rules(prompts[i]) for i in held]
    summary: List[str] = []
    for src in ("overall", *SOURCES):
        ks = [k for k, i in enumerate(held) if src == "overall" or rows[i]["source"] == src]
        weak = [rows[held[k]]["weak_score"] for k in ks]
        strong = [rows[held[k]]["strong_score"] for k in ks]
        gain = sum(strong) / len(ks) - sum(weak) / len(ks)
        out = []
        for name in ("rules", "learned"):
            if name in scores:
                out.append(metrics_row(name, [scores[name][k] for k in ks], weak, strong))
        if "rules" in scores:
            # The rules score is 0 on most of these prompts: at RouteLLM's 10 quantile thresholds tied scores
            # route all-or-nothing. Breaking the ties at random shows what its few non-zero scores are worth.
            tied = [metrics_row("rules", [scores["rules"][k] + 1e-9 * random.Random(seed * 7919 + k).random()
                                          for k in ks], weak, strong) for seed in RANDOM_SEEDS]
            out.insert(1, {"router": "rules, ties broken at random", **{
                key: (statistics.fmean([t[key] for t in tied]) if all(t[key] is not None for t in tied) else None)
                for key in ("apgr", "cpt50", "cpt80", "share95", "saving95")}})
        out.append(random_row(weak, strong))
        out.append(metrics_row("oracle", [s - w for w, s in zip(weak, strong)], weak, strong))
        print(f"\n   {src}: {len(ks):,} prompts, quality all weak {sum(weak) / len(ks):.3f}, all strong "
              f"{sum(strong) / len(ks):.3f} (gap {gain:+.3f})")
        print("   " + table(["router", "APGR", "CPT(50%)", "CPT(80%)", "strong calls @95%", "saving @95%"], [
            (r["router"], "n/a" if r["apgr"] is None else r["apgr"], pct(r["cpt50"]), pct(r["cpt80"]),
             pct(r["share95"]), pct(r["saving95"])) for r in out]).replace("\n", "\n   "))
        for r in out:
            if r["router"] in ("rules", "learned"):
                result("routing_eval", f"apgr_{r['router']}_{src}", r["apgr"], "APGR",
                       baseline="random 0.5", goal=">= 0.60" if src == "overall" else ">= 0.55",
                       ok=r["apgr"] >= (0.60 if src == "overall" else 0.55) if r["router"] == "learned" else None)
        summary.append(f"| {src} ({len(ks)}) | " + " | ".join(
            f"{r['apgr']:.3f}" if r["apgr"] is not None else "n/a" for r in out) + " |")
        if "rules" in scores and src == "overall":
            zero = sum(1 for k in ks if scores["rules"][k] == 0) / len(ks)
            print(f"   (rules score 0 on {zero:.0%} of these prompts)")

    cv = (meta.get("metrics") or {}).get("cross_validated_4_fold")
    if cv:
        print("\n   learned, 4-fold cross-validated over all dev prompts (from tools/train_router.py, stored in the "
              "weights file; steadier for the small sources): " + ", ".join(f"{k} {v:.3f}" for k, v in cv.items()))
    clean = [k for k, i in enumerate(held) if not rows[i].get("contaminated")]
    dirty = [k for k, i in enumerate(held) if rows[i].get("contaminated")]
    for label, ks in (("not contaminated", clean), ("contaminated", dirty)):
        if len(ks) >= 10:
            weak = [rows[held[k]]["weak_score"] for k in ks]
            strong = [rows[held[k]]["strong_score"] for k in ks]
            r = metrics_row("learned", [scores["learned"][k] for k in ks], weak, strong)
            print(f"\n   learned on the {label} held-out prompts ({len(ks)}): APGR {r['apgr']:.3f}")
        else:
            print(f"\n   {label} held-out prompts: {len(ks)} (too few to score)")
    if rules:
        w = [r["weak_score"] for r in rows]
        s = [r["strong_score"] for r in rows]
        r = metrics_row("rules", [rules(p) for p in prompts], w, s)
        print(f"   rules on all {len(rows):,} dev prompts (it trains on nothing): APGR {r['apgr']:.3f}")
    return summary


# --- 2. scoring time -----------------------------------------------------------------------------------------


def timing_section(prompts: Sequence[str]) -> None:
    from chains.routing.learned import LearnedScorer

    learned = LearnedScorer().load()
    rules, _ = rules_scorer()
    fns = {"learned": learned.score}
    if rules:
        fns["rules"] = rules
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(3):  # alternate, so machine drift hits both alike
        for name, fn in fns.items():
            for p in prompts:
                t = time.perf_counter()
                fn(p)
                times[name].append((time.perf_counter() - t) * 1e6)
    lengths = sorted(len(p) for p in prompts)
    print(f"\n2. scoring time per prompt, one core, {len(prompts)} prompts x 3 (median length "
          f"{lengths[len(lengths) // 2]} chars, max {lengths[-1]})")
    rows = []
    for name, ts in times.items():
        ts.sort()
        rows.append((name, f"{statistics.median(ts):.0f} us", f"{ts[int(len(ts) * 0.95)]:.0f} us",
                     f"{ts[-1]:.0f} us"))
    print(table(["scorer", "median", "p95", "max"], rows))
    med = statistics.median(times["learned"])
    result("routing_eval", "learned_score_us", med, "us", baseline="rules" if rules else None,
           ratio=med / statistics.median(times["rules"]) if rules else None, goal="< 200 us", ok=med < 200)


# --- 3. the project's own labelled prompts --------------------------------------------------------------------


def project_section(labels: Path) -> None:
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        os.environ.pop(k)
    from chains import build_runtime, get_chain
    from chains.routing.learned import LearnedScorer

    rows = [json.loads(line) for line in labels.read_text().splitlines() if line.strip()]
    rt = build_runtime(backend="local", notice=False)
    qa = get_chain("qa", rt)
    strong_tier = {a for a, m in rt.settings.models.items() if m.tier == "strong"}
    learned = LearnedScorer().load()

    cost = {"routed (rules)": 0.0, "always strongest": 0.0, "always cheapest": 0.0, "label oracle": 0.0}
    agree = {"rules": [0, 0, 0, 0], "learned": [0, 0, 0, 0]}  # agree, tp, fp, fn
    ranked: Dict[str, List[Tuple[float, bool]]] = {"rules": [], "learned": []}
    for row in rows:
        inp = {"question": row["question"], **({"context": row["context"]} if row.get("context") else {})}
        routed = qa.invoke(inp)
        strongest = qa.invoke({**inp, "options": {"model": STRONGEST, "fallbacks": False}})
        cheapest = qa.invoke({**inp, "options": {"model": CHEAPEST, "fallbacks": False}})
        cost["routed (rules)"] += routed["cost_usd"]
        cost["always strongest"] += strongest["cost_usd"]
        cost["always cheapest"] += cheapest["cost_usd"]
        hard = row["label"] == "hard"
        cost["label oracle"] += strongest["cost_usd"] if hard else cheapest["cost_usd"]
        ranked["rules"].append((float(routed["route"]["score"]), hard))
        ranked["learned"].append((learned.score(row["question"]), hard))
        for name, strong in (("rules", routed["route"]["model"] in strong_tier),
                             ("learned", learned.score(row["question"]) >= learned.threshold)):
            a = agree[name]
            a[0] += strong == hard
            a[1] += strong and hard
            a[2] += strong and not hard
            a[3] += (not strong) and hard
    n = len(rows)
    hard_n = sum(r["label"] == "hard" for r in rows)
    print(f"\n3. the project's labelled prompts ({labels.relative_to(ROOT)}): {n} ({hard_n} hard), qa chain on "
          f"bedrock_local, token counts x config.yaml prices")
    print(table(["policy", "cost USD", "vs always strongest"], [
        (k, f"{v:.6f}", f"{v / cost['always strongest']:.3f}") for k, v in cost.items()]))
    print(table(["router", "to strong", "accuracy", "hard recall", "hard precision"], [
        (name + (f" (threshold {learned.threshold:.3f})" if name == "learned" else ""),
         f"{(a[1] + a[2]) / n:.0%}", f"{a[0] / n:.0%}", f"{a[1] / max(1, a[1] + a[3]):.0%}",
         f"{a[1] / max(1, a[1] + a[2]):.0%}") for name, a in agree.items()]))
    auc = {name: _auc(pairs) for name, pairs in ranked.items()}
    print(f"   ranking (AUC: chance a hard prompt scores above an easy one, ties 1/2): rules {auc['rules']:.2f}, "
          f"learned {auc['learned']:.2f}")
    print("   (the rules' keywords were written with these 80 prompts at hand; the learned model never saw them,\n"
          "   and its training prompts are quiz and maths questions, not service questions like these)")
    result("routing_eval", "routed_cost_vs_strongest", cost["routed (rules)"] / cost["always strongest"], "ratio",
           baseline="always claude_sonnet")
    result("routing_eval", "label_accuracy_rules", agree["rules"][0] / n, "share")
    result("routing_eval", "label_accuracy_learned", agree["learned"][0] / n, "share")


def _auc(pairs: Sequence[Tuple[float, bool]]) -> float:
    pos = [s for s, h in pairs if h]
    neg = [s for s, h in pairs if not h]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / max(1, len(pos) * len(neg))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(default_data()))
    ap.add_argument("--labels", default=str(ROOT / "tests" / "data" / "routing_labels.jsonl"))
    ap.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/routing_eval.txt")
    args = ap.parse_args()

    buf = io.StringIO()
    real = sys.stdout
    sys.stdout = Tee(real, buf)
    try:
        print(f"routing evaluation ({machine()})")
        summary = labelled_section(Path(args.data))
        data = Path(args.data)
        if data.exists():
            with gzip.open(data, "rt", encoding="utf-8") if data.name.endswith(".gz") else open(data) as fh:
                prompts = [json.loads(line)["prompt"] for line in fh if line.strip()]
            timing_section(prompts[::20])  # every 20th: all three sources, in their proportions
        project_section(Path(args.labels))
        if summary:
            print("\nAPGR table (markdown; rules | rules, ties broken at random | learned | random | oracle):")
            print("\n".join(summary))
    finally:
        sys.stdout = real
    if not args.no_save:
        out = ROOT / "benchmarks" / "results" / "routing_eval.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(buf.getvalue())
        print(f"(saved to {out.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
