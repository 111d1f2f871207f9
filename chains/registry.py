"""Chain names to Runnables, built from the configuration on first use and cached per configuration."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from chains.chain import BedrockChain, Strategy
from chains.config import Settings, load_config
from chains.errors import ConfigError, UnknownChain
from chains.prompts import PromptLibrary
from chains.runtime import Runtime

# strategy name -> "module:StrategySpec". Imported on first use, so a chain's dependencies (text splitters,
# langgraph ...) cost nothing to a process that never runs it.
STRATEGIES: Dict[str, str] = {
    "single": "chains.strategies.single:SINGLE",
    "routed": "chains.strategies.routed:ROUTED",
    "fallback": "chains.strategies.routed:FALLBACK",  # routed's functions, declaring the configured order
    "map_reduce": "chains.strategies.map_reduce:MAP_REDUCE",
    "chat": "chains.strategies.chat:CHAT",
    "compare": "chains.strategies.compare.compare:COMPARE",
    "agent": "chains.strategies.agent:AGENT",
}

_default_runtime: Optional[Runtime] = None
_default_lock = threading.Lock()


def build_runtime(
    config: Union[None, str, Path, Mapping[str, Any], Settings] = None,
    *,
    backend: Optional[str] = None,
    region: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    emulator: Any = None,
    notice: bool = True,
) -> Runtime:
    """A new runtime: configuration, one model factory (clients, models) and the prompt library."""
    from chains.models import ModelFactory

    settings = load_config(config, backend=backend, region=region, env=env, defer_profiles=True)
    factory = ModelFactory(settings, env=env, emulator=emulator, notice=notice)
    pending = {m.model_id: m.region or settings.region for m in settings.models.values() if m.profile_pending}
    if pending:
        # Application inference profile ARNs: their base models from Bedrock, once for this runtime (container).
        from chains.profiles import resolve_bases

        bases: Dict[str, str] = {}
        for arn, where in pending.items():
            bases.update(resolve_bases([arn], factory.control_client(where)))
        settings = load_config(config, backend=backend, region=region, env=env, profile_bases=bases)
        factory.settings = settings
    prompts = PromptLibrary(settings.prompts_path())
    return Runtime(settings=settings, factory=factory, prompts=prompts, chain_builder=get_chain)


def default_runtime() -> Runtime:
    """The process-wide runtime from ``config.yaml`` and the environment, built on first use."""
    global _default_runtime
    with _default_lock:
        if _default_runtime is None:
            _default_runtime = build_runtime()
        return _default_runtime


def reset_default_runtime() -> None:
    """Forget the process-wide runtime (tests; or after changing the environment in a notebook)."""
    global _default_runtime
    with _default_lock:
        _default_runtime = None


def strategy(name: str) -> Strategy:
    """The strategy called ``name`` (imported on first use); ``ConfigError`` lists the implemented ones."""
    target = STRATEGIES.get(name)
    if target is None:
        raise ConfigError(f"strategy '{name}' is not implemented (available: {', '.join(sorted(STRATEGIES))})")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_chain(name: str, runtime: Optional[Runtime] = None) -> BedrockChain:
    """The chain called ``name`` as a Runnable; ``UnknownChain`` (404) lists the configured ones."""
    runtime = runtime or default_runtime()
    chain = runtime.chains.get(name) if isinstance(name, str) else None
    if chain is None:
        if not isinstance(name, str) or name not in runtime.settings.chains:
            raise UnknownChain(str(name)[:80], list_chains(runtime))
        cfg = runtime.settings.chains[name]
        chain = BedrockChain(name, cfg, runtime, strategy(cfg.strategy))
        # Before any request of this chain starts its deadline: the imports its first model call needs.
        runtime.factory.warm()
        with runtime.lock:
            chain = runtime.chains.setdefault(name, chain)
    return chain


def list_chains(runtime: Optional[Runtime] = None) -> List[str]:
    runtime = runtime or default_runtime()
    return sorted(runtime.settings.chains)


def describe_chains(runtime: Optional[Runtime] = None) -> List[Dict[str, Any]]:
    runtime = runtime or default_runtime()
    out = []
    for name in list_chains(runtime):
        cfg = runtime.settings.chains[name]
        out.append({"name": name, "strategy": cfg.strategy, "prompt": cfg.prompt, "description": cfg.description})
    return out
