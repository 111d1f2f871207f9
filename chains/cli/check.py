"""``bedrock-chains --check [--ping]``: whether the configuration works, where calls would go, and whether
each model answers.

The configuration check runs ``chains.config.section`` for every section (``SECTIONS``), each chain's
strategy settings, and looks for every chain's prompt file: a problem that would otherwise fail every
request with a 500 fails here (exit 1). Never prints a credential value: only where credentials come from.
"""

from __future__ import annotations

import os
import importlib
from typing import Any, Dict, List, Tuple

from chains.config import section
from chains.errors import ChainsError, classify, to_model_error

# Every section of config.yaml that is validated by its owner's model (``compare`` through its chains).
SECTIONS: Dict[str, str] = {
    "tokens": "chains.tokens.settings:TokensConfig",
    "router": "chains.routing.settings:RouterSettings",
    "resilience": "chains.calls.settings:ResilienceSettings",
    "observability": "chains.observability.setup:ObservabilityConfig",
    "bulk": "chains.bulk.settings:BulkSettings",
}

HINTS = {
    "AccessDeniedException": "model access is not granted in this account/region: enable it in the Bedrock "
    "console (Model access), and check the IAM policy allows bedrock:InvokeModel",
    "ResourceNotFoundException": "this model id does not exist in this region: check the id and the region",
    "UnrecognizedClientException": "the credentials are not valid: check the access key",
    "ExpiredTokenException": "the session token has expired: refresh your credentials (e.g. aws sso login)",
    "NoCredentialsError": "no AWS credentials: set them, or use the local emulator (CHAINS_BACKEND=local)",
    "EndpointConnectionError": "the endpoint cannot be reached: check the region and the network",
    "ThrottlingException": "throttled: the model is reachable but at its quota; try again later",
}
_EOL_HINT = "this model id is retired (end of life) or invalid: pick a current model or an inference profile"


def hint_for(exc: BaseException) -> str:
    error_class, code = classify(exc)
    message = str(exc).lower()
    if "provided model identifier is invalid" in message:
        return _EOL_HINT
    if code and code in HINTS:
        return HINTS[code]
    name = type(exc).__name__
    if name in HINTS:
        return HINTS[name]
    if "could not connect" in message or "connect timeout" in message:
        return HINTS["EndpointConnectionError"]
    if "region" in message:
        return "no region or a wrong region: set AWS_REGION or region in config.yaml"
    return f"{error_class}: {code or name}"


