"""Fault injection rules: per model, seeded, from Python or from BEDROCK_LOCAL_FAULTS.

A rule matches a call by model (alias, id substring, or "*"), then *fires* on every
call (rate None or 1.0), on a seeded random share (rate=0.1), or on the first N
matching calls (first_n).  A firing rule applies each effect it has: added latency,
an error answer, a malformed body, an empty answer, or a stream cut after K events.

JSON form (BEDROCK_LOCAL_FAULTS or --faults): a list of objects with the same keys as
FaultRule, e.g. [{"model": "haiku", "error": "ThrottlingException", "first_n": 2}].

Batch inference: a rule without ``operation`` applies to on-demand calls and to each batch
record (records run through the same handling); ``operation: "batch_record"`` applies only
to batch records (the record's output line carries the error); ``operation: "batch_job"``
applies once per job as it starts running: ``ModelTimeoutException`` means the job ran out
of time (PartiallyCompleted: half the records are processed), any other error fails the
whole job with the rule's message.
"""
from __future__ import annotations

import json
import os
import random
import threading
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping

from .errors import STATUS
from .profiles import ModelProfile

ENV_VAR = "BEDROCK_LOCAL_FAULTS"
OPERATIONS = ("batch_record", "batch_job")


@dataclass
class FaultRule:
    model: str = "*"
    error: str | None = None
    rate: float | None = None
    first_n: int | None = None
    latency_ms: float = 0
    stream_cut_after: int | None = None
    malformed: bool = False
    message: str | None = None
    # The model answers, but with no content at all (content [], 0 output tokens, end_turn).
    empty: bool = False
    # This account has not used the model lately: a call to a model that is LEGACY in the
    # caller's region is refused with Bedrock's "marked by provider as Legacy" 404
    # (catalogue_errors.LegacyInactive); ACTIVE models are unaffected.
    legacy_inactive: bool = False
    # Only calls asking for this service tier ("flex", "priority", "default": a request without
    # serviceTier is "default"), so a test can throttle flex and leave default alone.
    service_tier: str | None = None
    # None: on-demand calls and batch records; "batch_record" or "batch_job": only those (see above).
    operation: str | None = None
    # Runtime state: how many matching calls this rule has seen, and its own RNG so
    # adding a rule never changes the random sequence of another.
    seen: int = field(default=0, init=False, compare=False, repr=False)
    _rng: random.Random | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.error is not None and self.error not in STATUS:
            raise ValueError(f"unknown Bedrock error code {self.error!r}; known: {sorted(STATUS)}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if self.operation is not None and self.operation not in OPERATIONS:
            raise ValueError(f"unknown fault operation {self.operation!r}; known: {list(OPERATIONS)}")

    def applies_to(self, operation: str | None) -> bool:
        """``operation`` is None for an on-demand call, else "batch_record" or "batch_job"."""
        if self.operation is None:
            return operation != "batch_job"
        return self.operation == operation

    def matches(self, requested_id: str, profile: ModelProfile | None,
                service_tier: str = "default") -> bool:
        if self.service_tier is not None and self.service_tier != service_tier:
            return False
        if self.model in ("*", "", None):
            return True
        if profile is not None and self.model == profile.alias:
            return True
        return self.model in requested_id or (profile is not None and self.model in profile.model_id)

    def fires(self) -> bool:
        """Counts the call; decide whether this rule applies to it (caller holds the lock)."""
        self.seen += 1
        if self.first_n is not None and self.seen > self.first_n:
            return False
        if self.rate is None or self.rate >= 1.0:
            return True
        return self._rng.random() < self.rate

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (only keys that differ from the defaults, plus model)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.init and (f.name == "model" or getattr(self, f.name) not in (None, False, 0))}


_PUBLIC = {f.name for f in fields(FaultRule) if f.init}


def rule_from_dict(data: Mapping[str, Any]) -> FaultRule:
    unknown = set(data) - _PUBLIC
    if unknown:
        raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed: {sorted(_PUBLIC)}")
    return FaultRule(**data)


def rules_from_json(text: str) -> list[FaultRule]:
    data = json.loads(text)
    if isinstance(data, Mapping):
        data = [data]
    return [rule_from_dict(d) for d in data]


def rules_from_env() -> list[FaultRule]:
    text = os.environ.get(ENV_VAR, "").strip()
    return rules_from_json(text) if text else []


@dataclass
class Decision:
    """The combined effect of every rule that fired for one call."""
    latency_ms: float = 0
    error: str | None = None
    message: str | None = None
    malformed: bool = False
    stream_cut_after: int | None = None
    empty: bool = False
    legacy_inactive: bool = False


class FaultSet:
    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0):
        self._lock = threading.Lock()
        self._seed = seed
        self.rules: list[FaultRule] = []
        for r in rules:
            self.add(r)

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule._rng = random.Random(f"{self._seed}:{len(self.rules)}")
            rule.seen = 0
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def decide(self, requested_id: str, profile: ModelProfile | None,
               service_tier: str = "default", operation: str | None = None) -> Decision:
        d = Decision()
        with self._lock:
            for rule in self.rules:
                if (not rule.applies_to(operation) or not rule.matches(requested_id, profile, service_tier)
                        or not rule.fires()):
                    continue
                d.latency_ms += rule.latency_ms or 0
                if rule.error and d.error is None:
                    d.error, d.message = rule.error, rule.message
                d.malformed = d.malformed or rule.malformed
                d.empty = d.empty or rule.empty
                d.legacy_inactive = d.legacy_inactive or rule.legacy_inactive
                if rule.stream_cut_after is not None and d.stream_cut_after is None:
                    d.stream_cut_after = rule.stream_cut_after
        return d
