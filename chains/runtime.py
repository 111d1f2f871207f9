"""``Runtime``: everything the chains of one configuration share, declared here and nowhere else.

Built by ``chains.registry.build_runtime``. Other modules read these fields; none adds attributes of its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from chains.calls.cooldown import Cooldown
from chains.calls.retired import Retired
from chains.config import Settings
from chains.prompts import PromptLibrary

if TYPE_CHECKING:  # imported for types only: no import circle
    from chains.chain import BedrockChain
    from chains.models import ModelFactory
    from chains.routing.settings import CompiledRules
    from chains.strategies.compare.storage import ComparisonStore


@dataclass(eq=False)
class Runtime:
    """What all chains of one configuration share: settings, model factory, prompt library, and the
    per-process state built from them on first use."""

    settings: Settings
    factory: "ModelFactory"
    prompts: PromptLibrary
    # get_chain for chains that use other chains (the agent's tools); set by the registry.
    chain_builder: Optional[Callable[[str, "Runtime"], "BedrockChain"]] = None
    chains: Dict[str, "BedrockChain"] = field(default_factory=dict)  # built chains by name
    cooldown: Cooldown = field(default_factory=Cooldown)  # models cooling down after a failure
    retired: Retired = field(default_factory=Retired)  # models Bedrock retired (end of life), for the container
    router_rules: Optional["CompiledRules"] = None  # the router section, compiled (chains.routing)
    comparison_store: Optional["ComparisonStore"] = None  # compare's S3 copies (chains.strategies.compare)
    # chains.bulk's per-process state: its S3 and control-plane clients, compare's per-model answer chains.
    bulk: Dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def chain(self, name: str) -> "BedrockChain":
        """Another chain of this runtime by name (``UnknownChain`` lists the configured ones)."""
        if self.chain_builder is None:
            raise RuntimeError("this runtime was not built by chains.registry.build_runtime")
        return self.chain_builder(name, self)
