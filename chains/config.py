"""Typed configuration: the pydantic models of ``config.yaml``, how they are loaded, and ``section()``.

Where the file comes from, first found wins: the ``source`` argument, ``CHAINS_CONFIG``, ``./config.yaml``
in the working directory, then the defaults packaged with the library (``chains/_defaults/config.yaml`` in
an installed wheel, the repository's top-level ``config.yaml`` in a checkout). Prompts likewise: the
config's ``prompts_dir``, ``./prompts`` next to a config file found in the working directory, then the
packaged prompts. Values: an explicit argument beats the environment, which beats the file.

Every stage's section (``tokens``, ``router``, ``resilience``, ``compare``, ``observability``) is free-form
here and validated by its owner's model through ``section()``, once per section object.
Nothing here runs at import time.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, Type, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from chains.errors import ConfigError, UnknownModel
from chains.guardrails import Guardrail

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def _packaged(name: str) -> Path:
    """The default shipped with the library: ``chains/_defaults/<name>`` in a wheel (hatchling's
    force-include), else the repository's top-level file (a checkout, or ``pip install -e .``)."""
    from importlib import resources

    packaged = Path(str(resources.files("chains").joinpath("_defaults", name)))
    return packaged if packaged.exists() else PROJECT_ROOT / name


DEFAULT_CONFIG_PATH = _packaged("config.yaml")
DEFAULT_PROMPTS_DIR = _packaged("prompts")

Backend = Literal["auto", "bedrock", "local"]


class StrictModel(BaseModel):
    """The one base of every configuration model: a misspelt key in config.yaml is an error, not a silently
    ignored setting."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)



class Capabilities(StrictModel):
    vision: bool = False
    tools: bool = True
    documents: bool = False
    reasoning: bool = False
    # toolChoice modes the model accepts (Claude Sonnet 5.5: only "auto", no forced tool use).
    tool_choice: List[Literal["auto", "any", "tool"]] = Field(default_factory=lambda: ["auto", "any", "tool"])
    service_tiers: List[Literal["default", "flex", "priority"]] = Field(default_factory=lambda: ["default"])
    prompt_caching: bool = False


class Price(StrictModel):
    """USD per 1,000 tokens (on-demand); the optional figures default to the on-demand ones where unknown."""

    input_per_1k: float = Field(ge=0)
    output_per_1k: float = Field(ge=0)
    batch_input_per_1k: Optional[float] = Field(default=None, ge=0)
    batch_output_per_1k: Optional[float] = Field(default=None, ge=0)
    cache_read_per_1k: Optional[float] = Field(default=None, ge=0)
    cache_write_per_1k: Optional[float] = Field(default=None, ge=0)
    # Service tier -> multiplier of the on-demand prices (flex 0.5, priority 1.75 on Nova).
    tier_multipliers: Dict[str, float] = Field(default_factory=dict)


class Latency(StrictModel):
    """The emulator's latency profile for this model (bedrock_local reads it)."""

    first_token_ms: float = Field(default=0, ge=0)
    per_token_ms: float = Field(default=0, ge=0)


class RetryPolicy(StrictModel):
    """botocore's retry layer, per model. ``total_max_attempts`` counts tries, not retries.

    With fallbacks behind a model, one try and a fast failover beats backing off on a throttled model.
    """

    # Hashable: clients are shared per (region, retry policy).
    model_config = ConfigDict(StrictModel.model_config, frozen=True)

    mode: Literal["standard", "adaptive", "legacy"] = "standard"
    total_max_attempts: int = Field(default=1, ge=1, le=10)
    connect_timeout: float = Field(default=3.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)


class ModelParams(StrictModel):
    temperature: Optional[float] = Field(default=None, ge=0, le=1)
    top_p: Optional[float] = Field(default=None, ge=0, le=1)
    max_tokens: Optional[int] = Field(default=None, ge=1)
    stop: Optional[List[str]] = None


# The figures the model catalogue supplies for a known model id; config.yaml may override any of them, and must
# give the required ones for an id the catalogue does not know.
CATALOGUE_FIGURES = ("context_window", "max_output_tokens", "capabilities", "price", "latency", "count_tokens_api")
REQUIRED_FIGURES = ("context_window", "max_output_tokens", "price")


