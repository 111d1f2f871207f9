"""Token estimates before a call, and the window check every strategy uses.

The local estimator needs no download and no ``transformers``: ``ceil(chars / 4)`` per text, plus 3 per
message, the same documented formula bedrock_local counts with, so plans made here are accepted or refused
by the emulator exactly as predicted. Real tokenizers differ (code and non-English text run denser), which
is what each model's ``token_margin`` in config.yaml absorbs.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from chains.config import Settings

PER_MESSAGE_OVERHEAD = 3


def estimate_text(text: str) -> int:
    if not text:
        return 0
    return max(1, -(-len(text) // 4))


def estimate_messages(messages: Iterable[Any]) -> int:
    """Estimated input tokens of a list of LangChain messages (text content only)."""
    total = 0
    for message in messages:
        total += PER_MESSAGE_OVERHEAD
        content = getattr(message, "content", message)
        if isinstance(content, str):
            total += estimate_text(content)
        elif isinstance(content, list):
            for block in content:
                if isinstance(block, str):
                    total += estimate_text(block)
                elif isinstance(block, dict) and isinstance(block.get("text"), str):
                    total += estimate_text(block["text"])
    return total


def usable_window(settings: Settings, alias: str) -> int:
    """The model's context window minus its safety margin."""
    cfg = settings.model(alias)
    return int(cfg.context_window * (1.0 - cfg.token_margin))


def fits(settings: Settings, alias: str, input_tokens: int, max_tokens: Optional[int] = None) -> bool:
    """Whether ``input_tokens`` plus the requested output fit ``alias``'s window with its margin."""
    cfg = settings.model(alias)
    output = max_tokens or cfg.params.max_tokens or cfg.max_output_tokens
    return input_tokens + output <= usable_window(settings, alias)
