"""The `summarize` chain on a 3-million-character document: calls, chunks, cost, and wall time against the
ideal given `tokens.max_concurrency`, measured in the same run.

bedrock_local runs in its own process, over HTTP, with each model's latency profile from config.yaml (latency
scale 1). The document (~750K estimated tokens) fits neither Claude Haiku 4.5's window (200K) nor Nova Pro's
(300K), the two models the chain is given here (Claude Sonnet 5.5's 1M window would take it in one call), so the
chain splits it, maps the chunks as a batch, collapses if needed and
reduces. For each max_concurrency we report
  - wall: the chain's wall time;
  - ideal: every level's calls scheduled on max_concurrency workers with the latencies Bedrock (the emulator)
    reported for them (`metrics.latencyMs`), levels one after another: the best any client could do;
  - sequential: the sum of those latencies (max_concurrency 1);
so wall / ideal is our overhead (splitting, HTTP, boto3, langchain), and sequential / wall the speed-up.

    python benchmarks/summarize_long.py [--chars 3000000] [--concurrency 4 8] [--latency-scale 1.0]
"""

from __future__ import annotations

import argparse
import copy
import heapq
import logging
import random
import threading
import time
from typing import Any, Dict, List

import yaml
from langchain_core.callbacks import BaseCallbackHandler

from _common import ROOT, bedrock_env, emulator_process, machine, result, table

WORDS = (
    "river mountain ledger harvest signal copper lantern orchard meadow engine quarry beacon market treaty "
    "harbour census glacier furnace archive pilgrim voltage canal"
).split()


def make_document(chars: int, seed: int = 1) -> str:
    """Paragraphs of unique sentences (each names its place), so optimisation removes nothing."""
    rng = random.Random(seed)
    paras: List[str] = []
    total = i = 0
    while total < chars:
        sents = [f"Section {i}.{j}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 20))) + "."
                 for j in range(rng.randint(3, 8))]
        para = " ".join(sents)
        paras.append(para)
        total += len(para) + 2
        i += 1
    return "\n\n".join(paras)[:chars]


class Latencies(BaseCallbackHandler):
    """Bedrock-reported latency of every model call (ms), in the order they finished."""

    def __init__(self) -> None:
        self.values: List[float] = []
        self.lock = threading.Lock()

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        for gens in response.generations:
            for gen in gens:
                metrics = (getattr(gen.message, "response_metadata", {}) or {}).get("metrics") or {}
                value = metrics.get("latencyMs")
                value = value[0] if isinstance(value, list) else value
                with self.lock:
                    self.values.append(float(value or 0))


def makespan(latencies: List[float], workers: int) -> float:
    """Greedy list scheduling in submission order (what a thread pool does): the level's finish time."""
    heap = [0.0] * min(workers, max(1, len(latencies)))
    for lat in latencies:
        start = heapq.heappop(heap)
        heapq.heappush(heap, start + lat)
    return max(heap) if latencies else 0.0


def ideal_ms(levels: List[int], latencies: List[float], workers: int) -> float:
    """Levels run one after another; ``latencies`` are in completion order, which within a level is close
    enough to submission order for a makespan (all calls of a level have similar latency)."""
    total, i = 0.0, 0
    for n in levels:
        total += makespan(latencies[i:i + n], workers)
        i += n
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chars", type=int, default=3_000_000)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--latency-scale", type=float, default=1.0)
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    doc = make_document(args.chars)
    base_cfg = yaml.safe_load((ROOT / "config.yaml").read_text())

    from chains.strategies.map_reduce import MapReduce  # noqa: F401  (import cost outside the timings

    rows = []
    with emulator_process(latency_scale=args.latency_scale, config="config.yaml") as url, bedrock_env(url):
        from chains import build_runtime, get_chain

        for workers in args.concurrency:
            cfg = copy.deepcopy(base_cfg)
            cfg.setdefault("tokens", {})["max_concurrency"] = workers
            cfg["chains"]["summarize"]["models"] = ["claude_haiku", "nova_pro"]  # windows below the document
            runtime = build_runtime(cfg, backend="bedrock", notice=False)
            chain = get_chain("summarize", runtime)
            chain.invoke({"text": "Warm-up: clients, models and connections. " * 5})
            latencies = Latencies()
            started = time.perf_counter()
            out = chain.invoke({"text": doc}, config={"callbacks": [latencies]})
            wall = (time.perf_counter() - started) * 1000.0
            mr = out["map_reduce"]
            lat = latencies.values
            assert len(lat) == out["calls"], (len(lat), out["calls"])
            ideal = ideal_ms(mr["levels"], lat, workers)
            sequential = sum(lat)
            rows.append({
                "max_concurrency": workers, "chunks": out["chunks"], "calls": out["calls"], "levels": mr["levels"],
                "chunk_tokens": mr["chunk_tokens"], "model": mr["model"], "wall_s": wall / 1000,
                "ideal_s": ideal / 1000, "sequential_s": sequential / 1000, "cost": out["cost_usd"],
                "planned_cost": mr["estimated_cost_usd"], "input_tokens": out["usage"]["input_tokens"],
                "output_tokens": out["usage"]["output_tokens"],
            })

    print(f"summarize_long: {len(doc):,} characters (~{len(doc) // 4:,} estimated tokens), bedrock_local over HTTP, "
          f"latency scale {args.latency_scale}; {machine()}")
    print(table(
        ["max_concurrency", "chunks", "calls", "levels", "model", "wall s", "ideal s", "wall/ideal", "sequential s",
         "speed-up", "cost $", "plan (worst) $", "input tok", "output tok"],
        [[r["max_concurrency"], r["chunks"], r["calls"], "/".join(map(str, r["levels"])), r["model"], r["wall_s"],
          r["ideal_s"], r["wall_s"] / r["ideal_s"], r["sequential_s"], r["sequential_s"] / r["wall_s"],
          f"{r['cost']:.4f}", f"{r['planned_cost']:.4f}", r["input_tokens"], r["output_tokens"]] for r in rows],
    ))
    for r in rows:
        c = r["max_concurrency"]
        result("summarize_long", f"wall / ideal (max_concurrency {c})", r["wall_s"] / r["ideal_s"], "x",
               baseline=f"ideal {r['ideal_s']:.1f} s", ratio=r["wall_s"] / r["ideal_s"], goal="< 1.2", ok=r["wall_s"] / r["ideal_s"] < 1.2)
        result("summarize_long", f"calls for 3M chars (max_concurrency {c})", r["calls"], "calls",
               baseline=f"{r['chunks']} chunks")
        result("summarize_long", f"cost (max_concurrency {c})", r["cost"], "USD",
               baseline=f"plan {r['planned_cost']:.4f}", ratio=r["cost"] / r["planned_cost"], goal="<= plan",
               ok=r["cost"] <= r["planned_cost"])


if __name__ == "__main__":
    main()
