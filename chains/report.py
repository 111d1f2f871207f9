"""Plain-text rendering of a response for ``python handler.py EVENT --format table``."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_table(body: Mapping[str, Any]) -> str:
    if not body.get("ok"):
        err = body.get("error") or {}
        return f"error {err.get('status', '')} {err.get('type', '')}: {err.get('message', '')}"
    results = body.get("results")
    if isinstance(results, list):
        rows: List[List[Any]] = []
        for r in results:
            usage = r.get("usage") or {}
            rows.append([
                r.get("alias") or r.get("model"),
                r.get("status", "ok"),
                _num(r.get("latency_ms"), "{:.0f}"),
                usage.get("input_tokens", ""),
                usage.get("output_tokens", ""),
                _num(r.get("cost_usd"), "{:.6f}"),
                _num(r.get("score"), "{:.1f}"),
            ])
        out = table(["model", "status", "latency_ms", "in_tok", "out_tok", "cost_usd", "score"], rows)
        summary: Dict[str, Any] = body.get("summary") or {}
        if summary:
            out += "\n\n" + "  ".join(f"{k}: {v}" for k, v in summary.items() if not isinstance(v, (dict, list)))
        return out
    usage = body.get("usage") or {}
    return table(
        ["model", "latency_ms", "in_tok", "out_tok", "cost_usd"],
        [[body.get("model"), _num(body.get("latency_ms"), "{:.0f}"), usage.get("input_tokens"),
          usage.get("output_tokens"), _num(body.get("cost_usd"), "{:.6f}")]],
    ) + "\n\n" + str(body.get("output", ""))


def _num(value: Any, fmt: str) -> str:
    return fmt.format(value) if isinstance(value, (int, float)) else ""
