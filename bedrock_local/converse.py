"""Converse / ConverseStream response shapes built from a Completion."""
from __future__ import annotations

import json
from typing import Any, Iterator

from .answers import Completion


def usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"inputTokens": input_tokens, "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens}


def converse_body(c: Completion, input_tokens: int, latency_ms: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": c.blocks}},
        "stopReason": c.stop_reason,
        "usage": usage(input_tokens, c.output_tokens),
        "metrics": {"latencyMs": latency_ms},
    }


def _json_pieces(text: str, size: int = 24) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def stream_events(c: Completion, input_tokens: int, latency_ms: int) -> Iterator[tuple[str, dict, str]]:
    """(event type, payload, generated text) in ConverseStream order.

    The third item is the output text the event carries, so the caller can pace the
    stream by per-token latency.
    """
    yield "messageStart", {"role": "assistant"}, ""
    for index, block in enumerate(c.blocks):
        if "toolUse" in block:
            use = block["toolUse"]
            yield "contentBlockStart", {"contentBlockIndex": index, "start": {
                "toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}, ""
            for piece in _json_pieces(json.dumps(use["input"], ensure_ascii=False)):
                yield "contentBlockDelta", {"contentBlockIndex": index,
                                            "delta": {"toolUse": {"input": piece}}}, piece
        else:
            for piece in c.text_pieces or [block.get("text", "")]:
                yield "contentBlockDelta", {"contentBlockIndex": index,
                                            "delta": {"text": piece}}, piece
        yield "contentBlockStop", {"contentBlockIndex": index}, ""
    yield "messageStop", {"stopReason": c.stop_reason}, ""
    yield "metadata", {"usage": usage(input_tokens, c.output_tokens),
                       "metrics": {"latencyMs": latency_ms}}, ""
