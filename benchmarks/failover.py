"""Failover latency with the primary model throttled, against bedrock_local over HTTP (its own process).

The primary (claude_haiku) answers every call with ThrottlingException; the fallback (nova_pro) answers
normally, with its emulated latency (latency scale below). Measured in the same run, interleaved:

  ours      fallback alone     the qa chain pinned to nova_pro, fallbacks off: the fallback model's own latency
  ours      failover           the routed qa chain (haiku first), cooldown cleared before every request, so
                               each request pays the throttle and the failover
  ours      warm (cooling)     the same without clearing: haiku is cooling down and skipped
  LangChain fallback alone     ChatBedrockConverse(nova_pro) on a default boto3 client
  LangChain with_fallbacks     ChatBedrockConverse(haiku).with_fallbacks([nova_pro]) on default boto3 clients
                               (botocore's default retry policy backs off on the throttle first)

"added" = median(failover) - median(fallback alone) of the same stack. Goal: ours < 50 ms.
HTTP calls to the throttled model are counted on the client (botocore before-send events).

    python benchmarks/failover.py [--rounds 6] [--per-round 5] [--latency-scale 0.25]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from _common import bedrock_env, emulator_process, machine, median, p90, result, table

PRIMARY, FALLBACK = "claude_haiku", "nova_pro"
QUESTION = "What is Amazon S3?"  # easy: the router puts claude_haiku first
GOAL_MS = 50.0


def count_calls(client, counter: Counter) -> None:
    def before_send(request, **_):
        for alias, marker in (("haiku", "claude-3-haiku"), ("nova", "nova-pro"), ("sonnet", "claude-3-sonnet")):
            if marker in request.url:
                counter[alias] += 1

    client.meta.events.register("before-send.bedrock-runtime", before_send)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--per-round", type=int, default=5)
    ap.add_argument("--baseline-per-round", type=int, default=2, help="LangChain with_fallbacks is slow")
    ap.add_argument("--latency-scale", type=float, default=0.25)
    args = ap.parse_args()

    faults = [{"model": PRIMARY, "error": "ThrottlingException"}]
    with emulator_process(latency_scale=args.latency_scale, faults=faults, config="config.yaml") as url, \
            bedrock_env(url):
        import boto3
        from langchain_aws import ChatBedrockConverse
        from langchain_core.messages import HumanMessage

        from chains import build_runtime, get_chain

        rt = build_runtime(backend="bedrock", notice=False)
        qa = get_chain("qa", rt)
        ours_calls: Counter = Counter()
        count_calls(rt.factory.client(rt.settings.region, rt.settings.model(PRIMARY).retry), ours_calls)
        cooldown = rt.cooldown

        def ours_alone():
            out = qa.invoke({"question": QUESTION, "options": {"model": FALLBACK, "fallbacks": False}})
            assert out["route"]["answered_by"] == FALLBACK

        def ours_failover():
            cooldown.clear()
            out = qa.invoke({"question": QUESTION})
            assert out["route"]["answered_by"] == FALLBACK and out["attempts"][0]["error_class"] == "throttled"

        def ours_warm():
            out = qa.invoke({"question": QUESTION})
            assert out["route"]["answered_by"] == FALLBACK

        lc_calls: Counter = Counter()
        default_client = boto3.client("bedrock-runtime", region_name="us-east-1")  # botocore's default retries
        count_calls(default_client, lc_calls)
        ids = {a: rt.settings.model(a).model_id for a in (PRIMARY, FALLBACK)}
        lc_nova = ChatBedrockConverse(model=ids[FALLBACK], client=default_client, region_name="us-east-1",
                                      max_tokens=512, temperature=0.2)
        lc_haiku = ChatBedrockConverse(model=ids[PRIMARY], client=default_client, region_name="us-east-1",
                                       max_tokens=512, temperature=0.2)
        lc_fallbacks = lc_haiku.with_fallbacks([lc_nova])
        messages = [HumanMessage(QUESTION)]

        variants = {
            "ours: fallback model alone": (ours_alone, args.per_round),
            "ours: failover (primary throttled)": (ours_failover, args.per_round),
            "ours: warm, primary cooling down": (ours_warm, args.per_round),
            "LangChain: fallback model alone": (lambda: lc_nova.invoke(messages), args.per_round),
            "LangChain: with_fallbacks, default retries": (lambda: lc_fallbacks.invoke(messages),
                                                           args.baseline_per_round),
        }
        for fn, _ in variants.values():  # warm-up: clients, models, connections
            fn()
        ours_calls.clear()
        lc_calls.clear()
        samples = {k: [] for k in variants}
        counts = {k: Counter() for k in variants}
        for _ in range(args.rounds):
            for name, (fn, k) in variants.items():
                for _ in range(k):
                    before = Counter(ours_calls) + Counter(lc_calls)
                    t = time.perf_counter()
                    fn()
                    samples[name].append((time.perf_counter() - t) * 1000.0)
                    counts[name] += (Counter(ours_calls) + Counter(lc_calls)) - before

    rows = []
    for name, xs in samples.items():
        per = {m: counts[name][m] / len(xs) for m in ("haiku", "nova")}
        rows.append((name, len(xs), median(xs), p90(xs), f"{per['haiku']:.1f}", f"{per['nova']:.1f}"))
    print(f"failover with the primary throttled ({machine()}); bedrock_local over HTTP in its own process, "
          f"latency scale {args.latency_scale}")
    print(table(["variant", "n", "median ms", "p90 ms", "HTTP calls to haiku", "to nova"], rows))
    m = {k: median(v) for k, v in samples.items()}
    ours_added = m["ours: failover (primary throttled)"] - m["ours: fallback model alone"]
    warm_added = m["ours: warm, primary cooling down"] - m["ours: fallback model alone"]
    lc_added = m["LangChain: with_fallbacks, default retries"] - m["LangChain: fallback model alone"]
    print(f"\nadded by a failover, ours:      {ours_added:7.1f} ms (goal < {GOAL_MS:.0f} ms)")
    print(f"added when cooling down, ours:  {warm_added:7.1f} ms")
    print(f"added by LangChain with_fallbacks + default boto3 retries: {lc_added:7.1f} ms "
          f"({lc_added / max(ours_added, 0.1):.0f}x ours)")
    result("failover", "added_ms", ours_added, "ms", baseline="fallback model alone (ours)",
           goal=f"< {GOAL_MS:.0f} ms", ok=ours_added < GOAL_MS)
    result("failover", "added_ms_cooling", warm_added, "ms", baseline="fallback model alone (ours)")
    result("failover", "langchain_default_added_ms", lc_added, "ms", baseline="fallback model alone (LangChain)",
           ratio=lc_added / max(ours_added, 0.1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
