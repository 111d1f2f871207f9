"""The one token estimator shared by usage, CountTokens and the context-window check.

Real tokenizers differ per model and are not available offline; a stable, documented
approximation matters more here than accuracy, because the service mirrors it to
plan requests that the emulator will then accept or reject consistently.

    estimate_tokens(text) = ceil(len(text) / 4), and at least 1 for non-empty text

A Converse-shaped request costs the sum of:
  * each system text block,
  * each message text block,
  * each tool spec, as json.dumps(toolSpec, sort_keys=True),
  * each tool result content block (text as is, json as json.dumps(..., sort_keys=True)),
  * 3 per message (role and framing overhead).
Images, documents and toolUse blocks are not counted.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

PER_MESSAGE_OVERHEAD = 3


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    return max(1, -(-len(text) // 4))


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _tool_result_tokens(block: Mapping[str, Any]) -> int:
    total = 0
    for item in block.get("content") or []:
        if "text" in item:
            total += estimate_tokens(item["text"])
        elif "json" in item:
            total += estimate_tokens(_dump(item["json"]))
    return total


def count_input_tokens(request: Mapping[str, Any]) -> int:
    """Input tokens of a Converse-shaped request (messages, system, toolConfig)."""
    total = 0
    for block in request.get("system") or []:
        if isinstance(block, Mapping) and "text" in block:
            total += estimate_tokens(block["text"])
    for msg in request.get("messages") or []:
        total += PER_MESSAGE_OVERHEAD
        for block in msg.get("content") or []:
            if "text" in block:
                total += estimate_tokens(block["text"])
            elif "toolResult" in block:
                total += _tool_result_tokens(block["toolResult"])
    for tool in tools_of(request):
        total += estimate_tokens(_dump(tool))
    return total


def tools_of(request: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The toolSpec objects offered by a request (cachePoint entries skipped)."""
    cfg = request.get("toolConfig") or {}
    return [t["toolSpec"] for t in cfg.get("tools") or [] if "toolSpec" in t]
