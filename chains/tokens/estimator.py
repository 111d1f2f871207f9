"""Token estimates before a call and the window check every strategy uses.

The local estimator needs no download and no ``transformers``: ``ceil(chars / 4)`` per ASCII text, plus 3
per message, the same documented formula bedrock_local counts with, so plans made here are accepted or
refused by the emulator exactly as predicted (bedrock_local adds no per-message overhead for the system
prompt and langchain-aws trims trailing whitespace, so the estimate is never below what the emulator
counts). Non-ASCII text is counted denser (see ``estimate_text``). Real tokenizers still differ (code, data
and markup run denser than prose), which is what each model's ``token_margin`` in config.yaml absorbs;
``benchmarks/estimator_error.py`` measures by how much.

``estimate(...)`` asks Bedrock's CountTokens API instead when the model supports it (``count_tokens_api``
in config) and the request asks for it (``options.exact_count``); an exact count needs no margin.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from chains.config import Settings
from chains.errors import InputTooLarge
from chains.limits import output_reserve

logger = logging.getLogger(__name__)

PER_MESSAGE_OVERHEAD = 3
LOCAL, COUNT_TOKENS = "local", "count_tokens"


# --- the local estimator ---------------------------------------------------------------------------------
# Scripts a BPE tokenizer spends about a token per character on: CJK ideographs, kana, hangul, fullwidth forms.
_WIDE = re.compile(
    "[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)


def estimate_text(text: str) -> int:
    """``ceil(chars / 4)`` for ASCII text (bedrock_local's formula, exactly). Other scripts tokenize much
    denser (benchmarks/estimator_error.py: chars/4 under-counts Chinese, Japanese and Korean by ~75 % and
    Cyrillic by ~50 %), so a CJK character counts 1 and any other non-ASCII character 1/2: never below
    bedrock_local's count, much closer to a real tokenizer's."""
    if not text:
        return 0
    if text.isascii():
        return max(1, -(-len(text) // 4))
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    wide = len(_WIDE.findall(text))
    quarter_tokens = (len(text) - non_ascii) + 2 * (non_ascii - wide) + 4 * wide
    return max(1, -(-quarter_tokens // 4))


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


# --- windows ---------------------------------------------------------------------------------------------
def usable_window(settings: Settings, alias: str, exact: bool = False) -> int:
    """The model's context window minus its safety margin (no margin for an exact CountTokens count)."""
    return model_usable_window(settings.model(alias), exact)


def model_usable_window(cfg: Any, exact: bool = False) -> int:
    """``usable_window`` for a model's configuration already looked up."""
    if exact:
        return cfg.context_window
    return int(cfg.context_window * (1.0 - cfg.token_margin))


def fits(
    settings: Settings, alias: str, input_tokens: int, max_tokens: Optional[int] = None, *, exact: bool = False
) -> bool:
    """Whether ``input_tokens`` plus the requested output fit ``alias``'s window with its margin."""
    return input_tokens + output_reserve(settings, alias, max_tokens) <= usable_window(settings, alias, exact)


def input_budget(settings: Settings, alias: str, max_tokens: Optional[int] = None, *, exact: bool = False) -> int:
    """How many input tokens ``alias`` takes next to its output reserve (the largest input that ``fits``)."""
    return usable_window(settings, alias, exact) - output_reserve(settings, alias, max_tokens)


def too_large(
    settings: Settings, aliases: Sequence[str], input_tokens: int, max_tokens: Optional[int] = None, what: str = "input"
) -> InputTooLarge:
    """The 413 that says how large the input was and what would have fitted."""
    room = {a: input_budget(settings, a, output_reserve(settings, a, max_tokens)) for a in aliases}
    best = max(room, key=room.get) if room else None
    message = f"the {what} is ~{input_tokens} tokens (estimated)"
    if best is not None:
        message += (
            f"; the most any configured model takes is ~{room[best]} input tokens ({best}: "
            f"{settings.model(best).context_window} window, {settings.model(best).token_margin:.0%} margin, "
            f"{output_reserve(settings, best, max_tokens)} reserved for the answer)"
        )
    return InputTooLarge(message, estimated_input_tokens=input_tokens, max_input_tokens=room)


# --- estimates: local or Bedrock CountTokens -------------------------------------------------------------
@dataclass(frozen=True)
class TokenEstimate:
    tokens: int
    method: str  # "local" | "count_tokens"
    alias: Optional[str] = None

    @property
    def exact(self) -> bool:
        return self.method == COUNT_TOKENS

    def fits(self, settings: Settings, alias: str, max_tokens: Optional[int] = None) -> bool:
        return fits(settings, alias, self.tokens, max_tokens, exact=self.exact)


def estimate(
    settings: Settings,
    alias: Optional[str],
    messages: Sequence[Any],
    *,
    exact: bool = False,
    factory: Any = None,
) -> TokenEstimate:
    """Input tokens of ``messages`` for ``alias``.

    With ``exact`` (``options.exact_count``), a model whose config says ``count_tokens_api: true`` and a
    ``factory`` to get its client from, Bedrock's CountTokens answers; if it cannot (an older model, a
    throttle, no access), the local estimate is used and the reason logged. Otherwise the local estimate.
    """
    if exact and alias is not None and factory is not None and settings.model(alias).count_tokens_api:
        counted = _count_tokens(settings, alias, messages, factory)
        if counted is not None:
            return TokenEstimate(counted, COUNT_TOKENS, alias)
    return TokenEstimate(estimate_messages(messages), LOCAL, alias)


def _count_tokens(settings: Settings, alias: str, messages: Sequence[Any], factory: Any) -> Optional[int]:
    cfg = settings.model(alias)
    try:
        # The same conversion langchain-aws applies before Converse, so the count is of what will be sent.
        from langchain_aws.chat_models.bedrock_converse import _messages_to_bedrock

        bedrock_messages, system = _messages_to_bedrock(list(messages), model_id=cfg.model_id)
        converse: Dict[str, Any] = {"messages": bedrock_messages}
        if system:
            converse["system"] = system
        client = factory.client(cfg.region or settings.region, cfg.retry)
        response = client.count_tokens(modelId=cfg.model_id, input={"converse": converse})
        return int(response["inputTokens"])
    except Exception as exc:  # any failure: the local estimate (with its margin) still works
        from chains.errors import classify

        error_class, code = classify(exc)
        logger.warning(
            "CountTokens failed; using the local estimate",
            extra={"model_alias": alias, "model_id": cfg.model_id, "error_class": error_class, "code": code},
        )
        return None


def log_estimate(alias: str, model_id: str, messages: Sequence[Any], actual_input_tokens: int) -> None:
    """After a call: the local estimate next to Bedrock's count, to calibrate ``token_margin`` (no prompt text)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    estimated = estimate_messages(messages)
    logger.info(
        "input tokens: estimated %d, actual %d",
        estimated,
        actual_input_tokens,
        extra={
            "model_alias": alias,
            "model_id": model_id,
            "estimated_input_tokens": estimated,
            "actual_input_tokens": actual_input_tokens,
            "estimate_error": round((estimated - actual_input_tokens) / actual_input_tokens, 4)
            if actual_input_tokens
            else None,
        },
    )
