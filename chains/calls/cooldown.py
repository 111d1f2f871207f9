"""Cooldown: a per-process circuit breaker. A model that was throttled / unavailable / unusable goes behind the
healthy ones for a configurable time (not dropped). One per runtime (= per warm Lambda container)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

logger = logging.getLogger(__name__)


class Cooldown:
    """Models that failed recently, until when, and why. Thread-safe; one per runtime (warm container)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: Dict[str, Tuple[float, str]] = {}
        self._lock = threading.Lock()

    def trip(self, alias: str, error_class: str, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            until = self._clock() + seconds
            current = self._until.get(alias)
            if current is None or current[0] < until:
                self._until[alias] = (until, error_class)
        logger.info("model cooling down", extra={"model_alias": alias, "error_class": error_class,
                                                 "cooldown_s": seconds})

    def clear(self, alias: Optional[str] = None) -> None:
        with self._lock:
            if alias is None:
                self._until.clear()
            else:
                self._until.pop(alias, None)

    def status(self, alias: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            entry = self._until.get(alias)
            if entry is None:
                return None
            left = entry[0] - self._clock()
            if left <= 0:
                del self._until[alias]
                return None
            return {"error_class": entry[1], "remaining_ms": round(left * 1000.0, 1)}

    def partition(self, aliases: Sequence[str]) -> Tuple[List[str], List[Tuple[str, Dict[str, Any]]]]:
        """(healthy in order, cooling in order with their status): cooling models go last, not away."""
        healthy, cooling = [], []
        for a in aliases:
            s = self.status(a)
            if s is None:
                healthy.append(a)
            else:
                cooling.append((a, s))
        return healthy, cooling

    def snapshot(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            names = list(self._until)
        return {a: s for a in names if (s := self.status(a))}
