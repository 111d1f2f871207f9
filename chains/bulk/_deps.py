"""Everything chains/bulk takes from the rest of the service, imported in this one place.

The bulk modules reuse the on-demand machinery (the router's decision, the prompt's messages, typed errors,
usage and prices, the config section helper) rather than re-implementing any of it; when a module moves, only
the imports below change.
"""

from __future__ import annotations

from chains.calls import message_text
from chains.chain import BedrockChain
from chains.compare import compare_settings
from chains.config import ChainConfig, cached_section
from chains.errors import (
    BadRequest,
    BudgetExceeded,
    BulkUnsupported,
    ChainsError,
    ConfigError,
    ModelCallError,
    RunNotReady,
    Unavailable,
    UnknownRun,
    batch_record_error,
    to_model_error,
)
from chains.judge import anonymise, derive_seed, label, render_request, shuffled_order, verdict_schema
from chains.options import parse_options
from chains.registry import build_runtime, default_runtime, get_chain
from chains.routed import build_messages, with_domain_preamble
from chains.router import decide
from chains.single import run as single_run
from chains.tokens import estimate_messages, output_tokens
from chains.usage import EMPTY_USAGE, call_cost



def bulk_state(runtime):  # type: ignore[no-untyped-def]
    """The runtime's per-process bulk state (clients, compare's per-model answer chains)."""
    return runtime.__dict__.setdefault("_bulk", {})


__all__ = [
    "BadRequest", "BedrockChain", "bulk_state", "BudgetExceeded", "BulkUnsupported", "ChainConfig", "ChainsError", "ConfigError",
    "EMPTY_USAGE", "ModelCallError", "RunNotReady", "Unavailable", "UnknownRun", "anonymise", "batch_record_error",
    "build_messages", "build_runtime", "cached_section", "call_cost", "compare_settings", "decide",
    "default_runtime", "derive_seed", "estimate_messages", "get_chain", "label", "message_text", "output_tokens",
    "parse_options", "render_request", "shuffled_order", "single_run", "to_model_error", "verdict_schema",
    "with_domain_preamble",
]
