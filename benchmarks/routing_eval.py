"""Routing evaluation over the labelled prompts in tests/data/routing_labels.jsonl (easy / hard).

Every prompt runs through the `qa` chain three ways on bedrock_local (in-process, no latency), and the cost
is Bedrock's own token counts (the emulator's) times the configured prices:
  - routed (rules mode, prefer balanced: the default),
  - always the strongest model (claude_sonnet pinned, fallbacks off),
  - always the cheapest model (claude_haiku pinned, fallbacks off),
  - and, for reference, an oracle that sends exactly the hard-labelled prompts to the strongest model.
It reports, RouteLLM-style, the share of calls sent to the strong tier, the router's agreement with the
labels (accuracy, and recall/precision on `hard`), and the routed cost against both baselines.
Answer quality is not measured (bedrock_local's answers are not model answers): `hard recall` (how many
hard prompts reached a strong model) is the quality proxy.

    python benchmarks/routing_eval.py [--labels tests/data/routing_labels.jsonl] [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from _common import ROOT, machine, result, table

STRONGEST, CHEAPEST = "claude_sonnet", "claude_haiku"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", default=str(ROOT / "tests" / "data" / "routing_labels.jsonl"))
    ap.add_argument("--show-misses", action="store_true")
    args = ap.parse_args()
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        os.environ.pop(k)

    from chains import build_runtime, get_chain

    rows = [json.loads(line) for line in Path(args.labels).read_text().splitlines() if line.strip()]
    rt = build_runtime(backend="local", notice=False)
    qa = get_chain("qa", rt)
    strong_tier = {a for a, m in rt.settings.models.items() if m.tier == "strong"}

    cost = {"routed": 0.0, "always strongest": 0.0, "always cheapest": 0.0, "oracle": 0.0}
    to_strong = agree = tp = fp = fn = 0
    misses = []
    per_model: dict = {}
    for row in rows:
        inp = {"question": row["question"], **({"context": row["context"]} if row.get("context") else {})}
        routed = qa.invoke(inp)
        strongest = qa.invoke({**inp, "options": {"model": STRONGEST, "fallbacks": False}})
        cheapest = qa.invoke({**inp, "options": {"model": CHEAPEST, "fallbacks": False}})
        cost["routed"] += routed["cost_usd"]
        cost["always strongest"] += strongest["cost_usd"]
        cost["always cheapest"] += cheapest["cost_usd"]
        hard_label = row["label"] == "hard"
        cost["oracle"] += strongest["cost_usd"] if hard_label else cheapest["cost_usd"]
        chosen = routed["route"]["model"]
        per_model[chosen] = per_model.get(chosen, 0) + 1
        strong = chosen in strong_tier
        to_strong += strong
        agree += strong == hard_label
        tp += strong and hard_label
        fp += strong and not hard_label
        fn += (not strong) and hard_label
        if strong != hard_label:
            misses.append((row["label"], chosen, row["question"][:70], routed["route"]["reason"][:110]))

    n = len(rows)
    hard_n = sum(r["label"] == "hard" for r in rows)
    accuracy = agree / n
    recall = tp / max(1, tp + fn)
    precision = tp / max(1, tp + fp)
    share = to_strong / n
    print(f"routing evaluation ({machine()}), {n} labelled prompts ({hard_n} hard), qa chain, bedrock_local "
          f"token counts x configured prices")
    print(table(["policy", "cost USD", "vs always strongest", "vs always cheapest"], [
        (k, f"{v:.6f}", f"{v / cost['always strongest']:.3f}", f"{v / cost['always cheapest']:.2f}")
        for k, v in cost.items()
    ]))
    print(f"\ncalls to the strong tier: routed {share:.0%}  (labels say {hard_n / n:.0%}; "
          f"always strongest 100%, always cheapest 0%)")
    print(f"models chosen: {', '.join(f'{k} {v}' for k, v in sorted(per_model.items()))}")
    print(f"agreement with labels: accuracy {accuracy:.0%}, hard recall {recall:.0%}, hard precision {precision:.0%}")
    if args.show_misses and misses:
        print("\nmisses (label, chosen, prompt, reason):")
        for m in misses:
            print("  ", " | ".join(m))
    saving = 1 - cost["routed"] / cost["always strongest"]
    result("routing_eval", "routed_cost_vs_strongest", cost["routed"] / cost["always strongest"], "ratio",
           baseline="always claude_sonnet")
    result("routing_eval", "routed_cost_vs_cheapest", cost["routed"] / cost["always cheapest"], "ratio",
           baseline="always claude_haiku")
    result("routing_eval", "share_to_strong", share, "share", baseline=f"labels {hard_n / n:.2f}")
    result("routing_eval", "label_accuracy", accuracy, "share")
    result("routing_eval", "hard_recall", recall, "share")
    print(f"\nrouted saves {saving:.0%} of always-strongest while sending {recall:.0%} of the hard prompts to a "
          f"strong model")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
