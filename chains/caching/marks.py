"""Candidate checkpoints, placed while a prompt is formatted (model-independent).

A prompt file says what is stable (``metadata.cache_after``: variable names, or ``instructions`` for the
system prompt). Formatting with marks puts a ``{"cachePoint": {"type": "default"}}`` content block right
after each stable part, and after the system prompt: the varying part (the question, the next turn) follows
it. These are only candidates: ``chains.caching.placement`` keeps, per model and right before the call, the
ones that model can take, and removes the rest (a model without caching gets none).

langchain-aws' ChatBedrockConverse passes ``cachePoint`` blocks through in message content and in system
messages (langchain-aws ``chat_models/bedrock_converse.py``: ``_is_cache_point``, the passthrough block types).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Sequence

INSTRUCTIONS = "instructions"  # cache_after name for the prompt's own system text
# Marks the end of a stable value inside a formatted string; never part of what is sent.
_SENTINEL = "\u2063\u2063cache-after\u2063\u2063"


def cache_point(ttl: str = "5m") -> Dict[str, Any]:
    """A Converse cachePoint block; the 5-minute TTL is Bedrock's default and is not written out."""
    return {"cachePoint": {"type": "default", "ttl": ttl}} if ttl != "5m" else {"cachePoint": {"type": "default"}}


def ttl_of(block: Mapping[str, Any]) -> str:
    return str((block.get("cachePoint") or {}).get("ttl") or "5m")


def is_cache_point(block: Any) -> bool:
    # dict, not typing.Mapping: an isinstance against the ABC costs ~10x on every block of every call
    return isinstance(block, dict) and "cachePoint" in block


def has_marks(messages: Iterable[Any]) -> bool:
    for m in messages:
        content = getattr(m, "content", None)
        if isinstance(content, list) and any(is_cache_point(b) for b in content):
            return True
    return False


def format_marked(template: Any, values: Mapping[str, Any], cache_after: Sequence[str],
                  placeholders: Sequence[str], ttl: str = "5m") -> List[Any]:
    """``template.format_messages(**values)`` with candidate checkpoints after the stable parts; ``ttl`` is the
    one the request asked for (placement sends 5m to a model that offers no other)."""
    marked: Dict[str, Any] = dict(values)
    for var in cache_after:
        value = values.get(var)
        if var in placeholders:  # chat history: after each user turn (the next turn reads the earlier ones)
            marked[var] = [_with_mark(m, ttl) if getattr(m, "type", "") == "human" else m for m in value or []]
        elif isinstance(value, str) and value.strip():
            marked[var] = value + _SENTINEL
    messages = [_split(m, ttl) for m in template.format_messages(**marked)]
    # After the system prompt (the instructions every request of this prompt shares).
    last_system = -1
    for i, m in enumerate(messages):
        if getattr(m, "type", "") != "system":
            break
        last_system = i
    if last_system >= 0 and not _ends_with_mark(messages[last_system]):
        messages[last_system] = _with_mark(messages[last_system], ttl)
    return messages


def _text_blocks(content: Any) -> List[Any]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content or [])


def _ends_with_mark(message: Any) -> bool:
    content = message.content
    return isinstance(content, list) and bool(content) and is_cache_point(content[-1])


def _with_mark(message: Any, ttl: str = "5m") -> Any:
    blocks = _text_blocks(message.content)
    if not blocks or is_cache_point(blocks[-1]):
        return message
    return message.model_copy(update={"content": blocks + [cache_point(ttl)]})


def _split(message: Any, ttl: str = "5m") -> Any:
    """A formatted message whose text holds sentinels becomes text blocks with a cachePoint at each."""
    content = message.content
    if isinstance(content, str):
        if _SENTINEL not in content:
            return message
        blocks: List[Any] = []
        parts = content.split(_SENTINEL)
        for i, part in enumerate(parts):
            if part:
                blocks.append({"type": "text", "text": part})
            if i < len(parts) - 1 and blocks and not is_cache_point(blocks[-1]):
                blocks.append(cache_point(ttl))
        return message.model_copy(update={"content": blocks})
    return message
