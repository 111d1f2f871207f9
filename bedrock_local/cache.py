"""Prompt caching: ``cachePoint`` checkpoints, a per-emulator prefix cache, and the usage split.

How Bedrock does it (https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html):

* ``{"cachePoint": {"type": "default", "ttl": "5m" | "1h"}}`` may follow a tool (in
  ``toolConfig.tools``), a system block or a message content block.  The prefix a checkpoint
  closes is everything before it in the order tools -> system -> messages.
* A prefix shorter than the model's minimum tokens per checkpoint is simply not cached (no
  error).  At most ``max_checkpoints`` (4) per request; a fifth is Anthropic's own 400, which
  Bedrock passes through: "The model returned the following errors: A maximum of 4 blocks with
  cache_control may be provided. Found 5." (BerriAI/litellm issue 16062, Claude Sonnet 4.5).
* A checkpoint on a model without prompt caching: 400 "You invoked an unsupported model or your
  request did not allow prompt caching. See the documentation for more information."
  (cline/cline issue 2064, microsoft/vscode issue 296675).
* A 1h checkpoint after a 5m one is refused by Anthropic ("... a ttl='1h' cache_control block
  must not come after a ttl='5m' cache_control block ...", Portkey-AI/gateway issue 1762).
* The entry lives for its TTL after its last use (a read refreshes it).
* Usage: ``cacheWriteInputTokens`` / ``cacheReadInputTokens``; the cached part is left out of
  ``inputTokens`` and counted in ``totalTokens`` (recorded real responses, FACTS.md).

The cache is per Emulator (one account), keyed by base model and a hash of the prefix, with an
injectable clock so tests expire entries without sleeping.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import validation
from .tokens import count_input_tokens

UNSUPPORTED = ("You invoked an unsupported model or your request did not allow prompt caching. "
               "See the documentation for more information.")
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def too_many(limit: int, found: int) -> str:
    return (f"The model returned the following errors: A maximum of {limit} blocks with "
            f"cache_control may be provided. Found {found}.")


@dataclass(frozen=True)
class Checkpoint:
    where: str           # "tools.N", "system.N", "messages.I.content.J"
    ttl: str
    prefix: dict         # the Converse-shaped request truncated at this checkpoint
    tokens: int


@dataclass
class CacheUsage:
    """How one request's input splits into uncached, read and written tokens."""
    read: int = 0
    write: int = 0
    write_ttl: str | None = None
    checkpoints: int = 0

    def as_usage_fields(self) -> dict[str, int]:
        return {"cacheReadInputTokens": self.read, "cacheWriteInputTokens": self.write}


def _ttl_of(block: Mapping[str, Any]) -> str:
    return str((block.get("cachePoint") or {}).get("ttl") or "5m")


def checkpoints(request: Mapping[str, Any], entry: Any = None) -> list[Checkpoint]:
    """Every cachePoint of ``request`` in Bedrock's order, with the prefix it closes."""
    out: list[Checkpoint] = []
    tools = list(((request.get("toolConfig") or {}).get("tools")) or [])
    system = list(request.get("system") or [])
    messages = list(request.get("messages") or [])

    def add(where: str, ttl: str, prefix: dict) -> None:
        out.append(Checkpoint(where, ttl, prefix, count_input_tokens(prefix, entry)))

    for i, tool in enumerate(tools):
        if isinstance(tool, Mapping) and "cachePoint" in tool:
            add(f"tools.{i}", _ttl_of(tool), {"toolConfig": {"tools": tools[:i]}})
    for i, block in enumerate(system):
        if isinstance(block, Mapping) and "cachePoint" in block:
            add(f"system.{i}", _ttl_of(block),
                {"toolConfig": {"tools": tools}, "system": system[:i]})
    for m, msg in enumerate(messages):
        content = list(msg.get("content") or []) if isinstance(msg, Mapping) else []
        for j, block in enumerate(content):
            if isinstance(block, Mapping) and "cachePoint" in block:
                head = messages[:m] + [{"role": msg.get("role"), "content": content[:j]}]
                add(f"messages.{m}.content.{j}", _ttl_of(block),
                    {"toolConfig": {"tools": tools}, "system": system, "messages": head})
    return out


