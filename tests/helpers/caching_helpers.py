"""Shared by the prompt caching tests: long texts of a known size, and the cost formula written out again."""

from __future__ import annotations

import pytest

from bedrock_local.catalogue import default_catalogue


def text_of(tokens: int, seed: str = "ledger") -> str:
    """About ``tokens`` tokens of plain prose (4 characters a token, the emulator's estimate for ASCII)."""
    sentence = f"The {seed} archive keeps every record of the harbour office in numbered boxes. "
    return (sentence * (tokens * 4 // len(sentence) + 1))[: tokens * 4].rstrip()


def price_of(rt, model_id, usage):
    """The cost formula written out independently: each kind of token at its own catalogue / config price
    (USD per 1K), 1-hour cache writes at theirs."""
    cfg = rt.settings.models[rt.settings.alias_for_model_id(model_id)].price
    entry = default_catalogue().base_of(model_id).price
    read = entry.cache_read if entry.cache_read is not None else cfg.input_per_1k
    write = entry.cache_write if entry.cache_write is not None else cfg.input_per_1k
    write_1h = entry.cache_write_1h if entry.cache_write_1h is not None else write
    one_hour = usage.get("cache_write_1h_input_tokens", 0)
    return (usage["input_tokens"] * cfg.input_per_1k + usage["output_tokens"] * cfg.output_per_1k
            + usage["cache_read_input_tokens"] * read + (usage["cache_write_input_tokens"] - one_hour) * write
            + one_hour * write_1h) / 1000


def assert_exact(rt, body):
    """cost_usd = sum over models of each kind x its price; totals add up; nothing counted twice."""
    total = 0.0
    for model_id, u in body["usage_by_model"].items():
        assert u["cost_usd"] == pytest.approx(price_of(rt, model_id, u), rel=1e-6, abs=1e-8)
        assert u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_write_input_tokens"] \
            + u["output_tokens"] == u["total_tokens"]
        total += price_of(rt, model_id, u)
    assert body["cost_usd"] == pytest.approx(total, rel=1e-6, abs=1e-8)
    for k in ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_write_input_tokens"):
        assert body["usage"][k] == sum(u[k] for u in body["usage_by_model"].values())
