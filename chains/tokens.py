"""Token estimates before a call, the window check every strategy uses, and the ``tokens:`` config section.

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

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chains.config import Settings, cached_section, validate_section
from chains.errors import InputTooLarge

logger = logging.getLogger("bedrock_chains.tokens")

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
    cfg = settings.model(alias)
    if exact:
        return cfg.context_window
    return int(cfg.context_window * (1.0 - cfg.token_margin))


def output_tokens(settings: Settings, alias: str, requested: Optional[int] = None) -> int:
    """The output reserve of one call: the requested max_tokens (or the model's default), capped by the model."""
    cfg = settings.model(alias)
    wanted = requested or cfg.params.max_tokens or cfg.max_output_tokens
    return min(int(wanted), cfg.max_output_tokens)


def fits(
    settings: Settings, alias: str, input_tokens: int, max_tokens: Optional[int] = None, *, exact: bool = False
) -> bool:
    """Whether ``input_tokens`` plus the requested output fit ``alias``'s window with its margin."""
    cfg = settings.model(alias)
    output = max_tokens or cfg.params.max_tokens or cfg.max_output_tokens
    return input_tokens + output <= usable_window(settings, alias, exact)


def input_budget(settings: Settings, alias: str, max_tokens: Optional[int] = None, *, exact: bool = False) -> int:
    """How many input tokens ``alias`` takes next to its output reserve (the largest input that ``fits``)."""
    cfg = settings.model(alias)
    output = max_tokens or cfg.params.max_tokens or cfg.max_output_tokens
    return usable_window(settings, alias, exact) - output


def too_large(
    settings: Settings, aliases: Sequence[str], input_tokens: int, max_tokens: Optional[int] = None, what: str = "input"
) -> InputTooLarge:
    """The 413 that says how large the input was and what would have fitted."""
    room = {a: input_budget(settings, a, output_tokens(settings, a, max_tokens)) for a in aliases}
    best = max(room, key=room.get) if room else None
    message = f"the {what} is ~{input_tokens} tokens (estimated)"
    if best is not None:
        message += (
            f"; the most any configured model takes is ~{room[best]} input tokens ({best}: "
            f"{settings.model(best).context_window} window, {settings.model(best).token_margin:.0%} margin, "
            f"{output_tokens(settings, best, max_tokens)} reserved for the answer)"
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


# --- the ``tokens:`` section of config.yaml ---------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptimizeConfig(_Strict):
    """Input optimisation (chains/optimize.py); ``options.optimize`` switches it per request."""

    enabled: bool = True
    # Only inputs at least this long (estimated tokens) are touched: short ones have nothing to gain.
    min_tokens: int = Field(default=200, ge=0)
    normalize_whitespace: bool = True
    dedupe_lines: bool = True
    # Shorter lines ("---", "}", "Yes.") repeat for a reason; only longer repeated lines are dropped.
    min_line_chars: int = Field(default=16, ge=1)


class TokensConfig(_Strict):
    # Map-reduce (chains/mapreduce.py): chunk size and overlap in estimated tokens; a chunk is also never
    # larger than the smallest candidate model's window allows.
    chunk_size: int = Field(default=8000, ge=50)
    chunk_overlap: int = Field(default=200, ge=0)
    max_concurrency: int = Field(default=4, ge=1, le=64)
    # Collapse levels before giving up (each level divides the partial results by at least 2).
    max_collapse_depth: int = Field(default=6, ge=1, le=20)
    # Output cap for map and collapse calls (partial summaries); default: the prompt's max_tokens.
    map_max_tokens: Optional[int] = Field(default=None, ge=1)
    # Chat history is trimmed to the largest candidate window; this caps it lower (cost control).
    history_max_tokens: Optional[int] = Field(default=None, ge=1)
    optimize: OptimizeConfig = OptimizeConfig()

    @model_validator(mode="after")
    def _overlap_below_half(self) -> "TokensConfig":
        if self.chunk_overlap * 2 > self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be at most half of chunk_size ({self.chunk_size})")
        return self


def tokens_config(settings: Settings, overrides: Optional[Dict[str, Any]] = None, where: str = "tokens") -> TokensConfig:
    """The validated ``tokens:`` section, with per-chain ``overrides`` (a chain's ``settings``) on top."""
    if not overrides:  # the common case, on every request (input optimisation): validated once
        return cached_section(TokensConfig, settings.tokens, where, settings.source)
    data = dict(settings.tokens or {})
    data.update(overrides)
    return validate_section(TokensConfig, data, where, settings.source)


def price_order(settings: Settings, aliases: Sequence[str]) -> List[str]:
    """Aliases cheapest first (input price first: long inputs are what this module plans for)."""
    def key(a: str):
        p = settings.model(a).price
        return (p.input_per_1k, p.output_per_1k, list(aliases).index(a))

    return sorted(aliases, key=key)


# --- what the response says about tokens and budget ------------------------------------------------------
def token_report(request: Any, result: Dict[str, Any]) -> Dict[str, Any]:
    """Keys added to every response: ``optimization`` (when inputs were optimised) and ``budget`` (when
    ``options.max_cost_usd`` was given: the ceiling, the estimate checked before spending, the actual cost)."""
    out: Dict[str, Any] = {}
    if getattr(request, "optimization", None):
        out["optimization"] = request.optimization
    ceiling = getattr(getattr(request, "options", None), "max_cost_usd", None)
    if ceiling is not None:
        route = result.get("route") or {}
        actual = result.get("cost_usd")
        budget = {
            "max_cost_usd": ceiling,
            "estimated_cost_usd": route.get("estimated_cost_usd"),
            "cost_usd": actual,
            "within_budget": None if actual is None else actual <= ceiling,
        }
        if actual is not None and actual > ceiling:
            # Estimates are checked before spending; a real count above the ceiling means the margin is short.
            logger.warning(
                "actual cost above options.max_cost_usd",
                extra={"max_cost_usd": ceiling, "cost_usd": actual, "estimated_cost_usd": budget["estimated_cost_usd"]},
            )
        out["budget"] = budget
    return out
