"""Plain-text rendering of a response for ``python handler.py EVENT --format table``.

A compare response becomes one row per model (and one for the judge, so the cost column adds up to the
total), then the summary, the judge's seed and order, where the copy was stored, and the best answer.
Any other response is a one-row table and its output.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

NOTE_WIDTH = 60


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[int] = ()) -> str:
    """A fixed-width table; columns whose index is in ``right`` are right-aligned (numbers)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def fmt(row: List[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    lines = [fmt(r) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_table(body: Mapping[str, Any]) -> str:
    if not body.get("ok"):
        err = body.get("error") or {}
        out = f"error {err.get('status', '')} {err.get('type', '')}: {err.get('message', '')}"
        if isinstance(err.get("results"), list):  # a comparison where no model answered: still show why
            out += "\n\n" + _compare_rows(err["results"], None)
        return out
    if isinstance(body.get("results"), list):
        return render_compare(body)
    usage = body.get("usage") or {}
    return table(
        ["model", "latency_ms", "in_tok", "out_tok", "cost_usd"],
        [[body.get("model"), _num(body.get("latency_ms"), "{:.0f}"), usage.get("input_tokens"),
          usage.get("output_tokens"), _num(body.get("cost_usd"), "{:.6f}")]],
        right=(1, 2, 3, 4),
    ) + "\n\n" + str(body.get("output", ""))


def render_compare(body: Mapping[str, Any]) -> str:
    results = body["results"]
    judge: Dict[str, Any] = body.get("judge") or {}
    summary: Dict[str, Any] = body.get("summary") or {}
    parts = [_compare_rows(results, judge)]

    lines = []
    if summary:
        lines.append(
            f"fastest: {summary.get('fastest')}   cheapest: {summary.get('cheapest')}   "
            f"best scored: {summary.get('best_scored') or '-'}   "
            f"answered {summary.get('answered', 0)}, failed {summary.get('failed', 0)}, "
            f"skipped {summary.get('skipped', 0)}"
        )
        lines.append(
            f"total cost: ${summary.get('total_cost_usd', 0):.6f} (models ${summary.get('models_cost_usd', 0):.6f}"
            f" + judge ${summary.get('judge_cost_usd', 0):.6f})   wall: {_num(body.get('latency_ms'), '{:.0f}')} ms"
            f" (models in parallel: {_num(summary.get('fan_out_ms'), '{:.0f}')} ms, slowest model "
            f"{_num(summary.get('slowest_model_ms'), '{:.0f}')} ms)"
        )
    if judge.get("enabled"):
        order = ", ".join(f"{o['label']}={o['model']}" for o in judge.get("order") or [])
        line = f"judge: {judge.get('model')}, seed {judge.get('seed')} (from {judge.get('seed_source')}), shown as {order}"
        if judge.get("error"):
            line += f"\njudge failed: {judge['error'].get('type')}: {judge['error'].get('message')}"
        lines.append(line)
    elif judge:
        lines.append(f"judge: off ({judge.get('reason', '')})")
    storage = body.get("storage")
    if isinstance(storage, Mapping):
        if storage.get("ok"):
            lines.append(f"stored: {storage.get('uri')}")
        else:
            err = storage.get("error") or {}
            lines.append(f"not stored in s3://{storage.get('bucket')}/{storage.get('key')}: {err.get('type')}: "
                         f"{err.get('message')}")
    parts.append("\n".join(lines))

    route = body.get("route") or {}
    parts.append(f"best answer: {route.get('model')} ({route.get('reason', '')})\n{body.get('output', '')}")
    return "\n\n".join(p for p in parts if p)


def _compare_rows(results: Sequence[Mapping[str, Any]], judge: Optional[Mapping[str, Any]]) -> str:
    rows: List[List[Any]] = []
    for r in results:
        usage = r.get("usage") or {}
        rows.append([
            r.get("alias") or r.get("model"),
            r.get("status", "ok"),
            _num(r.get("latency_ms"), "{:.0f}"),
            _num(r.get("bedrock_latency_ms"), "{:.0f}"),
            usage.get("input_tokens", ""),
            usage.get("output_tokens", ""),
            _num(r.get("cost_usd"), "{:.6f}"),
            _score(r),
            _note(r),
        ])
    if judge and judge.get("enabled") and (judge.get("usage") or judge.get("error")):
        usage = judge.get("usage") or {}
        err = judge.get("error") or {}
        rows.append([
            f"(judge) {judge.get('model')}",
            "error" if err else "ok",
            _num(judge.get("latency_ms"), "{:.0f}"),
            _num(judge.get("bedrock_latency_ms"), "{:.0f}"),
            usage.get("input_tokens", ""),
            usage.get("output_tokens", ""),
            _num(judge.get("cost_usd"), "{:.6f}"),
            "",
            _clip(f"{err.get('type')}: {err.get('message')}") if err else "",
        ])
    return table(
        ["model", "status", "latency_ms", "bedrock_ms", "in_tok", "out_tok", "cost_usd", "score", "note"],
        rows,
        right=(2, 3, 4, 5, 6, 7),
    )


def _score(r: Mapping[str, Any]) -> str:
    score = r.get("score")
    if not isinstance(score, (int, float)):
        return ""
    return f"{score}/10 ({r['label']})" if r.get("label") else f"{score}/10"


def _note(r: Mapping[str, Any]) -> str:
    if r.get("status") == "skipped":
        return _clip(f"skipped: {r.get('skip_reason', '')}")
    if r.get("status") == "error":
        err = r.get("error") or {}
        return _clip(f"{err.get('error_class')} {err.get('code') or ''}: {err.get('message', '')}".replace(" :", ":"))
    if r.get("stop_reason") and r.get("stop_reason") != "end_turn":
        return f"stop: {r['stop_reason']}"
    return ""


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= NOTE_WIDTH else text[: NOTE_WIDTH - 1] + "…"


def _num(value: Any, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
