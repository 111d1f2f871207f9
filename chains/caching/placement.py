"""Per model, right before the one timed call: which candidate checkpoints stay, and the prefix LRU.

Rules (Bedrock, https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html; facts from
``chains.caching.facts``):
- a model without prompt caching gets no cachePoint (Bedrock answers 400 "You invoked an unsupported model
  or your request did not allow prompt caching"), so a fallback to such a model sends none;
- a checkpoint whose prefix (estimated tokens, ``chains.tokens.estimator``) is below the model's minimum is
  dropped: it would not be cached and would only split the prompt;
- at most the model's ``max_checkpoints`` (the last ones: the longest prefixes, which also cover the
  checkpoint the previous request wrote, so it is read);
- a checkpoint only where the model takes one (Nova: system and messages);
- the TTL the request asked for where the model offers it, else 5 minutes (``CacheFacts.ttl_for``): every
  checkpoint of a request has the same TTL, so a 1h one never follows a 5m one (Anthropic's 400 "a ttl='1h'
  cache_control block must not come after a ttl='5m' cache_control block", see bedrock_local/cache.py).

Attached images and documents count in a prefix at the model's own figures (``chains.caching.media``, which
reads the emulator's token overheads: one owner of those numbers).

The prefix LRU remembers, per model, the prefixes this process has written (or read) within their TTL: the
router counts an expected cache read for them (``warm_read_tokens``). It is an estimate for routing and
budgets only; what is billed is what Bedrock reports.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from chains.caching.facts import TTL_SECONDS, CacheFacts, caching_facts
from chains.caching.marks import cache_point, has_marks, is_cache_point, ttl_of
from chains.caching.media import media_tokens
from chains.tokens.estimator import PER_MESSAGE_OVERHEAD, estimate_text


@dataclass(frozen=True)
class Checkpoint:
    message: int  # index of the message
    block: int  # index of the cachePoint block in its content
    tokens: int  # estimated tokens of the prefix it closes
    key: str = ""  # hash of that prefix (computed only for the checkpoints a model keeps: ``with_keys``)
    ttl: str = "5m"  # the TTL this checkpoint is sent with


@dataclass(frozen=True)
class Placement:
    messages: List[Any]  # what is sent to this model
    checkpoints: Tuple[Checkpoint, ...]  # the cachePoints kept
    model_id: str = ""


def _block_text(block: Any) -> Optional[str]:
    if isinstance(block, str):
        return block
    text = block.get("text") if isinstance(block, dict) else None
    return text if isinstance(text, str) else None


def candidates(messages: Sequence[Any], model_id: str = "") -> List[Checkpoint]:
    """Every candidate cachePoint with its prefix's estimated tokens, in order (no hashing: cheap).
    Images and documents count at ``model_id``'s figures."""
    out: List[Checkpoint] = []
    tokens = 0
    for i, m in enumerate(messages):
        tokens += PER_MESSAGE_OVERHEAD
        content = getattr(m, "content", m)
        if isinstance(content, str):
            tokens += estimate_text(content)
            continue
        for j, block in enumerate(content or []):
            if is_cache_point(block):
                out.append(Checkpoint(i, j, tokens, ttl=ttl_of(block)))
                continue
            text = _block_text(block)
            if text is not None:
                tokens += estimate_text(text)
            else:
                tokens += media_tokens(block, model_id)
    return out


def with_keys(messages: Sequence[Any], points: Sequence[Checkpoint]) -> List[Checkpoint]:
    """``points`` with the hash of the prefix each closes (one pass; cachePoint markers are not hashed)."""
    if not points:
        return []
    wanted = {(cp.message, cp.block): cp for cp in points}
    last = max(cp.message for cp in points)
    keys: Dict[Tuple[int, int], str] = {}
    digest = hashlib.sha256()
    for i, m in enumerate(messages[: last + 1]):
        digest.update(f"\x1e{getattr(m, 'type', '')}\x1f".encode())
        content = getattr(m, "content", m)
        if isinstance(content, str):
            digest.update(content.encode("utf-8", "surrogatepass"))
            continue
        for j, block in enumerate(content or []):
            if is_cache_point(block):
                if (i, j) in wanted:
                    keys[(i, j)] = digest.copy().hexdigest()
                continue
            text = _block_text(block)
            digest.update((text if text is not None else repr(block)).encode("utf-8", "surrogatepass"))
    return [Checkpoint(cp.message, cp.block, cp.tokens, keys.get((cp.message, cp.block), ""), cp.ttl)
            for cp in points]