def run_check(ping: bool = False, runtime: Any = None) -> Tuple[str, bool]:
    from chains.models import credential_source
    from chains.registry import build_runtime

    lines: List[str] = []
    ok = True
    try:
        runtime = runtime or build_runtime(notice=False)
    except ChainsError as exc:
        return f"configuration: ERROR {exc.message}", False
    settings, factory = runtime.settings, runtime.factory
    lines.append(f"backend:      {factory.backend} ({factory.backend_reason})")
    lines.append(f"region:       {settings.region}")
    lines.append(f"credentials:  {credential_source() or 'none found'}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    if factory.backend == "local":
        endpoint = "in-process bedrock_local emulator (answers are emulated)"
    lines.append(f"endpoint:     {endpoint or f'https://bedrock-runtime.{settings.region}.amazonaws.com'}")
    problems = config_problems(runtime)
    lines.append("configuration: " + (f"{len(problems)} problem(s)" if problems else
                                      f"ok ({', '.join([*SECTIONS, 'chains'])})"))
    for problem in problems:
        ok = False
        lines.append(f"  {problem}")
    prompt_errors = {k: v for k, v in runtime.prompts.validate_all().items() if v}
    lines.append(f"prompts:      {len(runtime.prompts.names())} file(s)" + (f", {len(prompt_errors)} invalid" if prompt_errors else ", all valid"))
    for name, err in prompt_errors.items():
        ok = False
        lines.append(f"  {name}: {err}")
    import chains.catalogue as catalogue

    lines.append("models:")
    # Columns as wide as the longest alias and model id, so long names stay in line.
    alias_w = max((len(a) for a in settings.models), default=0)
    id_w = max((len(c.model_id) for c in settings.models.values()), default=0)
    for alias, cfg in settings.models.items():
        text, retired = lifecycle_line(cfg, settings.region)
        ok = ok and not retired
        line = f"  {alias:<{alias_w}}  {cfg.model_id:<{id_w}}  {text}"
        if ping:
            line += f"  {live_lifecycle(factory, cfg, settings.region)}"
            status, detail = _ping(factory, alias)
            ok = ok and status
            line += f"  {'OK' if status else 'FAIL'} {detail}"
        lines.append(line)
        if catalogue.prompt_router(cfg.model_id) is not None:
            routed, detail = router_models(factory, cfg, settings.region)
            ok = ok and routed
            lines.append(f"  {'':<{alias_w}}  prompt router: {detail}")
    return "\n".join(lines), ok


def lifecycle_line(cfg: Any, region: str) -> Tuple[str, bool]:
    """The model's lifecycle in ``region`` from the catalogue (no network), and whether it is past end of life."""
    import chains.catalogue as catalogue

    state = catalogue.lifecycle(cfg.model_id, region)
    if state is None and catalogue.prompt_router(cfg.model_id) is not None:
        return "lifecycle: per model (a Bedrock prompt router; figures: its models' smallest limits, dearest price)", False
    if state is None:
        return "lifecycle: unknown (not in the model catalogue; figures from config.yaml)", False
    after = catalogue.successor(cfg.model_id)
    then = f"; successor {after}" if after else ""
    if state.status == catalogue.END_OF_LIFE:
        when = f" since {state.eol_date}" if state.eol_date else ""
        env = f"set {cfg.model_id_env}" if cfg.model_id_env else "change its model_id"
        return f"lifecycle: END OF LIFE in {region}{when}{then} ({env})", True
    if state.status == catalogue.LEGACY:
        when = f", end of life {state.eol_date}" if state.eol_date else ""
        return f"lifecycle: legacy in {region}{when}{then}", False
    return f"lifecycle: active in {region}", False


def base_model_id(cfg: Any) -> str:
    """The foundation model behind a configured id: an application profile's resolved base, a catalogued
    profile's or ARN's base model, else the id without a geography prefix or ARN path."""
    import chains.catalogue as catalogue

    if getattr(cfg, "base_model_id", None):
        return cfg.base_model_id
    e = catalogue.entry(cfg.model_id)
    if e is not None:
        return e.id
    bare = str(cfg.model_id).rsplit("/", 1)[-1]
    head, _, rest = bare.partition(".")
    return rest if rest and head in ("us", "eu", "apac", "global", "us-gov", "ca", "jp", "au") else bare


def live_lifecycle(factory: Any, cfg: Any, region: str) -> str:
    """Bedrock's own lifecycle of the model behind ``cfg`` in ``region`` (``GetFoundationModel``), beside the
    catalogue's: ``live: ACTIVE`` / ``live: LEGACY`` / ``live: not found (...)`` (an end-of-life model is no
    longer found in that region). https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetFoundationModel.html"""
    import chains.catalogue as catalogue

    if catalogue.prompt_router(cfg.model_id) is not None:
        return "live: per model (the router's models below)"
    base = base_model_id(cfg)
    try:
        details = factory.control_client(cfg.region or region).get_foundation_model(
            modelIdentifier=base)["modelDetails"]
    except Exception as exc:  # a plain-words line, never a traceback
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        if code == "ResourceNotFoundException":
            return f"live: not found in {cfg.region or region} (retired or not offered there)"
        return f"live: unknown ({code})"
    return f"live: {(details.get('modelLifecycle') or {}).get('status', 'unknown')}"


def router_models(factory: Any, cfg: Any, region: str) -> Tuple[bool, str]:
    """A prompt router alias's models and fallback, as Bedrock describes the router (``GetPromptRouter``).
    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetPromptRouter.html"""
    try:
        router = factory.control_client(cfg.region or region).get_prompt_router(promptRouterArn=cfg.model_id)
    except Exception as exc:  # a plain-words line, never a traceback
        code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
        return False, f"GetPromptRouter failed ({code}): {str(exc)[:200]}"
    models = [str(m.get("modelArn", "")).rsplit("/", 1)[-1] for m in router.get("models") or []]
    fallback = str((router.get("fallbackModel") or {}).get("modelArn", "")).rsplit("/", 1)[-1]
    quality = (router.get("routingCriteria") or {}).get("responseQualityDifference")
    return True, (f"{router.get('promptRouterName', '?')}: models {', '.join(models) or 'none'}; fallback "
                  f"{fallback or 'none'}; responseQualityDifference {quality}")


def config_problems(runtime: Any) -> List[str]:
    """Every configuration problem a request would meet: each section through ``section()``, each chain's
    strategy and strategy settings, each chain's prompt file (existence and validity)."""
    from chains.registry import get_chain

    settings = runtime.settings
    problems: List[str] = []
    for name, target in SECTIONS.items():
        module, _, attr = target.partition(":")
        try:
            section(settings, name, getattr(importlib.import_module(module), attr))
        except ChainsError as exc:
            problems.append(f"{name}: {exc.message}")
    available = set(runtime.prompts.names())
    for name, cfg in settings.chains.items():
        if cfg.prompt not in available:
            problems.append(f"chains.{name}: prompt file prompts/{cfg.prompt}.yaml not found in "
                            f"{runtime.prompts.folder} (available: {', '.join(sorted(available)) or 'none'})")
        try:
            get_chain(name, runtime).strategy_settings()
        except ChainsError as exc:
            problems.append(f"chains.{name}: {exc.message}")
    return problems


def _ping(factory: Any, alias: str) -> Tuple[bool, str]:
    import time

    from langchain_core.messages import HumanMessage

    start = time.perf_counter()
    try:
        model = factory.chat_model(alias, max_tokens=1)
        model.invoke([HumanMessage("ping")])
    except Exception as exc:  # every failure becomes a plain-words hint
        err = to_model_error(exc)
        return False, f"({err.code or type(exc).__name__}) hint: {hint_for(exc)}"
    return True, f"{(time.perf_counter() - start) * 1000:.0f} ms"
