"""Typed configuration: the pydantic models of ``config.yaml`` and how they are loaded.

Precedence, highest first (as in Powertools): an explicit argument, then the environment, then the file.
Nothing here runs at import time; ``load_config`` reads the file and the environment when it is called.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, Type, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chains.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config.yaml"
DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts"

Backend = Literal["auto", "bedrock", "local"]


class _Strict(BaseModel):
    # A misspelt key in config.yaml must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Capabilities(_Strict):
    vision: bool = False
    tools: bool = True
    documents: bool = False


class Price(_Strict):
    """USD per 1,000 tokens (on-demand)."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)


class Latency(_Strict):
    """The emulator's latency profile for this model (bedrock_local reads it)."""

    first_token_ms: float = Field(default=0, ge=0)
    per_token_ms: float = Field(default=0, ge=0)


class RetryPolicy(_Strict):
    """botocore's retry layer, per model. ``total_max_attempts`` counts tries, not retries.

    With fallbacks behind a model, one try and a fast failover beats backing off on a throttled model.
    """

    # Hashable: clients are shared per (region, retry policy).
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["standard", "adaptive", "legacy"] = "standard"
    total_max_attempts: int = Field(default=1, ge=1, le=10)
    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)


class ModelParams(_Strict):
    temperature: Optional[float] = Field(default=None, ge=0, le=1)
    top_p: Optional[float] = Field(default=None, ge=0, le=1)
    max_tokens: Optional[int] = Field(default=None, ge=1)
    stop: Optional[List[str]] = None


class ModelConfig(_Strict):
    model_id: str = Field(min_length=1)
    # The environment variable users already know for this model's id (e.g. AMAZON_NOVA_PRO_MODEL_ID).
    model_id_env: Optional[str] = None
    region: Optional[str] = None
    context_window: int = Field(gt=0)
    max_output_tokens: int = Field(gt=0)
    capabilities: Capabilities = Capabilities()
    price: Price
    params: ModelParams = ModelParams()
    latency: Latency = Latency()
    retry: RetryPolicy = RetryPolicy()
    # Share of the window kept free because the local token estimate is not the model's tokenizer.
    token_margin: float = Field(default=0.1, ge=0, lt=1)
    # Whether Bedrock's CountTokens API serves this model (Claude 3.5 and later).
    count_tokens_api: bool = False
    # Relative answer quality (higher is better) and the tier the router maps difficulty to.
    quality: int = Field(default=1, ge=0)
    tier: Literal["fast", "strong"] = "fast"


Strategy = Literal["single", "routed", "fallback", "compare", "map_reduce", "agent", "chat"]


class ChainConfig(_Strict):
    prompt: str
    strategy: Strategy = "single"
    # single: the model; routed/fallback: the candidates in order (default: all models).
    model: Optional[str] = None
    models: Optional[List[str]] = None
    description: str = ""
    # Free-form, strategy-specific settings (e.g. map_reduce's chunk size), validated by the strategy.
    settings: Dict[str, Any] = Field(default_factory=dict)


class Settings(_Strict):
    region: str = "us-east-1"
    backend: Backend = "auto"
    prompts_dir: Optional[str] = None
    models: Dict[str, ModelConfig]
    chains: Dict[str, ChainConfig]
    # Sections owned by later stages (routing, resilience, observability ...): free-form here,
    # each stage validates its own section with its own model.
    router: Dict[str, Any] = Field(default_factory=dict)
    resilience: Dict[str, Any] = Field(default_factory=dict)
    tokens: Dict[str, Any] = Field(default_factory=dict)
    compare: Dict[str, Any] = Field(default_factory=dict)
    observability: Dict[str, Any] = Field(default_factory=dict)
    bulk: Dict[str, Any] = Field(default_factory=dict)

    # Where the file came from, for error messages and for resolving prompts_dir.
    source: Optional[str] = Field(default=None, exclude=True)

    @field_validator("models")
    @classmethod
    def _at_least_one_model(cls, v: Dict[str, ModelConfig]) -> Dict[str, ModelConfig]:
        if not v:
            raise ValueError("at least one model must be configured")
        return v

    @model_validator(mode="after")
    def _references_exist(self) -> "Settings":
        for name, chain in self.chains.items():
            for alias in ([chain.model] if chain.model else []) + list(chain.models or []):
                if alias not in self.models:
                    raise ValueError(
                        f"chains.{name} names model '{alias}', which is not configured "
                        f"(configured: {', '.join(sorted(self.models))})"
                    )
        return self

    def prompts_path(self) -> Path:
        if self.prompts_dir:
            base = Path(self.source).parent if self.source else Path.cwd()
            return (base / self.prompts_dir).resolve()
        return DEFAULT_PROMPTS_DIR

    def model(self, alias: str) -> ModelConfig:
        from chains.errors import UnknownModel

        try:
            return self.models[alias]
        except KeyError:
            raise UnknownModel(alias, sorted(self.models)) from None

    def alias_for_model_id(self, model_id: str) -> Optional[str]:
        for alias, m in self.models.items():
            if m.model_id == model_id:
                return alias
        return None


