"""Per-call overhead of the handler and of the `qa` chain alone against a bare `ChatBedrockConverse.invoke`.

All variants send the same messages to the same bedrock_local server (its own process on loopback, no model
latency, so what remains is client-side work plus the HTTP round trip), in interleaved rounds, with logging
on at INFO as in Lambda (JSON lines and EMF metrics, written to /dev/null here). The figures that matter are
the differences against the bare ``ChatBedrockConverse`` in the same run, paired per round (the median over
rounds of each round's difference of medians, so load drifting on a shared machine cancels out):
  * the chain alone (``get_chain("qa").invoke``): goal at most +0.5 ms;
  * the handler path (``handler.handle`` on a ``qa`` event: parsing, request scope, logs, metrics,
    redaction, envelope): goal at most +1.0 ms.

    python benchmarks/overhead.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time

from _common import bedrock_env, emulator_process, interleaved, machine, median, p90, result, table

QUESTION = "Which model family does Amazon Nova belong to?"
CONTEXT = "Amazon Nova is Amazon's own family of foundation models. Claude models come from Anthropic."
CHAIN_GOAL_MS, HANDLER_GOAL_MS = 0.5, 1.0
# Lambda's logging set-up (JSON to stdout, INFO, EMF metrics); stdout goes to /dev/null while measuring.
LAMBDA_ENV = {"AWS_LAMBDA_FUNCTION_NAME": "bedrock-chains-bench", "LOG_LEVEL": "INFO"}


class _Context:
    aws_request_id = None
    function_name = "bedrock-chains-bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bedrock-chains-bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def cpu_per_call(fns, rounds: int, per_round: int = 10):
    """This process's CPU time per call (ms), round by round: the client-side work itself, which other
    processes on a shared machine slow down far less than wall time (the emulator is another process)."""
    out = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.process_time()
            for _ in range(per_round):
                fn()
            out[name].append((time.process_time() - start) * 1000.0 / per_round)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30, help="rounds of 10 calls per variant")
    args = ap.parse_args()
    os.environ.update(LAMBDA_ENV)

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
        assert not first["attempts"], f"the qa chain fell back: {first['attempts']}"
        alias = first["route"]["model"]
        cfg = runtime.settings.models[alias]
        messages = chain.prompt().format_messages({"question": QUESTION, "context": CONTEXT})
        max_tokens = min(chain.prompt().metadata.max_tokens or cfg.params.max_tokens or cfg.max_output_tokens,
                         cfg.max_output_tokens)

        client = boto3.client("bedrock-runtime", region_name="us-east-1",
                              config=Config(retries={"total_max_attempts": 1}))
        system = [{"text": m.content} for m in messages if m.type == "system"]
        convo = [{"role": "user", "content": [{"text": m.content}]} for m in messages if m.type == "human"]
        inference = {"maxTokens": max_tokens, "temperature": cfg.params.temperature or 0.2}
        bare = ChatBedrockConverse(model=cfg.model_id, client=client, bedrock_client=client,
                                   max_tokens=max_tokens, temperature=cfg.params.temperature)
        context = _Context()

        variants = {
            "raw boto3 converse": lambda: client.converse(modelId=cfg.model_id, system=system, messages=convo,
                                                          inferenceConfig=inference),
            "bare ChatBedrockConverse": lambda: bare.invoke(messages),
            "qa chain .invoke": lambda: chain.invoke(event["input"]),
            "handler (qa event)": lambda: handler.handle(event, context, runtime=runtime),
        }
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            status, body = handler.handle(event, context, runtime=runtime)
            assert status == 200 and body["ok"], body
            samples = interleaved(variants, rounds=args.rounds)
            cpu = cpu_per_call(variants, rounds=args.rounds)

    per_round = 10  # interleaved() default: each variant's samples come in rounds of 10 calls

    def paired(name: str, stat=median) -> float:
        """Median over rounds of (this variant's ``stat`` - bare's ``stat``) in the same round: robust to load
        that drifts between rounds (a shared machine). ``stat=min``: each round's fastest call, the cost with
        the least interference from other processes."""
        xs, bare = samples[name], samples["bare ChatBedrockConverse"]
        diffs = [stat(xs[i:i + per_round]) - stat(bare[i:i + per_round]) for i in range(0, len(xs), per_round)]
        return median(diffs)

    base = median(samples["raw boto3 converse"])
    bare_ms = median(samples["bare ChatBedrockConverse"])
    rows = []
    for name, xs in samples.items():
        rows.append([name, median(xs), p90(xs), median(xs) - bare_ms, median(xs) / bare_ms])
    print(f"Per-call time against bedrock_local over HTTP, no model latency, INFO logging on ({machine()}; "
          f"model {alias}; {args.rounds * 10} calls each, interleaved)")
    for row in rows:
        row[4:4] = [paired(row[0]), paired(row[0], min)]
    print(table(["variant", "median ms", "p90 ms", "+ms vs bare", "+ms paired", "+ms paired min", "x bare"], rows))
    chain_add, handler_add = paired("qa chain .invoke"), paired("handler (qa event)")
    chain_ms, handler_ms = bare_ms + chain_add, bare_ms + handler_add
    print(f"\nqa chain alone adds {chain_add:+.3f} ms ({chain_ms / bare_ms:.3f}x) over bare "
          f"ChatBedrockConverse (paired per round; goal: at most {CHAIN_GOAL_MS} ms)")
    print(f"the handler path adds {handler_add:+.3f} ms ({handler_ms / bare_ms:.3f}x) over bare "
          f"ChatBedrockConverse (paired per round; goal: at most {HANDLER_GOAL_MS} ms)")
    cpu_bare = median(cpu["bare ChatBedrockConverse"])
    cpu_chain = median([c - b for c, b in zip(cpu["qa chain .invoke"], cpu["bare ChatBedrockConverse"])])
    cpu_handler = median([c - b for c, b in zip(cpu["handler (qa event)"], cpu["bare ChatBedrockConverse"])])
    print(f"client CPU time per call: bare {cpu_bare:.3f} ms; the chain adds {cpu_chain:+.3f} ms, the handler "
          f"{cpu_handler:+.3f} ms (paired per round)")
    print(f"fastest call per round, paired: chain {paired('qa chain .invoke', min):+.3f} ms, handler "
          f"{paired('handler (qa event)', min):+.3f} ms; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores during the run")
    result("overhead", "raw boto3 converse per call", base, "ms")
    result("overhead", "bare ChatBedrockConverse added", bare_ms - base, "ms", "raw boto3", bare_ms / base)
    result("overhead", "qa chain added vs bare ChatBedrockConverse", chain_ms - bare_ms, "ms",
           "bare ChatBedrockConverse", chain_ms / bare_ms, f"<= {CHAIN_GOAL_MS} ms",
           chain_ms - bare_ms <= CHAIN_GOAL_MS)
    result("overhead", "handler (qa) added vs bare ChatBedrockConverse", handler_ms - bare_ms, "ms",
           "bare ChatBedrockConverse", handler_ms / bare_ms, f"<= {HANDLER_GOAL_MS} ms",
           handler_ms - bare_ms <= HANDLER_GOAL_MS)
    result("overhead", "qa chain added CPU per call vs bare", cpu_chain, "ms", "bare ChatBedrockConverse")
    result("overhead", "handler (qa) added CPU per call vs bare", cpu_handler, "ms", "bare ChatBedrockConverse")
    json.dumps(first)


if __name__ == "__main__":
    main()
