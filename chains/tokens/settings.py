"""The ``tokens:`` section of config.yaml (map-reduce chunking, chat history, input optimisation)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from pydantic import Field, model_validator

from chains.config import Settings, StrictModel, section


class OptimizeConfig(StrictModel):
    """Input optimisation (chains/optimize.py); ``options.optimize`` switches it per request."""

    enabled: bool = True
    # Only inputs at least this long (estimated tokens) are touched: short ones have nothing to gain.
    min_tokens: int = Field(default=200, ge=0)
    normalize_whitespace: bool = True
    dedupe_lines: bool = True
    # Shorter lines ("---", "}", "Yes.") repeat for a reason; only longer repeated lines are dropped.
    min_line_chars: int = Field(default=16, ge=1)


class TokensConfig(StrictModel):
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
    return section(settings, "tokens", TokensConfig, overrides, where)
