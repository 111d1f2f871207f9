"""Everything chains/bulk takes from the rest of the service, imported in this one place.

The bulk modules reuse the on-demand machinery (the router's decision, the prompt's messages, typed errors,
usage and prices, max_tokens resolution, the config section helper, the compare judge's pieces) rather than
re-implementing any of it; when a module moves, only the imports below change.
"""

from __future__ import annotations

from chains.attachments import build_messages
from chains.calls.call import message_text
from chains.chain import BedrockChain
from chains.config import ChainConfig, section
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
from chains.limits import output_reserve, requested_max_tokens
from chains.options import parse_options
from chains.registry import build_runtime, default_runtime, get_chain
from chains.routing.decision import decide
from chains.strategies.compare.compare import compare_settings
from chains.strategies.compare.judge import (
    anonymise,
    derive_seed,
    label,
    render_request,
    shuffled_order,
    verdict_schema,
)
from chains.strategies.routed import with_domain_preamble
from chains.strategies.single import SINGLE as single_strategy
from chains.tokens.estimator import estimate_messages
from chains.usage import EMPTY_USAGE, call_cost



def bulk_state(runtime):  # type: ignore[no-untyped-def]
    """The runtime's per-process bulk state (``Runtime.bulk``: clients, compare's per-model answer chains)."""
    return runtime.bulk


__all__ = [
    "BadRequest", "BedrockChain", "bulk_state", "BudgetExceeded", "BulkUnsupported", "ChainConfig", "ChainsError",
    "ConfigError",
    "EMPTY_USAGE", "ModelCallError", "RunNotReady", "Unavailable", "UnknownRun", "anonymise", "batch_record_error",
    "build_messages", "build_runtime", "call_cost", "compare_settings", "decide", "default_runtime", "derive_seed",
    "estimate_messages", "get_chain", "label", "message_text", "output_reserve", "parse_options",
    "render_request", "requested_max_tokens", "section", "shuffled_order", "single_strategy", "to_model_error",
    "verdict_schema", "with_domain_preamble",
]
