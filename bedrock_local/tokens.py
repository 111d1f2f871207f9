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
Images, documents and toolUse blocks are not counted by this text-only estimate.

``count_input_tokens(request, entry)`` with a catalogue ModelEntry adds what Bedrock bills
that the text does not show, from the entry's ``overheads`` (each figure cites its source
in catalogue.json):
  * the tool-use system prompt, per toolChoice mode, once when tools are offered,
  * ``per_tool`` on top of each tool's JSON,
  * each image: the model's formula (Claude: width*height/750, capped) or constant (Nova),
  * each binary document (pdf, docx, ...): pages * per_page; text documents (txt, md, csv,
    html) count as their text.
benchmarks/token_overheads.py prints how close that comes to published/measured figures.
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


def count_input_tokens(request: Mapping[str, Any], entry: Any = None) -> int:
    """Input tokens of a Converse-shaped request (messages, system, toolConfig).

    With ``entry`` (a catalogue ModelEntry) the model's hidden overheads are added too.
    """
    total = _text_tokens(request)
    if entry is not None:
        total += overhead_tokens(request, entry.overheads)
    return total


_TEXT_DOCS = {"txt", "md", "csv", "html"}


def overhead_tokens(request: Mapping[str, Any], overheads: Any) -> int:
    """Tokens a model adds for tools, images and documents (see module docstring)."""
    from .media import decode_bytes, image_size, pdf_pages

    total = 0
    tools = tools_of(request)
    if tools:
        choice = (request.get("toolConfig") or {}).get("toolChoice") or {}
        mode = next(iter(choice), "auto") if isinstance(choice, Mapping) else "auto"
        total += overheads.tool_prompt(mode) + overheads.per_tool * len(tools)
    for msg in request.get("messages") or []:
        for block in msg.get("content") or []:
            for item in _media_blocks(block):
                if "image" in item:
                    raw = decode_bytes(((item["image"].get("source") or {}).get("bytes")))
                    total += overheads.image_tokens(*(image_size(raw) or (None, None)))
                elif "document" in item:
                    doc = item["document"]
                    raw = decode_bytes((doc.get("source") or {}).get("bytes"))
                    if doc.get("format") in _TEXT_DOCS:
                        total += estimate_tokens(raw.decode("utf-8", "replace")) if raw else 0
                    else:
                        total += overheads.document_tokens(pdf_pages(raw))
    return total


def _media_blocks(block: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    """The block itself, or the items of a toolResult (images and documents can sit there)."""
    if "toolResult" in block:
        return [c for c in (block["toolResult"].get("content") or []) if isinstance(c, Mapping)]
    return [block]


def _text_tokens(request: Mapping[str, Any]) -> int:
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
