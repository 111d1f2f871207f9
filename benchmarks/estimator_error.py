"""How wrong is the local token estimator? On the prompt corpus in tests/data/token_corpus.jsonl, per kind of text.

References, each measured in this run:
  - bedrock_local's count, asked through the real stack (chains.tokens.estimate with exact=True: boto3
    CountTokens against the in-process emulator). The emulator uses the same documented formula, so this
    checks that a plan made locally is what the emulator will count (expected: exactly 3 tokens more, the
    per-message overhead we also charge the system prompt).
  - A real BPE tokenizer, offline: Anthropic's legacy Claude tokenizer (the `tokenizer.json` shipped in the
    `anthropic` Python SDK up to 0.38; Claude 3's own tokenizer is not public). It is read with the
    `tokenizers` package from the wheel on PyPI (`pip download anthropic==0.34.2 --no-deps`, cached in
    ~/.cache/bedrock-chains/); the `anthropic` package itself is never installed or imported. tiktoken is
    no alternative here: its wheel ships no encodings (they are downloaded from OpenAI at first use).
Baselines: the seed's estimator (one token per word) and langchain-core's `count_tokens_approximately`.

The figure that matters for the window check is the worst *under*-estimate: a model's `token_margin`
must be at least that large, or a request the estimate says fits can be refused as too long.

    python benchmarks/estimator_error.py [--no-fetch] [--tokenizer PATH]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from _common import ROOT, machine, result, table

CORPUS = ROOT / "tests" / "data" / "token_corpus.jsonl"
CACHE = Path.home() / ".cache" / "bedrock-chains" / "claude-legacy-tokenizer.json"
ANTHROPIC_WHEEL = "anthropic==0.34.2"  # the last SDK line that shipped tokenizer.json


def load_corpus() -> List[Dict[str, str]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def claude_tokenizer(path: Optional[str], fetch: bool) -> Optional[Any]:
    """The legacy Claude BPE as a ``tokenizers.Tokenizer``, or None (with the reason printed)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        print("real tokenizer: unavailable (the `tokenizers` package is not installed)")
        return None
    source = Path(path) if path else CACHE
    if not source.exists() and not path and fetch:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                                ANTHROPIC_WHEEL], check=True, timeout=180, capture_output=True)
                wheel = next(Path(tmp).glob("anthropic-*.whl"))
                with zipfile.ZipFile(wheel) as zf:
                    data = zf.read("anthropic/tokenizer.json")
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_bytes(data)
        except Exception as exc:  # offline, or PyPI unreachable
            print(f"real tokenizer: unavailable (could not fetch {ANTHROPIC_WHEEL} from PyPI: {type(exc).__name__})")
            return None
    if not source.exists():
        print(f"real tokenizer: unavailable ({source} not found; run without --no-fetch)")
        return None
    return Tokenizer.from_str(source.read_text(encoding="utf-8"))


