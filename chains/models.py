"""Model runnables: one shared boto3 client per region and retry policy, one ChatBedrockConverse per alias.

Built on first use, never at import: building a ChatBedrockConverse without a client creates a boto3
Session and two clients (~0.1-0.3 s each on Lambda), so we pass our own, shared across models and requests.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

from chains.catalogue import profile_for
from chains.config import ModelConfig, RetryPolicy, Settings
from chains.errors import ConfigError

# Dummy credentials for the in-process emulator: botocore still signs every request for real.
_LOCAL_CREDENTIALS = {"aws_access_key_id": "bedrock-local", "aws_secret_access_key": "bedrock-local"}

_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_BEARER_TOKEN_BEDROCK",
)


def credential_source(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """Where AWS credentials would come from, without contacting any endpoint (no IMDS probe).

    Returns a short description (never a value), or None when there are none.
    """
    env = os.environ if env is None else env
    if env.get("AWS_BEARER_TOKEN_BEDROCK"):
        return "Bedrock API key (AWS_BEARER_TOKEN_BEDROCK)"
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return "environment variables (AWS_ACCESS_KEY_ID" + (", AWS_SESSION_TOKEN)" if env.get("AWS_SESSION_TOKEN") else ")")
    if env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE)"
    if env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "container credentials endpoint"
    profile = env.get("AWS_PROFILE")
    files = [
        env.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.expanduser("~/.aws/credentials"),
        env.get("AWS_CONFIG_FILE") or os.path.expanduser("~/.aws/config"),
    ]
    for path in files:
        section = _profile_section(path, profile or "default")
        if section:
            return f"shared file {path} [{section}]"
    if profile:
        return f"profile {profile} (AWS_PROFILE; not found in the shared files)"
    return None


def _profile_section(path: str, profile: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    for header in (f"[{profile}]", f"[profile {profile}]"):
        if header in text:
            return header.strip("[]")
    return None


def resolve_backend(settings: Settings, env: Optional[Mapping[str, str]] = None) -> Tuple[str, str]:
    """Return ``(backend, why)``: "bedrock" or "local", with the reason in plain words."""
    env = os.environ if env is None else env
    if settings.backend == "local":
        return "local", "backend: local"
    if settings.backend == "bedrock":
        return "bedrock", "backend: bedrock"
    if env.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        return "bedrock", f"AWS_ENDPOINT_URL_BEDROCK_RUNTIME={env['AWS_ENDPOINT_URL_BEDROCK_RUNTIME']}"
    source = credential_source(env)
    if source:
        return "bedrock", f"AWS credentials from {source}"
    return "local", "no AWS credentials found"


class _LazyClient:
    """A control-plane client built on first attribute access.

    ChatBedrockConverse wants a ``bedrock`` client, but uses it only for application inference profiles;
    most processes never touch it, so it should cost nothing until then.
    """

    def __init__(self, factory: Any) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        with self._lock:
            if self._client is None:
                self._client = self._factory()
        return getattr(self._client, name)


class ModelFactory:
    """Clients and ChatBedrockConverse instances for one configuration, each built once."""

    def __init__(
        self, settings: Settings, *, env: Optional[Mapping[str, str]] = None, emulator: Any = None, notice=True
    ) -> None:
        self.settings = settings
        self.backend, self.backend_reason = resolve_backend(settings, env)
        self._env = env  # None: os.environ, read when the emulator is first needed
        self._emulator = emulator
        self._notice = notice
        self._clients: Dict[Tuple[str, RetryPolicy], Any] = {}
        self._control: Dict[str, Any] = {}
        self._models: Dict[Tuple[str, Tuple[Tuple[str, Any], ...]], Any] = {}
        self._lock = threading.RLock()

    # --- emulator ------------------------------------------------------------------------------------------
    @property
    def emulator(self) -> Any:
        """The in-process bedrock_local emulator (local backend only), created on first use."""
        if self.backend != "local":
            return None
        with self._lock:
            if self._emulator is None:
                from bedrock_local import Emulator, load_profiles
                from bedrock_local.faults import ENV_VAR, rules_from_json

                env = os.environ if self._env is None else self._env
                try:
                    faults = rules_from_json(env[ENV_VAR]) if env.get(ENV_VAR, "").strip() else []
                except Exception as exc:  # JSON or rule shape: the environment is misconfigured
                    raise ConfigError(f"{ENV_VAR} is not a valid fault rule list: {type(exc).__name__}: "
                                      f"{str(exc)[:200]}") from None
                self._emulator = Emulator(profiles=load_profiles(_profile_source(self.settings)), faults=faults)
                if self._notice:
                    print(
                        "bedrock_chains: no AWS credentials found; answers are emulated by bedrock_local "
                        "(set credentials or CHAINS_BACKEND=bedrock to call Amazon Bedrock)",
                        file=sys.stderr,
                    )
            return self._emulator

    # --- clients ---------------------------------------------------------------------------------------------
    def client(self, region: Optional[str] = None, retry: Optional[RetryPolicy] = None) -> Any:
        region = region or self.settings.region
        retry = retry or RetryPolicy()
        key = (region, retry)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._build_client("bedrock-runtime", region, retry)
            return self._clients[key]

    def _build_client(self, service: str, region: str, retry: RetryPolicy) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            region_name=region,
            retries={"mode": retry.mode, "total_max_attempts": retry.total_max_attempts},
            connect_timeout=retry.connect_timeout,
            read_timeout=retry.read_timeout,
            max_pool_connections=50,
        )
        kwargs: Dict[str, Any] = {"region_name": region, "config": config}
        if self.backend == "local":
            kwargs.update(_LOCAL_CREDENTIALS)
            # A local endpoint set by the user would win over the hook, so pin the AWS one explicitly.
            kwargs["endpoint_url"] = f"https://{service}.{region}.amazonaws.com"
        try:
            client = boto3.session.Session().client(service, **kwargs)
        except ValueError as exc:  # botocore: InvalidRegionError, "Invalid endpoint: ..." (AWS_ENDPOINT_URL*)
            raise ConfigError(f"cannot build the {service} client (region {str(region)[:60]!r}): "
                              f"{str(exc)[:300]}") from None
        if self.backend == "local" and service in ("bedrock-runtime", "bedrock"):
            self.emulator.attach(client)
        return client

    def control_client(self, region: Optional[str] = None) -> Any:
        """The ``bedrock`` control-plane client of ``region`` (built on first use; the emulator's on the local
        backend)."""
        return self._control_client(region or self.settings.region)

    def _control_client(self, region: str) -> Any:
        with self._lock:
            if region not in self._control:
                self._control[region] = _LazyClient(lambda: self._build_client("bedrock", region, RetryPolicy()))
            return self._control[region]

    def warm(self) -> None:
        """Import what the first model call needs (langchain-aws, ~1 s on a cold Lambda; the in-process emulator
        on the local backend) when a chain is built, so a request's deadline is not spent on imports. No
        client, no network: clients are still built on first use."""
        from langchain_aws import ChatBedrockConverse  # noqa: F401  (the import, once)

        _ = self.emulator  # local backend: bedrock_local (None otherwise)

    # --- models ----------------------------------------------------------------------------------------------
    def chat_model(self, alias: str, **overrides: Any) -> Any:
        """The shared ChatBedrockConverse for ``alias`` (overrides such as max_tokens give a separate one)."""
        cfg = self.settings.model(alias)
        # Overrides may hold dicts (guardrail_config): then the key is their canonical JSON; plain values (the
        # common case: max_tokens, temperature, None) key as they are, without serialising on every call.
        if all(v is None or type(v) in (int, float, str, bool) for v in overrides.values()):
            key = (alias, *sorted(overrides.items()))
        else:
            key = (alias, json.dumps(overrides, sort_keys=True, default=str))
        with self._lock:
            model = self._models.get(key)
            if model is None:
                model = self._models[key] = self._build_model(cfg, overrides)
            return model

    def _build_model(self, cfg: ModelConfig, overrides: Dict[str, Any]) -> Any:
        from langchain_aws import ChatBedrockConverse

        region = cfg.region or self.settings.region
        params = {k: v for k, v in cfg.params.model_dump().items() if v is not None}
        params.update({k: v for k, v in overrides.items() if v is not None})
        if params.pop("no_temperature", False):  # thinking: Anthropic refuses a temperature other than 1
            params.pop("temperature", None)
        extra: Dict[str, Any] = {}
        if cfg.base_model_id:  # resolved once already: langchain-aws would ask GetInferenceProfile again
            extra["base_model_id"] = cfg.base_model_id
            extra["provider"] = cfg.base_model_id.split(".", 1)[0]  # langchain-aws asks it for any ARN
        else:
            from chains.catalogue import prompt_router

            router = prompt_router(cfg.model_id)
            if router is not None:  # a prompt router ARN: langchain-aws needs the provider of its models
                extra["provider"] = router.family.split(".", 1)[0]
        return ChatBedrockConverse(
            model=invocation_id(cfg, region),
            **extra,
            region_name=region,
            client=self.client(region, cfg.retry),
            bedrock_client=self._control_client(region),
            **params,
        )


def invocation_id(cfg: ModelConfig, region: str) -> str:
    """The id a call uses: the configured one, except a bare id of a model that cannot be called on demand in
    ``region`` (Claude 4.x, Nova 2): then the system inference profile of the region's geography (us. in
    us-east-1, eu. in eu-west-1 ...), which Bedrock would otherwise ask for with a 400 ("on-demand throughput
    isn't supported"). Explicit profiles and ARNs are used as given."""
    return profile_for(cfg.model_id, region) or cfg.model_id


def _profile_source(settings: Settings) -> Dict[str, Any]:
    """The configuration as bedrock_local reads it (the ``models`` section, with ids after env overrides)."""
    return {"models": {alias: m.model_dump() for alias, m in settings.models.items()}}


def structured_output(model: Any, cfg: ModelConfig, schema: Any, *, include_raw: bool = False) -> Any:
    """``model.with_structured_output(schema)`` by a method ``cfg``'s model accepts.

    Forced tool use (toolChoice any / tool) where the catalogue says the model offers it; otherwise Bedrock's
    native structured output (Converse ``outputConfig.textFormat`` json_schema, langchain-aws
    ``method="json_schema"``): Claude Sonnet 5.5 refuses forced tool use, and with toolChoice auto the model
    may answer in prose, which would make the judge and the router's classifier fail at random.
    """
    forced = {"any", "tool"} & set(cfg.capabilities.tool_choice)
    method = "function_calling" if forced and cfg.capabilities.tools else "json_schema"
    return model.with_structured_output(schema, include_raw=include_raw, method=method)
