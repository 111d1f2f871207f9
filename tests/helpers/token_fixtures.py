"""Small-window configurations for the token tests: windows of a few thousand tokens instead of 200K,
so documents many times larger than every window stay a few kilobytes. bedrock_local reads the same
``models`` section, so it enforces exactly these windows."""

from __future__ import annotations

import copy
import random

SMALL = {
    "backend": "local",
    "models": {
        "lite": {
            "model_id": "amazon.nova-lite-v1:0",
            "context_window": 1200,
            "max_output_tokens": 300,
            "price": {"input_per_1k": 0.0001, "output_per_1k": 0.0004},
            "params": {"max_tokens": 200},
        },
        "haiku": {
            "model_id": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "context_window": 2000,
            "max_output_tokens": 300,
            "price": {"input_per_1k": 0.00025, "output_per_1k": 0.00125},
        },
    },
    "chains": {
        "summarize": {"prompt": "summarize", "strategy": "map_reduce"},
        "chat": {"prompt": "chat", "strategy": "chat"},
        "qa": {"prompt": "qa", "strategy": "single", "model": "haiku"},
    },
    "tokens": {"chunk_size": 400, "chunk_overlap": 40, "max_concurrency": 3, "map_max_tokens": 100},
}


def small_config(tokens=None, models=None, chains=None, **top):
    cfg = copy.deepcopy(SMALL)
    cfg["tokens"].update(tokens or {})
    for alias, changes in (models or {}).items():
        cfg["models"][alias].update(changes)
    cfg["chains"].update(chains or {})
    cfg.update(top)
    return cfg


def small_runtime(**kwargs):
    from chains import build_runtime

    return build_runtime(small_config(**kwargs), backend="local", notice=False)


WORDS = "river mountain ledger harvest signal copper lantern orchard meadow engine quarry beacon".split()


def document(paragraphs=60, sentences=5, seed=7, sep="\n\n"):
    """A deterministic document; every sentence is unique (it carries its paragraph and sentence number)."""
    rng = random.Random(seed)
    paras = []
    for i in range(paragraphs):
        sents = [f"Part {i} line {j} " + " ".join(rng.choice(WORDS) for _ in range(12)) + "." for j in range(sentences)]
        paras.append(" ".join(sents))
    return sep.join(paras)


def converse_text(record):
    """The text of the last user message of a Converse call the emulator received."""
    return "".join(b.get("text", "") for b in record.body["messages"][-1]["content"])
