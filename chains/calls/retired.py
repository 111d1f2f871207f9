"""Retired models: a model Bedrock answered "end of life" (or "legacy, no access") for is skipped for the life
of the container, without a call. Not the cooldown: a throttle passes in seconds, a retirement does not.

Per region by construction: a model is retired only after the configured region's Bedrock refused it, never
from the static catalogue (Claude 3 Haiku is still served in a few regions after its end of life elsewhere).
One WARNING line per model per container names the environment variable to change and the catalogue's
successor.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Optional

from chains.catalogue import successor
from chains.errors import ModelCallError, ModelUnusable

logger = logging.getLogger(__name__)

# Bedrock's own texts (FACTS.md "What Bedrock answers"; langchain-aws PR 1245, awslabs/llmeter issue 35).
_REASONS = (
    ("end of its life", "end of life"),
    ("marked by provider as legacy", "legacy, no access"),
)


def retirement_reason(err: ModelCallError) -> Optional[str]:
    """"end of life" / "legacy, no access" when ``err`` is Bedrock retiring the model, else None."""
    if not isinstance(err, ModelUnusable):
        return None
    text = (err.message or "").lower()
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return None


class Retired:
    """Model ids retired in this container (thread-safe; one per runtime)."""

    def __init__(self) -> None:
        self._by_id: Dict[str, str] = {}
        self._lock = threading.Lock()

    def reason(self, model_id: str) -> Optional[str]:
        with self._lock:
            return self._by_id.get(model_id)

    def retire(self, alias: str, cfg: Any, reason: str) -> None:
        """Remember ``cfg.model_id`` as retired; the first time, one WARNING saying what to do."""
        with self._lock:
            if cfg.model_id in self._by_id:
                return
            self._by_id[cfg.model_id] = reason
        after = successor(cfg.model_id)
        logger.warning(
            f"model {alias} ({cfg.model_id}) is retired ({reason}): skipped until the container restarts; set "
            f"{cfg.model_id_env or f'models.{alias}.model_id'} to an active model"
            + (f" (successor: {after})" if after else ""),
            extra={"event": "model_retired", "model_alias": alias, "model_id": cfg.model_id, "reason": reason,
                   "env_var": cfg.model_id_env, "successor": after},
        )

    def snapshot(self) -> Dict[str, str]:
        with self._lock:
            return dict(self._by_id)
