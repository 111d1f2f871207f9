"""Prompt caching (issue 18): the cost of the same work with ``cache: auto`` against ``cache: off``, same run.

Against bedrock_local (in-process; its prompt cache follows Bedrock's rules: minimum tokens per checkpoint,
5-minute TTL, the cached part billed at the cache read / write prices of the catalogue). The models are the
upcoming defaults (Claude Haiku 4.5 and Claude Sonnet 5.5 through their ``us.`` profiles, Nova Pro), all three
with prompt caching. Each scenario runs twice, each time on a fresh emulator and a cold prefix LRU: once with
caching on, once off; the figure is the ratio of the two costs (``cost_usd`` of the responses).

1. ``qa``: ten questions over one ~40K-token document (goal <= 0.25x);
2. ``chat``: a twenty-turn conversation about a ~6K-token file (goal <= 0.4x);
3. ``compare``: one long prompt on three models, then a second question on the same context (second <= 0.4x);
4. ``agent``: ten requests to the agent whose tool definitions (three chains with long descriptions, ~5K tokens)
   and system prompt are the stable prefix (goal <= 0.4x);
5. ``qa`` with an attached ~20K-token document: ten questions about it (goal <= 0.25x);
and for every single request: cache-on cost <= cache-off cost + the write premium it paid.

    python benchmarks/cache.py [--doc-tokens 40000]
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from _common import ROOT, machine, result, table

os.environ.setdefault("BEDROCK_LOCAL_LIFECYCLE", "0")  # config.yaml's Claude 3 ids are replaced below anyway

WORDS = ("river mountain ledger harvest signal copper lantern orchard meadow engine quarry beacon market treaty "
         "harbour census glacier furnace archive pilgrim voltage canal").split()
MODELS = {  # the upcoming defaults, prices from the catalogue (USD per 1K tokens)
    "claude_haiku": ("us.anthropic.claude-haiku-4-5-20251001-v1:0", 0.001, 0.005, 200000, 64000),
    "nova_pro": ("amazon.nova-pro-v1:0", 0.0008, 0.0032, 300000, 5000),
    "claude_sonnet": ("us.anthropic.claude-sonnet-5-5", 0.002, 0.01, 1000000, 64000),
}


def document(tokens: int, seed: int = 7) -> str:
    """Unique sentences (input optimisation removes nothing), ~4 characters per token."""
    rng = random.Random(seed)
    out, n = [], 0
    while n < tokens * 4:
        s = f"Entry {len(out)}: the {' '.join(rng.choice(WORDS) for _ in range(9))}."
        out.append(s)
        n += len(s) + 1
    return " ".join(out)


def runtime(cache: str, tool_tokens: int = 0) -> Any:
    from chains import build_runtime, load_config
    from chains.caching.placement import PREFIXES

    PREFIXES.clear()
    data = load_config(env={}).model_dump()
    for alias, (model_id, inp, out, window, max_out) in MODELS.items():
        data["models"][alias].update(model_id=model_id, context_window=window, max_output_tokens=max_out,
                                     price={"input_per_1k": inp, "output_per_1k": out})
    for chain in data["chains"].values():
        chain["cache"] = cache
    for name in data["chains"]["agent"]["settings"].get("tools") or () if tool_tokens else ():
        # A chain's description is its tool definition: a real tool catalogue is long and stable.
        data["chains"][name]["description"] = document(tool_tokens // 3, seed=sum(map(ord, name)))
    return build_runtime(data, backend="local", notice=False)


def premium(rt: Any, body: Dict[str, Any]) -> float:
    """USD the cache writes of a response cost above the same tokens as plain input."""
    from chains.caching.facts import cache_prices

    extra = 0.0
    for model_id, u in body["usage_by_model"].items():
        price = rt.settings.models[u["alias"]].price
        write = cache_prices(model_id).write_per_1k
        write = price.input_per_1k if write is None else write
        extra += u["cache_write_input_tokens"] * max(0.0, write - price.input_per_1k) / 1000.0
    return extra


def input_cost(rt: Any, body: Dict[str, Any]) -> float:
    """USD of a response's input side (the emulator's answers, and so output tokens, vary with the prompt's
    block layout: the premium check compares what caching changes, the input)."""
    return sum(u["cost_usd"] - u["output_tokens"] * rt.settings.models[u["alias"]].price.output_per_1k / 1000.0
               for u in body["usage_by_model"].values())


Scenario = Callable[[Any], List[Dict[str, Any]]]


def qa_scenario(doc: str) -> Scenario:
    questions = [f"What does entry {n} say about the {WORDS[n % len(WORDS)]}?" for n in range(10)]

    def run(rt: Any) -> List[Dict[str, Any]]:
        qa = rt.chain("qa")
        return [qa.invoke({"question": q, "context": doc}) for q in questions]
    return run


def chat_scenario(file_text: str) -> Scenario:
    def run(rt: Any) -> List[Dict[str, Any]]:
        chat, history, out = rt.chain("chat"), [], []
        history.append({"role": "user", "content": "Here is our file; I will ask about it.\n" + file_text})
        for turn in range(20):
            body = chat.invoke({"messages": history})
            out.append(body)
            history += [{"role": "assistant", "content": body["output"]},
                        {"role": "user", "content": f"Thanks. Now, turn {turn + 1}: what about entry {turn * 7}? "
                                                    + document(120, seed=turn)}]
        return out
    return run


def compare_scenario(doc: str) -> Scenario:
    def run(rt: Any) -> List[Dict[str, Any]]:
        compare = rt.chain("compare")
        return [compare.invoke({"question": q, "context": doc, "options": {"judge": False}})
                for q in ("Which entries mention a glacier?", "Which entries mention a lantern?")]
    return run


def agent_scenario() -> Scenario:
    context = "Amazon Nova is Amazon's own family of foundation models. Claude models come from Anthropic."

    def run(rt: Any) -> List[Dict[str, Any]]:
        agent = rt.chain("agent")
        return [agent.invoke({"question": f"Use the qa tool: which family is model {n} from?", "context": context,
                              "options": {"model": "claude_haiku"}}) for n in range(10)]
    return run


def attachment_scenario(doc: str) -> Scenario:
    import base64

    attached = [{"mime_type": "text/plain", "name": "archive", "data": base64.b64encode(doc.encode()).decode()}]
    questions = [f"What does entry {n} say about the {WORDS[n % len(WORDS)]}?" for n in range(10)]

    def run(rt: Any) -> List[Dict[str, Any]]:
        qa = rt.chain("qa")
        return [qa.invoke({"question": q, "documents": attached}) for q in questions]
    return run


def measure(name: str, scenario: Scenario, tool_tokens: int = 0
            ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], Any]:
    rt_on, rt_off = runtime("auto", tool_tokens), None
    on = scenario(rt_on)
    rt_off = runtime("off", tool_tokens)
    off = scenario(rt_off)
    # No request more expensive than without caching by more than the write premium it paid (input side).
    for i, (a, b) in enumerate(zip(on, off)):
        # + one token per checkpoint (at most 4): the text is split in blocks, each counted rounded up
        split = sum(4 * rt_on.settings.models[u["alias"]].price.input_per_1k / 1000.0
                    for u in a["usage_by_model"].values())
        allowed = input_cost(rt_off, b) + premium(rt_on, a) + split + 1e-9
        assert input_cost(rt_on, a) <= allowed, f"{name} request {i}: ${input_cost(rt_on, a):.6f} > ${allowed:.6f}"
    return on, off, rt_on


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--doc-tokens", type=int, default=40000)
    args = ap.parse_args()
    doc = document(args.doc_tokens)
    rows, figures = [], []

    def row(label: str, on: List[Dict[str, Any]], off: List[Dict[str, Any]], goal: float, models: str) -> None:
        c_on, c_off = sum(b["cost_usd"] for b in on), sum(b["cost_usd"] for b in off)
        read = sum(b["usage"]["cache_read_input_tokens"] for b in on)
        write = sum(b["usage"]["cache_write_input_tokens"] for b in on)
        ratio = c_on / c_off
        rows.append([label, len(on), models, f"{c_off:.6f}", f"{c_on:.6f}", f"{read:,}", f"{write:,}",
                     f"{ratio:.3f}x", f"<= {goal}x", "ok" if ratio <= goal else "MISSED"])
        figures.append((label, ratio))

    on, off, _ = measure("qa", qa_scenario(doc))
    row(f"qa: 10 questions, ~{args.doc_tokens // 1000}K-token document", on, off, 0.25,
        ", ".join(sorted({b["route"]["model"] for b in on})))
    on, off, _ = measure("chat", chat_scenario(document(6000, seed=3)))
    row("chat: 20 turns about a ~6K-token file", on, off, 0.4, ", ".join(sorted({b["route"]["model"] for b in on})))
    on, off, _ = measure("compare", compare_scenario(doc))
    row("compare: first prompt, 3 models (writes)", on[:1], off[:1], 1.25, "all three")
    row("compare: second prompt, same context", on[1:], off[1:], 0.4, "all three")
    on, off, _ = measure("agent", agent_scenario(), tool_tokens=5000)
    row("agent: 10 requests, ~5K tokens of tool definitions", on, off, 0.4,
        ", ".join(sorted({b["route"]["model"] for b in on})))
    on, off, _ = measure("attachment", attachment_scenario(document(20000, seed=11)))
    row("qa: 10 questions about one attached ~20K-token document", on, off, 0.25,
        ", ".join(sorted({b["route"]["model"] for b in on})))

    headers = ["scenario", "requests", "model(s)", "cost off $", "cost auto $", "cache read tok", "cache write tok",
               "auto/off", "goal", ""]
    text = (f"Prompt caching: cost with cache auto / cache off, same run ({machine()})\n"
            + table(headers, rows)
            + "\nEvery request: input cost with caching <= input cost without + the write premium it paid\n(+ at most one token per checkpoint: the prompt is split in blocks, each counted rounded up) (checked).\n")
    print(text)
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "cache.txt").write_text(text, encoding="utf-8")
    for label, ratio in figures:
        result("cache", label, ratio, "x", baseline="cache off", ratio=ratio)


if __name__ == "__main__":
    main()
