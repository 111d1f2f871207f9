"""Per-call overhead of the `qa` chain against raw boto3 `converse` and a bare `ChatBedrockConverse.invoke`.

All three send the same messages to the same bedrock_local server (its own process, no model latency, so
what remains is client-side work plus the HTTP round trip), in interleaved rounds. The figure that matters is
the difference of medians: what routing, fallback wrapper, usage and cost accounting and logging add per call.
Goal: under 1 ms added per call.

    python benchmarks/overhead.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import json
import logging

from _common import bedrock_env, emulator_process, interleaved, machine, median, p90, result, table

QUESTION = "Which model family does Amazon Nova belong to?"
CONTEXT = "Amazon Nova is Amazon's own family of foundation models. Claude models come from Anthropic."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30, help="rounds of 10 calls per variant")
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    with emulator_process(latency_scale=0.0) as url, bedrock_env(url):
        import boto3
        from botocore.config import Config
        from langchain_aws import ChatBedrockConverse

        import handler
        from chains import build_runtime, get_chain

        runtime = build_runtime(backend="bedrock", notice=False)
        chain = get_chain("qa", runtime)
        event = {"chain": "qa", "input": {"question": QUESTION, "context": CONTEXT}}
        first = chain.invoke(event["input"])
        alias = first["route"]["model"]
        cfg = runtime.settings.models[alias]
        messages = chain.prompt().format_messages({"question": QUESTION, "context": CONTEXT})
        max_tokens = chain.prompt().metadata.max_tokens or cfg.params.max_tokens

        client = boto3.client("bedrock-runtime", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
        system = [{"text": m.content} for m in messages if m.type == "system"]
        convo = [{"role": "user", "content": [{"text": m.content}]} for m in messages if m.type == "human"]
        inference = {"maxTokens": max_tokens, "temperature": cfg.params.temperature or 0.2}
        bare = ChatBedrockConverse(model=cfg.model_id, client=client, bedrock_client=client,
                                   max_tokens=max_tokens, temperature=cfg.params.temperature)

        variants = {
            "raw boto3 converse": lambda: client.converse(modelId=cfg.model_id, system=system, messages=convo,
                                                          inferenceConfig=inference),
            "bare ChatBedrockConverse": lambda: bare.invoke(messages),
            "qa chain .invoke": lambda: chain.invoke(event["input"]),
            "handler (qa event)": lambda: handler.handle(event, None, runtime=runtime),
        }
        samples = interleaved(variants, rounds=args.rounds)

    base = median(samples["raw boto3 converse"])
    bare_ms = median(samples["bare ChatBedrockConverse"])
    rows = []
    for name, xs in samples.items():
        rows.append([name, median(xs), p90(xs), median(xs) - base, median(xs) / base])
    print(f"Per-call time against bedrock_local over HTTP, no model latency ({machine()}; model {alias}; "
          f"{args.rounds * 10} calls each, interleaved)")
    print(table(["variant", "median ms", "p90 ms", "+ms vs boto3", "x boto3"], rows))
    chain_ms = median(samples["qa chain .invoke"])
    handler_ms = median(samples["handler (qa event)"])
    print(f"\nqa chain adds {chain_ms - bare_ms:+.3f} ms over bare ChatBedrockConverse; "
          f"the handler adds {handler_ms - bare_ms:+.3f} ms (goal: under 1 ms)")
    result("overhead", "raw boto3 converse per call", base, "ms")
    result("overhead", "bare ChatBedrockConverse added", bare_ms - base, "ms", "raw boto3", bare_ms / base)
    result("overhead", "qa chain added vs bare ChatBedrockConverse", chain_ms - bare_ms, "ms",
           "bare ChatBedrockConverse", chain_ms / bare_ms, "< 1 ms", chain_ms - bare_ms < 1.0)
    result("overhead", "handler (qa) added vs bare ChatBedrockConverse", handler_ms - bare_ms, "ms",
           "bare ChatBedrockConverse", handler_ms / bare_ms, "< 1 ms", handler_ms - bare_ms < 1.0)
    json.dumps(first)


if __name__ == "__main__":
    main()
