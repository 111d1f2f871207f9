"""Converse / ConverseStream response shapes built from a Completion.

Response members beyond output/stopReason/usage/metrics (``trace``, ``serviceTier``,
``performanceConfig``, ``additionalModelResponseFields``) and the usage cache fields come in
an ``Extras`` built by features.py; the shapes follow botocore's bedrock-runtime service-2.json.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

from .answers import Completion, _pieces


@dataclass
class Extras:
    cache_read: int = 0
    cache_write: int = 0
    cache_write_ttl: str = "5m"  # the TTL of the written checkpoints (cacheDetails)
    cache_fields: bool = False  # report cacheRead/WriteInputTokens (even when 0)
    trace: dict[str, Any] | None = None
    echo: dict[str, Any] = field(default_factory=dict)  # serviceTier / performanceConfig
    response_fields: dict[str, Any] | None = None      # additionalModelResponseFields


def usage(input_tokens: int, output_tokens: int, extras: Extras | None = None) -> dict[str, int]:
    """TokenUsage; cached tokens are left out of inputTokens and counted in totalTokens."""
    ex = extras or Extras()
    cached = ex.cache_read + ex.cache_write
    out = {"inputTokens": max(0, input_tokens - cached), "outputTokens": output_tokens,
           "totalTokens": max(input_tokens, cached) + output_tokens}
    if ex.cache_fields or cached:
        out["cacheReadInputTokens"] = ex.cache_read
        out["cacheWriteInputTokens"] = ex.cache_write
    if ex.cache_write:
        # TokenUsage.cacheDetails: "Cache creation metrics for a specific TTL duration" ({ttl: 5m | 1h,
        # inputTokens}; https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CacheDetail.html).
        out["cacheDetails"] = [{"ttl": ex.cache_write_ttl, "inputTokens": ex.cache_write}]
    return out


def converse_body(c: Completion, input_tokens: int, latency_ms: int,
                  extras: Extras | None = None) -> dict[str, Any]:
    ex = extras or Extras()
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": c.blocks}},
        "stopReason": c.stop_reason,
        "usage": usage(input_tokens, c.output_tokens, ex),
        "metrics": {"latencyMs": latency_ms},
    }
    if ex.response_fields is not None:
        body["additionalModelResponseFields"] = ex.response_fields
    if ex.trace:
        body["trace"] = ex.trace
    body.update(ex.echo)
    return body


def _json_pieces(text: str, size: int = 24) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _block_deltas(index: int, block: dict[str, Any], c: Completion,
                  only_text: bool) -> Iterator[tuple[str, dict, str]]:
    def delta(d: dict[str, Any], text: str = "") -> tuple[str, dict, str]:
        return "contentBlockDelta", {"contentBlockIndex": index, "delta": d}, text

    if "toolUse" in block:
        use = block["toolUse"]
        yield "contentBlockStart", {"contentBlockIndex": index, "start": {
            "toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}, ""
        for piece in _json_pieces(json.dumps(use["input"], ensure_ascii=False)):
            yield delta({"toolUse": {"input": piece}}, piece)
    elif "reasoningContent" in block:
        inner = block["reasoningContent"].get("reasoningText") or {}
        for piece in _pieces(inner.get("text", "")):
            yield delta({"reasoningContent": {"text": piece}}, piece)
        if inner.get("signature"):
            yield delta({"reasoningContent": {"signature": inner["signature"]}})
    elif "citationsContent" in block:
        cc = block["citationsContent"]
        for item in cc.get("content") or []:
            for piece in _pieces(item.get("text", "")):
                yield delta({"text": piece}, piece)
        for citation in cc.get("citations") or []:
            yield delta({"citation": citation})
    else:
        text = block.get("text", "")
        pieces = c.text_pieces if (only_text and c.text_pieces) else _pieces(text)
        for piece in pieces:
            yield delta({"text": piece}, piece)
    yield "contentBlockStop", {"contentBlockIndex": index}, ""


def stream_events(c: Completion, input_tokens: int, latency_ms: int,
                  extras: Extras | None = None) -> Iterator[tuple[str, dict, str]]:
    """(event type, payload, generated text) in ConverseStream order.

    The third item is the output text the event carries, so the caller can pace the
    stream by per-token latency.
    """
    ex = extras or Extras()
    yield "messageStart", {"role": "assistant"}, ""
    only_text = len(c.blocks) == 1
    for index, block in enumerate(c.blocks):
        yield from _block_deltas(index, block, c, only_text)
    stop: dict[str, Any] = {"stopReason": c.stop_reason}
    if ex.response_fields is not None:
        stop["additionalModelResponseFields"] = ex.response_fields
    yield "messageStop", stop, ""
    meta: dict[str, Any] = {"usage": usage(input_tokens, c.output_tokens, ex),
                            "metrics": {"latencyMs": latency_ms}}
    if ex.trace:
        meta["trace"] = ex.trace
    meta.update(ex.echo)
    yield "metadata", meta, ""