def describe_errors(err: ValidationError, prefix: str = "") -> str:
    """``prefix.key.path: message; ...`` for a pydantic error; a misspelt key reads "unknown key"."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        where = ".".join(p for p in (prefix, loc) if p) or "(top level)"
        parts.append(f"{where}: {'unknown key' if e['type'] == 'extra_forbidden' else e['msg']}")
    return "; ".join(parts)


M = TypeVar("M", bound=BaseModel)


_section_cache: Dict[Tuple[type, int], Tuple[Any, Any]] = {}
_section_cache_lock = threading.Lock()


def cached_section(model: Type[M], section: Any, where: str, source: Optional[str] = None) -> M:
    """``validate_section`` once per section object: stages read their section on every request.

    Keyed by the section's identity (the entry holds the section, so its id cannot be reused); a section
    replaced in the settings is validated again.
    """
    key = (model, id(section))
    hit = _section_cache.get(key)
    if hit is not None and hit[0] is section:
        return hit[1]
    validated = validate_section(model, section or {}, where, source)
    with _section_cache_lock:
        if len(_section_cache) > 256:  # many configurations in one process (tests): keep it bounded
            _section_cache.clear()
        _section_cache[key] = (section, validated)
    return validated


def validate_section(model: Type[M], data: Any, where: str, source: Optional[str] = None) -> M:
    """Validate one stage's section of the configuration; ``ConfigError`` names the file and the key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        origin = source or "<configuration passed in code>"
        raise ConfigError(f"{origin}: invalid configuration: {describe_errors(exc, where)}") from None


def _read_yaml(path: Path) -> Dict[str, Any]:
    import yaml  # deferred: not needed when configuration is passed in code

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load_config(
    source: Union[None, str, Path, Mapping[str, Any], Settings] = None,
    *,
    backend: Optional[str] = None,
    region: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Settings:
    """Load and validate the configuration.

    ``source`` is a path to a YAML file, a mapping with the same shape, or ready ``Settings``; by default
    ``CHAINS_CONFIG`` or the project's ``config.yaml``. ``backend`` and ``region`` given here beat
    ``CHAINS_BACKEND`` / ``AWS_REGION`` in ``env`` (default ``os.environ``), which beat the file.
    Model ids may be overridden by each model's ``model_id_env`` variable. Configuration passed in code
    (a mapping or ``Settings``) is explicit: the environment does not override it.
    """
    env = os.environ if env is None else env
    in_code = isinstance(source, (Settings, Mapping))
    if isinstance(source, Settings):
        data, origin = source.model_dump(), source.source
    elif isinstance(source, Mapping):
        data, origin = dict(source), None
    else:
        path = Path(source or env.get("CHAINS_CONFIG") or DEFAULT_CONFIG_PATH)
        data, origin = _read_yaml(path), str(path)

    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"{origin or '<configuration passed in code>'}: invalid configuration: {describe_errors(exc)}"
        ) from None
    settings.source = origin

    # The environment beats the file, but not configuration passed in code.
    if not in_code:
        for model in settings.models.values():
            if model.model_id_env and env.get(model.model_id_env, "").strip():
                model.model_id = env[model.model_id_env].strip()
        if env.get("CHAINS_BACKEND"):
            settings.backend = _check_backend(env["CHAINS_BACKEND"], "CHAINS_BACKEND")
        env_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if env_region:
            settings.region = env_region

    if backend is not None:
        settings.backend = _check_backend(backend, "backend")
    if region is not None:
        settings.region = region
    return settings


def _check_backend(value: str, where: str) -> Backend:
    if value not in ("auto", "bedrock", "local"):
        raise ConfigError(f"{where}={value!r}: must be one of auto, bedrock, local")
    return value  # type: ignore[return-value]
