"""The peer users would pick instead: LiteLLM's Router, measured in the same run as our chain and raw boto3.

Three figures, each against a baseline from this run, all against the same bedrock_local server (its own
process; no model latency unless stated):
  1. per-call overhead over raw boto3 `converse`: LiteLLM Router, our `qa` chain;
  2. failover after a throttle (the primary model always answers ThrottlingException): LangChain
     `with_fallbacks` with default boto3 retries, LiteLLM Router with its defaults and with retries off,
     our `qa` chain with the primary pinned, each minus the fallback model's own call time;
  3. import time in a fresh interpreter: `import litellm` vs `import handler`.

LiteLLM is a benchmark-only dependency: `pip install -r benchmarks/requirements.txt`. It is skipped (and
said so) when it is not installed. LITELLM_LOCAL_MODEL_COST_MAP=True keeps it off the network at import.

    python benchmarks/peers.py [--rounds 20] [--failovers 10]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time

from _common import ROOT, bedrock_env, emulator_process, interleaved, machine, median, result, table

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PRIMARY, FALLBACK = "claude_haiku", "nova_pro"
QUESTION = "Which model family does Amazon Nova belong to?"


def import_time(statement: str, runs: int = 3) -> float:
    """Median seconds for a fresh interpreter to run ``statement`` (minus an empty interpreter)."""
    def once(code: str) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
        return time.perf_counter() - t

    empty = median([once("pass") for _ in range(runs)])
    return median([once(statement) for _ in range(runs)]) - empty


def litellm_params(url: str, model_id: str) -> dict:
    return {"model": f"bedrock/converse/{model_id}", "aws_bedrock_runtime_endpoint": url,
            "aws_access_key_id": "bench", "aws_secret_access_key": "bench", "aws_region_name": "us-east-1",
            "max_tokens": 512}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20, help="rounds of 10 calls for the overhead figures")
    ap.add_argument("--failovers", type=int, default=10, help="failover requests per variant")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    try:
        import litellm  # noqa: F401
        from litellm import Router
        have_litellm = True
        litellm.suppress_debug_info = True
    except ImportError:
        have_litellm = False
        print("litellm is not installed (pip install -r benchmarks/requirements.txt): peer figures skipped")

    import boto3
    from botocore.config import Config
    from langchain_aws import ChatBedrockConverse
    from langchain_core.messages import HumanMessage

    from chains import build_runtime, get_chain

    rows = []
    # --- 1. per-call overhead -------------------------------------------------------------------------------
    with emulator_process() as url, bedrock_env(url):
        runtime = build_runtime(backend="bedrock", notice=False)
        model_id = runtime.settings.models[PRIMARY].model_id
        client = boto3.client("bedrock-runtime", region_name="us-east-1",
                              config=Config(retries={"total_max_attempts": 1}))
        chain = get_chain("qa", runtime)
        msgs = [{"role": "user", "content": [{"text": QUESTION}]}]
        variants = {
            "raw boto3 converse": lambda: client.converse(modelId=model_id, messages=msgs,
                                                          inferenceConfig={"maxTokens": 512}),
            "qa chain (ours)": lambda: chain.invoke({"question": QUESTION, "options": {"model": PRIMARY}}),
        }
        if have_litellm:
            router = Router(model_list=[{"model_name": "m", "litellm_params": litellm_params(url, model_id)}])
            variants["LiteLLM Router"] = lambda: router.completion(
                model="m", messages=[{"role": "user", "content": QUESTION}])
        samples = interleaved(variants, rounds=args.rounds)
    base = median(samples["raw boto3 converse"])
    for name, xs in samples.items():
        rows.append(["per-call", name, median(xs), median(xs) - base, median(xs) / base])
        if name != "raw boto3 converse":
            result("peers", f"per-call added: {name}", median(xs) - base, "ms", "raw boto3", median(xs) / base)

    # --- 2. failover after a throttle -----------------------------------------------------------------------
    faults = [{"model": PRIMARY, "error": "ThrottlingException"}]
    with emulator_process(faults=faults) as url, bedrock_env(url):
        runtime = build_runtime(backend="bedrock", notice=False)
        primary_id = runtime.settings.models[PRIMARY].model_id
        fallback_id = runtime.settings.models[FALLBACK].model_id
        own = boto3.client("bedrock-runtime", region_name="us-east-1",
                           config=Config(retries={"total_max_attempts": 1}))
        fallback_alone = median([_timed(lambda: own.converse(
            modelId=fallback_id, messages=msgs, inferenceConfig={"maxTokens": 512})) for _ in range(20)])

        default_client = boto3.client("bedrock-runtime", region_name="us-east-1")  # default retries
        lc = ChatBedrockConverse(model=primary_id, client=default_client, bedrock_client=default_client).with_fallbacks(
            [ChatBedrockConverse(model=fallback_id, client=default_client, bedrock_client=default_client)])
        failover = {"LangChain with_fallbacks, default boto3 retries": lambda: lc.invoke([HumanMessage(QUESTION)])}

        def ours_fresh():
            # A cold container each time: no cooldown memory, so every request pays the failover.
            rt = build_runtime(backend="bedrock", notice=False)
            get_chain("qa", rt).invoke({"question": "warm"})  # build clients outside the timed part
            return lambda: get_chain("qa", rt).invoke({"question": QUESTION, "options": {"model": PRIMARY}})

        failover["qa chain (ours), first request after the throttle"] = None  # built per sample below
        ours_warm = get_chain("qa", runtime)
        ours_warm.invoke({"question": QUESTION, "options": {"model": PRIMARY}})
        failover["qa chain (ours), warm: primary cooling down"] = lambda: ours_warm.invoke(
            {"question": QUESTION, "options": {"model": PRIMARY}})
        if have_litellm:
            def lite(num_retries):
                r = Router(model_list=[
                    {"model_name": "primary", "litellm_params": litellm_params(url, primary_id)},
                    {"model_name": "fallback", "litellm_params": litellm_params(url, fallback_id)}],
                    fallbacks=[{"primary": ["fallback"]}], **({} if num_retries is None else
                                                              {"num_retries": num_retries}))
                return lambda: r.completion(model="primary", messages=[{"role": "user", "content": QUESTION}])
            failover["LiteLLM Router, defaults"] = lite(None)
            failover["LiteLLM Router, retries off"] = lite(0)

        for name, fn in failover.items():
            if fn is None:
                times = []
                for _ in range(args.failovers):
                    f = ours_fresh()
                    times.append(_timed(f))
            else:
                fn()  # first call (client set-up) untimed
                times = [_timed(fn) for _ in range(args.failovers)]
            added = median(times) - fallback_alone
            rows.append(["failover", name, median(times), added, median(times) / fallback_alone])
            goal = "< 50 ms" if "ours" in name else None
            result("peers", f"failover added: {name}", added, "ms", "fallback model alone",
                   median(times) / fallback_alone, goal, (added < 50) if goal else None)

    # --- 3. import time -----------------------------------------------------------------------------------
    ours_import = import_time("import handler")
    rows.append(["import", "import handler (ours)", ours_import * 1000, None, None])
    result("peers", "import time: handler", ours_import * 1000, "ms")
    if have_litellm:
        lite_import = import_time("import litellm")
        rows.append(["import", "import litellm", lite_import * 1000, None, lite_import / ours_import])
        result("peers", "import time: litellm", lite_import * 1000, "ms", "import handler", lite_import / ours_import)

    print(f"Peers against bedrock_local over HTTP, no model latency ({machine()})")
    print(f"fallback model alone: {fallback_alone:.2f} ms per call")
    print(table(["figure", "variant", "median ms", "added ms", "ratio"],
                [[r[0], r[1], r[2], "" if r[3] is None else r[3], "" if r[4] is None else r[4]] for r in rows]))


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000.0


if __name__ == "__main__":
    main()
