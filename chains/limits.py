"""THE max_tokens resolution: what a request asks for, what one call to a model is given, what it reserves.

* ``requested_max_tokens``: ``options.max_tokens``, else the prompt file's per-task ``max_tokens``.
* ``call_max_tokens``: what one call is sent as maxTokens (always): the same figure as ``output_reserve``.
* ``output_reserve``: the output tokens one call may write, for window and cost planning: the request, else
  the model's ``params.max_tokens``, else its ``max_output_tokens``; never above ``max_output_tokens``.
"""

from __future__ import annotations

from typing import Any, Optional

from chains.config import ModelConfig, Settings


def requested_max_tokens(request: Any) -> Optional[int]:
    """Output cap a request asks for: ``options.max_tokens``, else the prompt file's ``max_tokens``."""
    return request.options.max_tokens or request.prompt.metadata.max_tokens


def call_max_tokens(settings: Settings, alias: str, requested: Optional[int]) -> int:
    """``requested`` clamped to the model's limit, else the model's ``params.max_tokens``, else its output limit:
    never None, so maxTokens is always sent (Bedrock reserves quota for input plus maxTokens, and some Claude
    models cap output at 4,096 tokens when it is absent)."""
    return output_reserve(settings, alias, requested)


def output_reserve(settings: Settings, alias: str, requested: Optional[int] = None) -> int:
    """The output reserve of one call: the request (or the model's default), capped by the model."""
    return model_output_reserve(settings.model(alias), requested)


def model_output_reserve(cfg: ModelConfig, requested: Optional[int] = None) -> int:
    """``output_reserve`` for a model's configuration already looked up (the router's per-candidate record)."""
    wanted = requested or cfg.params.max_tokens or cfg.max_output_tokens
    return min(int(wanted), cfg.max_output_tokens)