def emulator_counts(items: List[Dict[str, str]]) -> List[Dict[str, int]]:
    """For each text: our estimate of [system, human(text)] and bedrock_local's CountTokens answer."""
    from chains import build_runtime
    from chains.tokens.estimator import estimate, estimate_messages
    from langchain_core.messages import HumanMessage, SystemMessage

    cfg = {
        "backend": "local",
        # Claude Haiku 4.5 through its us. profile (CountTokens serves it; the catalogue has its figures).
        "models": {"haiku": {"model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0"}},
        "chains": {},
    }
    rt = build_runtime(cfg, backend="local", notice=False)
    out = []
    for item in items:
        messages = [SystemMessage("You are a precise assistant."), HumanMessage(item["text"])]
        counted = estimate(rt.settings, "haiku", messages, exact=True, factory=rt.factory)
        assert counted.exact, "CountTokens did not answer"
        out.append({"estimate": estimate_messages(messages), "emulator": counted.tokens})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-fetch", action="store_true", help="do not download the tokenizer wheel from PyPI")
    ap.add_argument("--tokenizer", help="path to a tokenizer.json (default: the cached legacy Claude one)")
    args = ap.parse_args()
    logging.disable(logging.WARNING)

    from chains.tokens.estimator import estimate_text
    from langchain_core.messages import HumanMessage
    from langchain_core.messages.utils import count_tokens_approximately

    items = load_corpus()
    estimators: Dict[str, Callable[[str], int]] = {
        "ours": estimate_text,
        "chars/4": lambda t: -(-len(t) // 4),
        "seed (words)": lambda t: len(t.split()),
        # langchain-core's heuristic adds 3 per message; take it off to compare texts alone
        "langchain approx": lambda t: count_tokens_approximately([HumanMessage(t)]) - 3,
    }

    # 1. Against bedrock_local, through boto3 CountTokens.
    emu = emulator_counts(items)
    ascii_diffs = [e["estimate"] - e["emulator"] for e, i in zip(emu, items) if i["text"].isascii()]
    other_diffs = [e["estimate"] - e["emulator"] for e, i in zip(emu, items) if not i["text"].isascii()]
    print(f"estimator_error: {len(items)} texts ({sum(len(i['text']) for i in items):,} chars) from "
          f"{CORPUS.relative_to(ROOT)}; {machine()}")
    print(f"\nvs bedrock_local (CountTokens over boto3), estimate - emulator per request: ASCII texts "
          f"{min(ascii_diffs)}..{max(ascii_diffs)} tokens (the 3-token system-message overhead we add); "
          f"non-ASCII texts +{min(other_diffs)}..+{max(other_diffs)} (counted denser on purpose)")
    result("estimator_error", "estimate - bedrock_local count, ASCII (max)", max(ascii_diffs), "tokens",
           baseline="CountTokens via boto3", goal="3 (exact formula + system overhead)",
           ok=min(ascii_diffs) == max(ascii_diffs) == 3)
    result("estimator_error", "estimate below bedrock_local count", sum(d < 0 for d in ascii_diffs + other_diffs),
           "texts", baseline=f"{len(items)} texts", goal="0", ok=min(ascii_diffs + other_diffs) >= 0)

    # 2. Against a real BPE.
    tok = claude_tokenizer(args.tokenizer, fetch=not args.no_fetch)
    if tok is None:
        return
    real = [len(tok.encode(i["text"]).ids) for i in items]
    errors: Dict[str, List[float]] = {name: [] for name in estimators}
    by_kind: Dict[str, Dict[str, List[float]]] = defaultdict(lambda: defaultdict(list))
    for item, n in zip(items, real):
        for name, fn in estimators.items():
            e = (fn(item["text"]) - n) / n
            errors[name].append(e)
            by_kind[item["kind"]][name].append(e)

    rows = []
    for kind, per in by_kind.items():
        count = len(per["ours"])
        rows.append([kind, count] + [f"{statistics.mean(per[name]) * 100:+.0f}%" for name in estimators]
                    + [f"{max(0.0, -min(per['ours'])):.0%}"])
    print(f"\nvs the legacy Claude BPE (signed error, mean per kind; + over-estimates, - under-estimates; "
          f"margin: the token_margin that would cover the worst text of the kind with our estimator):")
    print(table(["kind", "texts"] + list(estimators) + ["margin"], rows))
    summary = []
    for name, es in errors.items():
        summary.append([name, f"{statistics.mean(abs(e) for e in es) * 100:.1f}%", f"{min(es) * 100:+.0f}%",
                        f"{max(es) * 100:+.0f}%"])
    print()
    print(table(["estimator", "mean |error|", "worst under", "worst over"], summary))

    ours = statistics.mean(abs(e) for e in errors["ours"])
    words = statistics.mean(abs(e) for e in errors["seed (words)"])
    worst_under = max(0.0, -min(errors["ours"]))
    english = [e for item, e in zip(items, errors["ours"]) if item["kind"] in ("prose", "instructions")]
    worst_en = max(0.0, -min(english))
    print(f"\nmargin needed to cover every text in the corpus: {worst_under:.0%} "
          f"(English prose and instructions only: {worst_en:.0%}); config.yaml token_margin: 10%")
    result("estimator_error", "mean |error| vs Claude BPE", ours * 100, "%", baseline=f"seed word count {words * 100:.1f}%",
           ratio=ours / words)
    result("estimator_error", "margin needed, English prose", worst_en * 100, "%", baseline="token_margin 10%",
           goal="<= 10%", ok=worst_en <= 0.10)
    result("estimator_error", "margin needed, whole corpus", worst_under * 100, "%", baseline="token_margin 10%",
           goal="<= 10%", ok=worst_under <= 0.10)


if __name__ == "__main__":
    main()
