"""The ``resilience:`` section of config.yaml: cooldowns, the time an attempt needs, which classes fall over."""

from __future__ import annotations

from typing import Any, Dict, List

from pydantic import Field, field_validator

from chains.config import StrictModel, section
from chains.errors import CLIENT_ERROR, FALLBACK_CLASSES, MODEL_UNUSABLE, THROTTLED, UNAVAILABLE


class ResilienceSettings(StrictModel):
    # Seconds a model sits behind the healthy ones after failing with this class (0 or absent: no cooldown).
    cooldown_s: Dict[str, float] = Field(
        default_factory=lambda: {THROTTLED: 10.0, UNAVAILABLE: 30.0, MODEL_UNUSABLE: 300.0}
    )
    # No attempt is started with less time than this left before the deadline.
    min_attempt_ms: float = Field(default=250.0, ge=0)
    # Error classes on which the next candidate is tried (client_error never is).
    fall_back_on: List[str] = Field(default_factory=lambda: sorted(FALLBACK_CLASSES))

    @field_validator("cooldown_s")
    @classmethod
    def _known_cooldown_classes(cls, v: Dict[str, float]) -> Dict[str, float]:
        for k, s in v.items():
            if k not in FALLBACK_CLASSES:
                raise ValueError(f"unknown error class '{k}' (known: {', '.join(sorted(FALLBACK_CLASSES))})")
            if s < 0:
                raise ValueError(f"cooldown for {k} must be >= 0")
        return v

    @field_validator("fall_back_on")
    @classmethod
    def _known_fallback_classes(cls, v: List[str]) -> List[str]:
        for k in v:
            if k == CLIENT_ERROR:
                raise ValueError("client_error never falls back: it is our bug or the caller's bad input")
            if k not in FALLBACK_CLASSES:
                raise ValueError(f"unknown error class '{k}' (known: {', '.join(sorted(FALLBACK_CLASSES))})")
        return v


def resilience_settings(settings: Any) -> ResilienceSettings:
    """The validated ``resilience:`` section (cached per section object; a ConfigError names the bad key)."""
    return cached_section(ResilienceSettings, settings.resilience, "resilience", settings.source)




def resilience_settings(settings: Any) -> ResilienceSettings:
    """The validated ``resilience:`` section (``chains.config.section``: cached, a ConfigError names the key)."""
    return section(settings, "resilience", ResilienceSettings)