def check(request: Mapping[str, Any], caching: Any, entry: Any = None) -> list[Checkpoint]:
    """Bedrock's refusals for the request's checkpoints; returns them.

    ``caching`` is the catalogue's PromptCaching for the model (None: no prompt caching).
    """
    points = checkpoints(request, entry)
    if not points:
        return points
    if caching is None:
        raise validation(UNSUPPORTED)
    for p in points:
        section = p.where.split(".", 1)[0]
        if section not in caching.fields or p.ttl not in caching.ttls:
            # Nova takes checkpoints in system and messages only; a TTL the model does not
            # offer is the same refusal.
            raise validation(UNSUPPORTED)
    if len(points) > caching.max_checkpoints:
        raise validation(too_many(caching.max_checkpoints, len(points)))
    seen_5m = False
    for p in points:
        if p.ttl == "1h" and seen_5m:
            raise validation(
                f"The model returned the following errors: {p.where}.cache_control.ttl: a "
                "ttl='1h' cache_control block must not come after a ttl='5m' cache_control block. "
                "Note that blocks are processed in the following order: `tools`, `system`, "
                "`messages`.")
        seen_5m = seen_5m or p.ttl == "5m"
    return points


def _without_points(value: Any) -> Any:
    """The prefix with every cachePoint block left out: the markers are not part of the cache key, so moving
    a checkpoint (a conversation marks its newest turn each request) still reads the prefix an earlier one
    wrote ("Anthropic reads the longest matching prefix and excludes cache_control from the cache key",
    gnachman/iTerm2 release v20260622-nightly; Anthropic's prompt-caching guide, "rolling" breakpoints)."""
    if isinstance(value, Mapping):
        return {k: _without_points(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_points(v) for v in value if not (isinstance(v, Mapping) and "cachePoint" in v)]
    return value


def _key(model: str, prefix: Mapping[str, Any]) -> str:
    blob = json.dumps(_without_points(prefix), sort_keys=True, default=str, ensure_ascii=False).encode()
    return model + ":" + hashlib.sha256(blob).hexdigest()


@dataclass
class PromptCache:
    """Prefix cache of one emulator (one account). ``clock`` returns seconds (monotonic)."""
    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, float] = field(default_factory=dict)  # key -> expiry time
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        now = self.clock()
        with self._lock:
            return sum(1 for exp in self._entries.values() if exp > now)

    def account(self, model: str, points: list[Checkpoint], min_tokens: int,
                input_tokens: int) -> CacheUsage:
        """Read the longest warm prefix, write the longer eligible ones; return the split.

        Prefixes below ``min_tokens`` are skipped (not cached, not an error).  Token numbers
        are capped by ``input_tokens`` (the request's own count) so the split always adds up.
        """
        usage = CacheUsage(checkpoints=len(points))
        eligible = [p for p in points if p.tokens >= min_tokens]
        if not eligible:
            return usage
        now = self.clock()
        with self._lock:
            hit = None
            for p in reversed(eligible):
                exp = self._entries.get(_key(model, p.prefix))
                if exp is not None and exp > now:
                    hit = p
                    break
            read = min(hit.tokens, input_tokens) if hit else 0
            if hit is not None:  # a read keeps the entry warm for another TTL
                self._entries[_key(model, hit.prefix)] = now + TTL_SECONDS[hit.ttl]
            longest = eligible[-1]
            write = 0
            if hit is None or longest.tokens > hit.tokens:
                write = min(longest.tokens, input_tokens) - read
                for p in eligible:
                    if hit is None or p.tokens > hit.tokens:
                        self._entries[_key(model, p.prefix)] = now + TTL_SECONDS[p.ttl]
                usage.write_ttl = longest.ttl
        usage.read, usage.write = read, max(0, write)
        return usage
