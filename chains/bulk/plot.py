"""A picture of a bulk compare: per model, the mean judge score next to what the whole set cost.

``plot_compare(summary)`` takes the ``compare`` part of ``collect_all``'s summary and returns a matplotlib
Figure (two panels: mean score 1-10; cost at batch prices with the on-demand cost as an outline). matplotlib
is imported when called, never at import time.
"""

from __future__ import annotations

from typing import Any, Mapping


def plot_compare(compare: Mapping[str, Any], title: str = "Bulk compare") -> Any:
    import matplotlib.pyplot as plt  # headless: matplotlib falls back to Agg by itself

    models = compare.get("models") or {}
    if not models:
        raise ValueError("no models in this compare summary (was the run a compare run?)")
    names = list(models)
    scores = [models[m].get("mean_score") or 0.0 for m in names]
    cost = [models[m].get("cost_usd") or 0.0 for m in names]
    od = [models[m].get("on_demand_cost_usd") or 0.0 for m in names]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.bar(names, scores, color="#4c72b0")
    left.set_ylim(0, 10)
    left.set_ylabel("mean judge score (1-10)")
    left.set_title(f"score (judge: {compare.get('judge_model') or '-'})")
    for i, s in enumerate(scores):
        left.annotate(f"{s:.2f}", (i, s), ha="center", va="bottom")
    right.bar(names, od, color="none", edgecolor="#999999", label="on demand")
    right.bar(names, cost, color="#55a868", label="batch (paid)")
    right.set_ylabel("USD for the whole set")
    right.set_title("cost")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