class ModelConfig(StrictModel):
    """One ``models:`` entry. Only ``model_id`` is needed for a model the catalogue knows (chains.catalogue):
    window, output limit, capabilities, prices and latency come from it by model id, and any figure given
    here overrides the catalogue's."""

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
    # Whether the figures came from the model catalogue (False: all given in config.yaml).
    catalogued: bool = Field(default=False, exclude=True)
    # An application inference profile ARN: the base model it resolved to (GetInferenceProfile, once per
    # container: chains.profiles), whose catalogue figures apply. None for any other id.
    base_model_id: Optional[str] = Field(default=None, exclude=True)
    # An application inference profile ARN not resolved yet (figures are placeholders; build_runtime resolves).
    profile_pending: bool = Field(default=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _catalogue_figures(cls, data: Any, info: ValidationInfo) -> Any:
        """Fill the figures config.yaml leaves out from the catalogue entry of ``model_id`` (given ones win); an
        application inference profile ARN takes its base model's (``profile_bases`` in the validation context)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("model_id"), str):
            return data
        from chains.catalogue import model_facts
        from chains.profiles import is_application_profile

        context = info.context or {}
        model_id = data["model_id"]
        base = (context.get("profile_bases") or {}).get(model_id) if is_application_profile(model_id) else None
        facts = model_facts(base or model_id)
        if facts is None and base is None and is_application_profile(model_id) and context.get("defer_profiles"):
            # Placeholders only for building the runtime's clients; build_runtime loads again once resolved.
            return {**data, "context_window": 1, "max_output_tokens": 1,
                    "price": {"input_per_1k": 0, "output_per_1k": 0}, "profile_pending": True}
        if facts is None:
            missing = [k for k in REQUIRED_FIGURES if k not in data]
            if missing:
                raise ValueError(
                    f"model id '{data['model_id'][:200]}' is not in the model catalogue "
                    f"(bedrock_local/catalogue.json): give its {', '.join(missing)} in config.yaml"
                )
            return data
        merged: Dict[str, Any] = dict(data)
        for key in CATALOGUE_FIGURES:
            if key not in data or data[key] is None:
                merged[key] = facts[key]
            elif isinstance(facts[key], dict) and isinstance(data[key], Mapping):
                merged[key] = {**facts[key], **data[key]}
        merged["catalogued"] = True
        if base:
            merged["base_model_id"] = base
        return merged


StrategyName = Literal["single", "routed", "fallback", "compare", "map_reduce", "agent", "chat"]


class ChainConfig(StrictModel):
    prompt: str
    strategy: StrategyName = "single"
    # single: the model; routed/fallback: the candidates in order (default: all models).
    model: Optional[str] = None
    models: Optional[List[str]] = None
    description: str = ""
    # Prompt caching (chains.caching): auto places cache checkpoints (5-minute TTL); 1h the same with the 1-hour
    # TTL where the model offers it; off sends none. options.cache overrides.
    cache: Literal["auto", "off", "1h"] = "auto"
    # A Bedrock guardrail {id, version, trace} for every request of this chain; options.guardrail overrides.
    guardrail: Optional[Guardrail] = None
    # Free-form, strategy-specific settings (e.g. map_reduce's chunk size), validated by the strategy.
    settings: Dict[str, Any] = Field(default_factory=dict)


class Settings(StrictModel):
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
        """``prompts_dir`` (relative to the config file), else ``prompts/`` next to a config file that is not
        the packaged default, else the packaged prompts."""
        if self.prompts_dir:
            base = Path(self.source).parent if self.source else Path.cwd()
            return (base / self.prompts_dir).resolve()
        if self.source and Path(self.source).resolve() != DEFAULT_CONFIG_PATH.resolve():
            beside = Path(self.source).resolve().parent / "prompts"
            if beside.is_dir():
                return beside
        here = Path.cwd() / "prompts"
        if here.is_dir():
            return here.resolve()
        return DEFAULT_PROMPTS_DIR

    def model(self, alias: str) -> ModelConfig:
        try:
            return self.models[alias]
        except KeyError:
            raise UnknownModel(alias, sorted(self.models)) from None

    def alias_for_model_id(self, model_id: str) -> Optional[str]:
        for alias, m in self.models.items():
            if m.model_id == model_id:
                return alias
        # langchain-aws names an application inference profile's answers by its base model (model_name).
        for alias, m in self.models.items():
            if m.base_model_id and m.base_model_id == model_id:
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


_section_cache: Dict[Tuple[type, str, int], Tuple[Any, Any]] = {}
_section_cache_lock = threading.Lock()


def section(settings: "Settings", name: str, model: Type[M], overrides: Optional[Mapping[str, Any]] = None,
            where: Optional[str] = None) -> M:
    """The ``name:`` section of ``settings`` validated with its owner's ``model``: THE way every stage reads
    its section (``--check`` runs it for every section, so a bad one fails there, not on every request).

    Cached per section object (the entry holds it, so its id cannot be reused; a section replaced in the
    settings is validated again). ``overrides`` (a chain's own ``settings``) are laid over the section and
    validated each time. After validation, a model may check itself against the whole configuration with a
    ``check_against(settings, where)`` method (e.g. a model alias it names must be configured).
    """
    raw = getattr(settings, name)
    where = where or name
    if overrides:
        data = dict(raw or {})
        data.update(overrides)
        return _checked(validate_section(model, data, where, settings.source), settings, where)
    key = (model, name, id(raw))
    hit = _section_cache.get(key)
    if hit is not None and hit[0] is raw:
        return hit[1]
    validated = _checked(validate_section(model, raw or {}, where, settings.source), settings, where)
    with _section_cache_lock:
        if len(_section_cache) > 256:  # many configurations in one process (tests): keep it bounded
            _section_cache.clear()
        _section_cache[key] = (raw, validated)
    return validated


def _checked(validated: M, settings: "Settings", where: str) -> M:
    check = getattr(validated, "check_against", None)
    if callable(check):
        check(settings, where)
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

    # Every way the file can fail to be read is a ConfigError naming it (the service answers a typed 500 and
    # logs this message; the body never carries the path or the parser's excerpt).
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load_config(
    source: Union[None, str, Path, Mapping[str, Any], Settings] = None,
    *,
    backend: Optional[str] = None,
    region: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    profile_bases: Optional[Mapping[str, str]] = None,
    defer_profiles: bool = False,
) -> Settings:
    """Load and validate the configuration.

    ``source`` is a path to a YAML file, a mapping with the same shape, or ready ``Settings``; by default
    ``CHAINS_CONFIG``, else ``./config.yaml``, else the packaged default. ``backend`` and ``region`` given here beat
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
        path = Path(source or env.get("CHAINS_CONFIG") or _working_dir_config() or DEFAULT_CONFIG_PATH)
        data, origin = _read_yaml(path), str(path)

    # The environment beats the file (not configuration passed in code): model ids first, so the catalogue's
    # figures are those of the model actually called.
    if not in_code:
        data = _with_env_model_ids(data, env)
    try:
        settings = Settings.model_validate(
            data, context={"profile_bases": dict(profile_bases or {}), "defer_profiles": defer_profiles})
    except ValidationError as exc:
        raise ConfigError(
            f"{origin or '<configuration passed in code>'}: invalid configuration: {describe_errors(exc)}"
        ) from None
    settings.source = origin

    # The environment beats the file, but not configuration passed in code.
    if not in_code:
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


def _with_env_model_ids(data: Dict[str, Any], env: Mapping[str, str]) -> Dict[str, Any]:
    """``data`` with each model's ``model_id`` replaced by its ``model_id_env`` variable, when set."""
    models = data.get("models")
    if not isinstance(models, Mapping):
        return data
    out = dict(models)
    for alias, raw in models.items():
        var = raw.get("model_id_env") if isinstance(raw, Mapping) else None
        if isinstance(var, str) and env.get(var, "").strip():
            out[alias] = {**raw, "model_id": env[var].strip()}
    return {**data, "models": out}


def _working_dir_config() -> Optional[Path]:
    here = Path.cwd() / "config.yaml"
    return here if here.is_file() else None


def _check_backend(value: str, where: str) -> Backend:
    if value not in ("auto", "bedrock", "local"):
        raise ConfigError(f"{where}={value!r}: must be one of auto, bedrock, local")
    return value  # type: ignore[return-value]
