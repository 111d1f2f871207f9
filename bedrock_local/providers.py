"""InvokeModel bodies: Anthropic Messages and Amazon Nova, translated to and from Converse.

Validation and answers work on the Converse shape only, so InvokeModel behaves like
Converse for the same conversation; only the envelope differs per provider.
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Iterator, Mapping

from .answers import Completion
from .errors import validation
from .profiles import ModelProfile

ANTHROPIC, NOVA = "anthropic", "nova"
_MEDIA = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


def _missing(key: str) -> Exception:
    return validation(f"Malformed input request: #: required key [{key}] not found, "
                      "please reformat your input and try again.")


def detect(body: Mapping[str, Any], profile: ModelProfile) -> str:
    if profile.provider == "anthropic":
        return ANTHROPIC
    if profile.provider == "amazon":
        return NOVA
    raise validation(f"InvokeModel bodies for provider {profile.provider!r} are not emulated.")


# --------------------------------------------------------------------------- requests
def _anthropic_block(block: Any) -> dict[str, Any]:
    if isinstance(block, str):
        return {"text": block}
    kind = block.get("type")
    if kind == "text":
        return {"text": block.get("text", "")}
    if kind == "image":
        src = block.get("source") or {}
        return {"image": {"format": _MEDIA.get(src.get("media_type"), src.get("media_type")),
                          "source": {"bytes": src.get("data", "")}}}
    if kind == "document":
        return {"document": {"format": "pdf", "name": "document", "source": {"bytes": ""}}}
    if kind == "thinking":
        return {"reasoningContent": {"reasoningText": {"text": block.get("thinking", ""),
                                                       "signature": block.get("signature", "")}}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    if kind == "tool_use":
        return {"toolUse": {"toolUseId": block["id"], "name": block["name"],
                            "input": block.get("input", {})}}
    if kind == "tool_result":
        content = block.get("content", "")
        items = [{"text": content}] if isinstance(content, str) else [
            _anthropic_block(c) for c in content if c.get("type") in ("text", "image")]
        return {"toolResult": {"toolUseId": block.get("tool_use_id"), "content": items,
                               **({"status": "error"} if block.get("is_error") else {})}}
    raise validation(f"Malformed input request: unsupported content type {kind!r}, "
                     "please reformat your input and try again.")


def _with_cache_points(items: list[Any], convert: Any) -> list[dict[str, Any]]:
    """Converse blocks for Messages API blocks; ``cache_control`` becomes a cachePoint after it.

    https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html: InvokeModel takes
    Anthropic's ``cache_control: {"type": "ephemeral", "ttl": ...}`` where Converse takes cachePoint.
    """
    out: list[dict[str, Any]] = []
    for item in items:
        out.append(convert(item))
        cc = item.get("cache_control") if isinstance(item, Mapping) else None
        if isinstance(cc, Mapping):
            out.append({"cachePoint": {"type": "default", **({"ttl": cc["ttl"]} if cc.get("ttl") else {})}})
    return out


def _anthropic_to_converse(body: Mapping[str, Any]) -> dict[str, Any]:
    if "anthropic_version" not in body:
        raise _missing("anthropic_version")
    if "max_tokens" not in body:
        raise _missing("max_tokens")
    if "messages" not in body:
        raise _missing("messages")
    system = body.get("system")
    if isinstance(system, str):
        system = [{"text": system}] if system else []
    else:
        system = _with_cache_points(system or [], lambda b: {"text": b.get("text", "")})
    messages = []
    for msg in body["messages"]:
        content = msg.get("content")
        blocks = [{"text": content}] if isinstance(content, str) else _with_cache_points(
            content or [], _anthropic_block)
        messages.append({"role": msg.get("role"), "content": blocks})
    request: dict[str, Any] = {
        "messages": messages, "system": system,
        "inferenceConfig": {"maxTokens": body["max_tokens"],
                            "stopSequences": body.get("stop_sequences") or []},
    }
    if body.get("temperature") is not None:
        request["inferenceConfig"]["temperature"] = body["temperature"]
    if body.get("thinking"):  # extended thinking, as the Messages API takes it
        request["additionalModelRequestFields"] = {"thinking": body["thinking"]}
    if body.get("tools"):
        tools = _with_cache_points(body["tools"], lambda t: {"toolSpec": {
            "name": t["name"], "description": t.get("description", ""),
            "inputSchema": {"json": t.get("input_schema") or {}}}})
        choice = body.get("tool_choice") or {}
        kind = choice.get("type", "auto")
        request["toolConfig"] = {"tools": tools, "toolChoice": (
            {"tool": {"name": choice.get("name")}} if kind == "tool" else {kind: {}})}
    return request


def _nova_to_converse(body: Mapping[str, Any]) -> dict[str, Any]:
    if "messages" not in body:
        raise _missing("messages")
    cfg = dict(body.get("inferenceConfig") or {})
    if "max_new_tokens" in cfg:
        cfg["maxTokens"] = cfg.pop("max_new_tokens")
    request = {"messages": body["messages"], "system": body.get("system") or [],
               "inferenceConfig": cfg}
    if body.get("toolConfig"):
        request["toolConfig"] = body["toolConfig"]
    return request


def to_converse(body: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    return _anthropic_to_converse(body) if fmt == ANTHROPIC else _nova_to_converse(body)


# --------------------------------------------------------------------------- responses
def _anthropic_model_name(model_id: str) -> str:
    m = re.search(r"anthropic\.(.+?)(?:-v\d+(?::\d+)?)?$", model_id)
    return m.group(1) if m else model_id


def _msg_id(c: Completion) -> str:
    return "msg_bdrk_" + hashlib.sha256(json.dumps(c.blocks, sort_keys=True).encode()).hexdigest()[:24]


def _anthropic_content(c: Completion) -> list[dict[str, Any]]:
    out = []
    for b in c.blocks:
        if "toolUse" in b:
            u = b["toolUse"]
            out.append({"type": "tool_use", "id": u["toolUseId"], "name": u["name"], "input": u["input"]})
        elif "reasoningContent" in b:
            r = b["reasoningContent"].get("reasoningText") or {}
            out.append({"type": "thinking", "thinking": r.get("text", ""),
                        "signature": r.get("signature", "")})
        elif "citationsContent" in b:
            out.append({"type": "text", "text": "".join(
                i.get("text", "") for i in b["citationsContent"].get("content") or [])})
        else:
            out.append({"type": "text", "text": b["text"]})
    return out


def invoke_body(fmt: str, c: Completion, input_tokens: int, model_id: str,
                cache_read: int = 0, cache_write: int = 0, cache_fields: bool = False) -> dict[str, Any]:
    """``input_tokens`` is the whole prompt; the cached part is reported apart, as on Converse."""
    uncached = max(0, input_tokens - cache_read - cache_write)
    if fmt == ANTHROPIC:
        usage = {"input_tokens": uncached, "output_tokens": c.output_tokens}
        if cache_fields or cache_read or cache_write:
            usage.update(cache_creation_input_tokens=cache_write, cache_read_input_tokens=cache_read)
        return {"id": _msg_id(c), "type": "message", "role": "assistant",
                "model": _anthropic_model_name(model_id), "content": _anthropic_content(c),
                "stop_reason": c.stop_reason, "stop_sequence": c.stop_sequence, "usage": usage}
    return {"output": {"message": {"role": "assistant", "content": c.blocks}},
            "stopReason": c.stop_reason,
            "usage": {"inputTokens": uncached, "outputTokens": c.output_tokens,
                      "totalTokens": input_tokens + c.output_tokens,
                      "cacheReadInputTokenCount": cache_read, "cacheWriteInputTokenCount": cache_write}}


def invoke_headers(c: Completion, input_tokens: int, latency_ms: int) -> dict[str, str]:
    return {"X-Amzn-Bedrock-Input-Token-Count": str(input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(c.output_tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(latency_ms)}


def _metrics(c: Completion, input_tokens: int, latency_ms: int) -> dict[str, int]:
    return {"inputTokenCount": input_tokens, "outputTokenCount": c.output_tokens,
            "invocationLatency": latency_ms, "firstByteLatency": min(latency_ms, latency_ms // 2 + 1)}


def _json_pieces(text: str, size: int = 24) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _text_pieces(c: Completion, text: str) -> list[str]:
    """The completion's own pieces when ``text`` is its whole answer, else ``text`` in one piece."""
    return c.text_pieces if c.text_pieces and "".join(c.text_pieces) == text else [text]


