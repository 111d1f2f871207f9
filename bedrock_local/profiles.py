"""Model profiles: the config.yaml view of a model (limits, capabilities, latency).

The emulator and the service read the same ``models:`` section of config.yaml, so a
limit enforced here is the limit the service plans for.  The defaults below mirror
that file so ``python -m bedrock_local`` works without it.

The model catalogue (catalogue.py / catalogue.json) is the source of truth for which
models exist; a ModelProfile is one config.yaml entry laid over a catalogue entry
(``to_catalogue_extra`` / ``ModelProfile.from_entry`` convert between the two).
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class ModelProfile:
    alias: str
    model_id: str
    context_window: int
    max_output_tokens: int
    vision: bool = True
    tools: bool = True
    documents: bool = True
    first_token_ms: float = 0.0
    per_token_ms: float = 0.0

    @property
    def provider(self) -> str:
        """'anthropic', 'amazon', ... : decides the InvokeModel body format."""
        return self.model_id.split(".", 1)[0]

    def latency_ms(self, output_tokens: int) -> float:
        return self.first_token_ms + self.per_token_ms * output_tokens

    @classmethod
    def from_entry(cls, entry: Any) -> "ModelProfile":
        """The profile view of a catalogue ModelEntry."""
        caps = entry.capabilities
        return cls(entry.alias or entry.id, entry.id, entry.context_window, entry.max_output_tokens,
                   caps.vision, caps.tools, caps.documents, entry.first_token_ms, entry.per_token_ms)

    def as_config(self) -> dict[str, Any]:
        """The config.yaml ``models:`` entry this profile stands for."""
        return {"model_id": self.model_id, "context_window": self.context_window,
                "max_output_tokens": self.max_output_tokens,
                "capabilities": {"vision": self.vision, "tools": self.tools, "documents": self.documents},
                "latency": {"first_token_ms": self.first_token_ms, "per_token_ms": self.per_token_ms}}


# The emulator's own defaults without a config file (the seed's ids; bedrock_local's suites are built on them).
# config.yaml now names current models by id only: load_profiles fills their figures from the catalogue.
DEFAULT_PROFILES: dict[str, ModelProfile] = {
    p.model_id: p
    for p in (
        ModelProfile("nova_pro", "amazon.nova-pro-v1:0", 300_000, 5_000,
                     first_token_ms=350, per_token_ms=8),
        ModelProfile("claude_haiku", "anthropic.claude-3-haiku-20240307-v1:0", 200_000, 4_096,
                     first_token_ms=250, per_token_ms=5),
        ModelProfile("claude_sonnet", "anthropic.claude-3-sonnet-20240229-v1:0", 200_000, 4_096,
                     first_token_ms=600, per_token_ms=15),
    )
}

# Cross-region inference profiles ("us.", "eu.", "apac.", "global.", ...) route to the
# same foundation model, so they share its profile.
_GEO_PREFIX = re.compile(r"^(us|eu|apac|us-gov|ca|jp|au|global)\.")
# ARNs: arn:aws:bedrock:REGION:ACCOUNT:foundation-model/ID or .../inference-profile/ID
_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)/(.+)$")


def _profile_from_config(alias: str, entry: Mapping[str, Any]) -> ModelProfile:
    # config.yaml may name only the model id: the figures it leaves out are the catalogue's (as in the service).
    from .catalogue import default_catalogue

    base = default_catalogue().base_of(str(entry["model_id"]))
    known = ModelProfile.from_entry(base) if base is not None else None
    caps = entry.get("capabilities") or {}
    lat = entry.get("latency") or {}

    def figure(key: str, given: Any, default: Any) -> Any:
        return given if given is not None else (getattr(known, key) if known is not None else default)

    return ModelProfile(
        alias=alias,
        model_id=str(entry["model_id"]),
        context_window=int(figure("context_window", entry.get("context_window"), None)),
        max_output_tokens=int(figure("max_output_tokens", entry.get("max_output_tokens"), None)),
        vision=bool(figure("vision", caps.get("vision"), True)),
        tools=bool(figure("tools", caps.get("tools"), True)),
        documents=bool(figure("documents", caps.get("documents"), True)),
        first_token_ms=float(figure("first_token_ms", lat.get("first_token_ms"), 0)),
        per_token_ms=float(figure("per_token_ms", lat.get("per_token_ms"), 0)),
    )


def load_profiles(path_or_dict: Any = None) -> dict[str, ModelProfile]:
    """Profiles keyed by model id, from config.yaml (a path or the parsed dict).

    ``None`` gives a copy of DEFAULT_PROFILES.  Unknown per-model keys are ignored
    (the service's own validator is the strict one).
    """
    if path_or_dict is None:
        return dict(DEFAULT_PROFILES)
    if isinstance(path_or_dict, Mapping):
        config = path_or_dict
    else:
        # PyYAML is a dependency of the service; import lazily so in-process use
        # with a dict (or the defaults) needs nothing beyond botocore.
        import yaml

        with open(path_or_dict, encoding="utf-8") as fh:
            config = yaml.safe_load(fh) or {}
    models = config.get("models", config) if isinstance(config, Mapping) else {}
    profiles = {}
    for alias, entry in (models or {}).items():
        if isinstance(entry, Mapping) and "model_id" in entry:
            p = _profile_from_config(str(alias), entry)
            profiles[p.model_id] = p
    if not profiles:
        raise ValueError("no models with a model_id found in the configuration")
    return profiles


def resolve(model_id: str, profiles: Mapping[str, ModelProfile]) -> ModelProfile | None:
    """The profile serving ``model_id`` (plain id, geo inference profile or ARN), else None."""
    mid = urllib.parse.unquote(model_id)
    m = _ARN.match(mid)
    if m:
        mid = m.group(1)
    if mid in profiles:
        return profiles[mid]
    base = _GEO_PREFIX.sub("", mid, count=1)
    return profiles.get(base)


def to_catalogue_extra(profiles: Mapping[str, ModelProfile]) -> dict[str, dict[str, Any]]:
    """Profiles as config.yaml ``models:`` entries, for ``catalogue.load_catalogue(extra)``."""
    out: dict[str, dict[str, Any]] = {}
    for p in profiles.values():
        key = p.alias if p.alias not in out else p.model_id
        out[key] = p.as_config()
    return out


def profiles_from_catalogue(catalogue: Any) -> dict[str, ModelProfile]:
    """Every catalogue entry as a ModelProfile, keyed by model id."""
    return {e.id: ModelProfile.from_entry(e) for e in catalogue.entries()}
