"""Chain names to Runnables, built from the configuration on first use and cached per configuration."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from chains.chain import BedrockChain, Runtime
from chains.config import Settings, load_config
from chains.errors import ConfigError, UnknownChain
from chains.prompts import PromptLibrary

# strategy name -> "module:function". Imported on first use, so a chain's dependencies (text splitters,
# langgraph ...) cost nothing to a process that never runs it.
STRATEGIES: Dict[str, str] = {
    "single": "chains.single:run",
    "routed": "chains.routed:run",
    "fallback": "chains.routed:run",  # same function: the chain's strategy tells the router to keep config order
    "map_reduce": "chains.mapreduce:run",
    "chat": "chains.chat:run",
    "compare": "chains.compare:run",
    "agent": "chains.agent:run",
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

    settings = load_config(config, backend=backend, region=region, env=env)
    factory = ModelFactory(settings, env=env, emulator=emulator, notice=notice)
    prompts = PromptLibrary(settings.prompts_path())
    return Runtime(settings=settings, factory=factory, prompts=prompts)


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


def _strategy(name: str) -> Any:
    target = STRATEGIES.get(name)
    if target is None:
        raise ConfigError(f"strategy '{name}' is not implemented (available: {', '.join(sorted(STRATEGIES))})")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_chain(name: str, runtime: Optional[Runtime] = None) -> BedrockChain:
    """The chain called ``name`` as a Runnable; ``UnknownChain`` (404) lists the configured ones."""
    runtime = runtime or default_runtime()
    cache: Dict[str, BedrockChain] = runtime.__dict__.setdefault("_chains", {})
    chain = cache.get(name)
    if chain is None:
        if not isinstance(name, str) or name not in runtime.settings.chains:
            raise UnknownChain(str(name)[:80], list_chains(runtime))
        cfg = runtime.settings.chains[name]
        chain = cache[name] = BedrockChain(name, cfg, runtime, _strategy(cfg.strategy))
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