def select(facts: Optional[CacheFacts], messages: Sequence[Any], found: Sequence[Checkpoint]) -> List[Checkpoint]:
    """The candidates this model takes (see the module docstring)."""
    if facts is None or facts.max_checkpoints <= 0:
        return []
    eligible = []
    for cp in found:
        section = "system" if getattr(messages[cp.message], "type", "") == "system" else "messages"
        if section in facts.fields and cp.tokens >= facts.min_tokens:
            eligible.append(cp)
    kept = eligible[-facts.max_checkpoints:]
    return [cp if facts.ttl_for(cp.ttl) == cp.ttl else Checkpoint(cp.message, cp.block, cp.tokens, cp.key, "5m")
            for cp in kept]


def place(model_id: str, messages: List[Any]) -> Placement:
    """The messages for ``model_id``: kept checkpoints stay (with the TTL the model offers), the other
    candidates are removed."""
    found = candidates(messages, model_id) if has_marks(messages) else []
    if not found:
        return Placement(messages, (), model_id)
    kept = select(caching_facts(model_id), messages, found)
    kept = with_keys(messages, kept)  # for the router's LRU (``remember``); only kept ones are hashed
    keep = {(cp.message, cp.block) for cp in kept}
    drop = {(cp.message, cp.block) for cp in found} - keep
    # A kept checkpoint whose TTL the model does not offer is sent with 5 minutes (select said which).
    retime = {(cp.message, cp.block): cp.ttl for cp in kept if cp.ttl != _found_ttl(found, cp)}
    out = list(messages)
    for i in sorted({m for m, _ in drop} | {m for m, _ in retime}):
        content = [cache_point(retime[(i, j)]) if (i, j) in retime else b
                   for j, b in enumerate(messages[i].content) if (i, j) not in drop]
        if not any(is_cache_point(b) for b in content) and all(_is_text(b) for b in content):
            # No checkpoint left in this message: send it as the plain string it was formatted from.
            content = "".join(b if isinstance(b, str) else b["text"] for b in content)
        out[i] = messages[i].model_copy(update={"content": content})
    return Placement(out, tuple(kept), model_id)


def _found_ttl(found: Sequence[Checkpoint], cp: Checkpoint) -> str:
    return next(f.ttl for f in found if f.message == cp.message and f.block == cp.block)


def _is_text(block: Any) -> bool:
    return isinstance(block, str) or (isinstance(block, dict) and block.get("type") == "text")


# --- the prefix LRU ---------------------------------------------------------------------------------------------


class PrefixLRU:
    """Prefix hashes per model written (or read) in this process, each until its TTL runs out."""

    def __init__(self, size: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._entries: "OrderedDict[Tuple[str, str], float]" = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def touch(self, model_id: str, key: str, ttl_s: float) -> None:
        with self._lock:
            self._entries[(model_id, key)] = self.clock() + ttl_s
            self._entries.move_to_end((model_id, key))
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def warm(self, model_id: str, key: str) -> bool:
        with self._lock:
            expiry = self._entries.get((model_id, key))
            if expiry is None:
                return False
            if expiry <= self.clock():
                del self._entries[(model_id, key)]
                return False
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


PREFIXES = PrefixLRU()


def remember(placement: Placement, message: Any) -> None:
    """After a successful call: Bedrock wrote or read the placed prefixes, so they are warm for a TTL."""
    if not placement.checkpoints:
        return
    details = (getattr(message, "usage_metadata", None) or {}).get("input_token_details") or {}
    if not any(int(details.get(k, 0) or 0) for k in ("cache_read", "cache_creation", "ephemeral_5m_input_tokens",
                                                     "ephemeral_1h_input_tokens")):
        return
    for cp in placement.checkpoints:  # each prefix lives for the TTL it was placed with
        if cp.key:
            PREFIXES.touch(placement.model_id, cp.key, TTL_SECONDS.get(cp.ttl, 300.0))


def warm_read_tokens(model_id: str, messages: Sequence[Any]) -> int:
    """Estimated tokens the next call to ``model_id`` with ``messages`` reads from the cache (0: cold)."""
    if not len(PREFIXES) or not has_marks(messages):  # nothing written yet in this process: cold
        return 0
    kept = select(caching_facts(model_id), messages, candidates(messages, model_id))
    for cp in reversed(with_keys(messages, kept)):
        if PREFIXES.warm(model_id, cp.key):
            return cp.tokens
    return 0
