"""Wall time of the `compare` chain against its slowest model measured alone, in the same run.

bedrock_local runs in its own process, over HTTP, with each model's latency profile from config.yaml
(latency scale 1: Nova Pro ~0.69 s, Claude 3 Haiku ~0.49 s, Claude 3 Sonnet ~1.3 s for these answers).
In interleaved rounds we time
  - each model alone: the same compare chain with `options.models = [alias]` (same code path, one branch),
  - all three at once: the compare chain on every model,
all with the judge off (the judge is a second, sequential step by design; it is reported apart), and all three
under a `timeout_ms` (the Lambda path: each call then runs in a thread it can be abandoned in).
If the branches really run in parallel, compare ~= the slowest model alone, not the sum. Goal: < 1.1x.

    python benchmarks/compare_wall.py [--rounds 5] [--latency-scale 1.0]
"""

from __future__ import annotations

import argparse
import logging
import time

from _common import bedrock_env, emulator_process, machine, median, result, table

INPUT = {
    "question": "Which model family does Amazon Nova belong to?",
    "context": "Amazon Bedrock offers foundation models from several providers. Amazon Nova is Amazon's own "
               "family of foundation models. Claude models come from Anthropic.",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--latency-scale", type=float, default=1.0)
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    with emulator_process(latency_scale=args.latency_scale, config="config.yaml") as url, bedrock_env(url):
        from chains import build_runtime, get_chain

        runtime = build_runtime(backend="bedrock", notice=False)
        chain = get_chain("compare", runtime)
        aliases = list(runtime.settings.models)

        def run(models, judge=False, **options):
            t = time.perf_counter()
            out = chain.invoke({**INPUT, "options": {"models": models, "judge": judge, **options}})
            wall = (time.perf_counter() - t) * 1000.0
            assert all(e["status"] == "ok" for e in out["results"]), out["results"]
            return wall, out

        variants = {f"{a} alone": [a] for a in aliases}
        variants["compare (all, parallel)"] = aliases
        run(aliases)  # warm-up: clients, models, connections
        samples = {name: [] for name in variants}
        judge_samples, deadline_samples = [], []
        for _ in range(args.rounds):
            for name, models in variants.items():
                samples[name].append(run(models)[0])
            # Under a deadline (always the case on Lambda) each call runs in a thread it can be abandoned in.
            deadline_samples.append(run(aliases, timeout_ms=30000)[0])
            judge_samples.append(run(aliases, judge=True)[0])

    alone = {a: median(samples[f"{a} alone"]) for a in aliases}
    slowest = max(alone, key=alone.get)
    compare_ms = median(samples["compare (all, parallel)"])
    sequential = sum(alone.values())
    rows = [[name, median(xs), min(xs), max(xs)] for name, xs in samples.items()]
    rows.append(["sum of the three alone (sequential)", sequential, "", ""])
    rows.append(["compare (all) under timeout_ms", median(deadline_samples), min(deadline_samples),
                 max(deadline_samples)])
    rows.append(["compare (all) with the judge on", median(judge_samples), min(judge_samples), max(judge_samples)])
    print(f"compare chain wall time against bedrock_local over HTTP ({machine()}; latency scale "
          f"{args.latency_scale}; {args.rounds} interleaved rounds; judge off unless stated)")
    print(table(["variant", "median ms", "min ms", "max ms"], rows))
    ratio = compare_ms / alone[slowest]
    print(f"\ncompare / slowest alone ({slowest}) = {ratio:.3f} (goal < 1.1); compare / sequential sum = "
          f"{compare_ms / sequential:.3f}")
    result("compare_wall", f"compare wall vs slowest model alone ({slowest})", compare_ms, "ms",
           f"{slowest} alone", ratio, "< 1.1x", ratio < 1.1)
    result("compare_wall", "compare under timeout_ms vs slowest model alone", median(deadline_samples), "ms",
           f"{slowest} alone", median(deadline_samples) / alone[slowest], "< 1.1x",
           median(deadline_samples) / alone[slowest] < 1.1)
    result("compare_wall", "compare wall vs sequential sum", compare_ms, "ms", "sum of models alone",
           compare_ms / sequential)


if __name__ == "__main__":
    main()