def stream_chunks(fmt: str, c: Completion, input_tokens: int, model_id: str,
                  latency_ms: int) -> Iterator[tuple[dict[str, Any], str]]:
    """(provider stream JSON, generated text) per chunk of InvokeModelWithResponseStream."""
    metrics = _metrics(c, input_tokens, latency_ms)
    if fmt == ANTHROPIC:
        yield {"type": "message_start", "message": {
            "id": _msg_id(c), "type": "message", "role": "assistant",
            "model": _anthropic_model_name(model_id), "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}, ""
        for i, block in enumerate(_anthropic_content(c)):
            if block["type"] == "thinking":
                yield {"type": "content_block_start", "index": i,
                       "content_block": {"type": "thinking", "thinking": ""}}, ""
                for piece in _json_pieces(block["thinking"]):
                    yield {"type": "content_block_delta", "index": i,
                           "delta": {"type": "thinking_delta", "thinking": piece}}, piece
                if block["signature"]:
                    yield {"type": "content_block_delta", "index": i,
                           "delta": {"type": "signature_delta", "signature": block["signature"]}}, ""
            elif block["type"] == "tool_use":
                yield {"type": "content_block_start", "index": i, "content_block": {
                    "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}, ""
                for piece in _json_pieces(json.dumps(block["input"], ensure_ascii=False)):
                    yield {"type": "content_block_delta", "index": i, "delta": {
                        "type": "input_json_delta", "partial_json": piece}}, piece
            else:
                yield {"type": "content_block_start", "index": i,
                       "content_block": {"type": "text", "text": ""}}, ""
                for piece in _text_pieces(c, block["text"]):
                    yield {"type": "content_block_delta", "index": i,
                           "delta": {"type": "text_delta", "text": piece}}, piece
            yield {"type": "content_block_stop", "index": i}, ""
        yield {"type": "message_delta", "delta": {"stop_reason": c.stop_reason,
                                                  "stop_sequence": c.stop_sequence},
               "usage": {"output_tokens": c.output_tokens}}, ""
        yield {"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics}, ""
        return
    yield {"messageStart": {"role": "assistant"}}, ""
    for i, block in enumerate(c.blocks):
        if "toolUse" in block:
            u = block["toolUse"]
            yield {"contentBlockStart": {"contentBlockIndex": i, "start": {
                "toolUse": {"toolUseId": u["toolUseId"], "name": u["name"]}}}}, ""
            for piece in _json_pieces(json.dumps(u["input"], ensure_ascii=False)):
                yield {"contentBlockDelta": {"contentBlockIndex": i,
                                             "delta": {"toolUse": {"input": piece}}}}, piece
        elif "reasoningContent" in block:
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text", "")
            for piece in _json_pieces(text):
                yield {"contentBlockDelta": {"contentBlockIndex": i, "delta": {
                    "reasoningContent": {"text": piece}}}}, piece
        else:
            for piece in _text_pieces(c, block.get("text", "")):
                yield {"contentBlockDelta": {"contentBlockIndex": i, "delta": {"text": piece}}}, piece
        yield {"contentBlockStop": {"contentBlockIndex": i}}, ""
    yield {"messageStop": {"stopReason": c.stop_reason}}, ""
    yield {"metadata": {"usage": {"inputTokens": input_tokens, "outputTokens": c.output_tokens},
                        "metrics": {}, "trace": {}},
           "amazon-bedrock-invocationMetrics": metrics}, ""
