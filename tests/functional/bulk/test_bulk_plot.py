"""The compare plot draws what the summary says (matplotlib, Agg)."""

from __future__ import annotations

import pytest

from chains.bulk.plot import plot_compare

SUMMARY = {"judge_model": "nova_pro", "models": {
    "claude_haiku": {"mean_score": 7.25, "cost_usd": 0.004, "on_demand_cost_usd": 0.008},
    "nova_pro": {"mean_score": 8.5, "cost_usd": 0.02, "on_demand_cost_usd": 0.04}}}


def test_plot_has_a_bar_per_model_with_score_and_costs(tmp_path):
    fig = plot_compare(SUMMARY)
    score_ax, cost_ax = fig.axes
    assert [t.get_text() for t in score_ax.get_xticklabels()] == ["claude_haiku", "nova_pro"]
    assert [round(b.get_height(), 2) for b in score_ax.patches] == [7.25, 8.5]
    heights = sorted(round(b.get_height(), 3) for b in cost_ax.patches)
    assert heights == [0.004, 0.008, 0.02, 0.04]
    assert "nova_pro" in score_ax.get_title()
    fig.savefig(tmp_path / "compare.png")
    assert (tmp_path / "compare.png").stat().st_size > 1000


def test_plot_refuses_a_summary_without_models():
    with pytest.raises(ValueError, match="no models"):
        plot_compare({"models": {}})
