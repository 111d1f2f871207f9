"""The router's own cost per decision (rules mode), against a no-op Runnable measured in the same run.

Three figures (median microseconds per call, same inputs, interleaved rounds):
  - `decide()` on a parsed request, against a no-op Python call: the decision itself (goal < 0.2 ms);
  - `Router(chain).invoke(input)` (parse + messages + decision, as a Runnable with callbacks), against
    `RunnableLambda(lambda x: x).invoke(input)`: what the router adds to an LCEL pipeline;
  - the same decision on a long request (40K characters of context; the signals scan at most
    `router.scan_chars` of the routed inputs).
No model is called (rules mode); nothing here touches the network.

    python benchmarks/router_overhead.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import os

from _common import interleaved, machine, median, result, table

GOAL_MS = 0.2


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        os.environ.pop(k)

    from langchain_core.runnables import RunnableLambda

    from chains import build_runtime, get_chain
    from chains.attachments import build_messages
    from chains.routing.decision import Router, decide

    rt = build_runtime(backend="local", notice=False)
    qa = get_chain("qa", rt)
    easy = {"question": "What is Amazon S3?", "context": "Amazon S3 stores objects in buckets."}
    hard = {"question": "Explain step by step why this python function fails: def f(x): return x[0]"}
    long_ = {"question": "Why did totals fall in the second quarter?", "context": "Shipments and totals. " * 1900}
    parsed = {}
    for name, inp in (("easy", easy), ("hard", hard), ("long", long_)):
        req = qa.parse(inp)
        parsed[name] = (req, build_messages(qa, req))

    router = Router(qa)
    noop = RunnableLambda(lambda x: x)

    def nothing(*_a):
        return None

    fns = {
        "no-op function": lambda: nothing(qa, *parsed["easy"]),
        "decide() easy": lambda: decide(qa, *parsed["easy"]),
        "decide() hard": lambda: decide(qa, *parsed["hard"]),
        "decide() long (40K chars)": lambda: decide(qa, *parsed["long"]),
        "no-op Runnable.invoke": lambda: noop.invoke(easy),
        "Router.invoke (parse+decide)": lambda: router.invoke(easy),
    }
    samples = interleaved(fns, rounds=args.rounds, per_round=50, warmup=20)
    us = {k: median(v) * 1000.0 for k, v in samples.items()}
    assert not rt.factory.emulator.calls, "rules mode must not call a model"

    rows = [(k, us[k]) for k in fns]
    print(f"router overhead, rules mode ({machine()}); median microseconds per call, "
          f"{args.rounds} rounds x 50 calls, interleaved")
    print(table(["call", "us"], rows))
    decision_ms = (max(us["decide() easy"], us["decide() hard"]) - us["no-op function"]) / 1000.0
    runnable_ms = (us["Router.invoke (parse+decide)"] - us["no-op Runnable.invoke"]) / 1000.0
    long_ms = (us["decide() long (40K chars)"] - us["no-op function"]) / 1000.0
    print(f"\ndecision (worst of easy/hard) minus a no-op call: {decision_ms:.3f} ms (goal < {GOAL_MS} ms)")
    print(f"Router Runnable minus a no-op Runnable:            {runnable_ms:.3f} ms (includes parsing the input)")
    print(f"decision on a 40K-character request:             {long_ms:.3f} ms")
    result("router_overhead", "decision_ms", decision_ms, "ms", baseline="no-op call",
           goal=f"< {GOAL_MS} ms", ok=decision_ms < GOAL_MS)
    result("router_overhead", "runnable_added_ms", runnable_ms, "ms", baseline="no-op Runnable",
           ratio=us["Router.invoke (parse+decide)"] / us["no-op Runnable.invoke"])
    result("router_overhead", "decision_long_ms", long_ms, "ms", baseline="no-op call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
