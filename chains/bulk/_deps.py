"""Everything chains/bulk takes from the rest of the service, imported in this one place.

The bulk modules reuse the on-demand machinery (the router's decision, the prompt's messages, typed errors,
usage and prices, the config section helper) rather than re-implementing any of it; when a module moves, only
the imports below change.
"""

from __future__ import annotations

from chains.calls import message_text
from chains.config import cached_section
from chains.errors import (
    BadRequest,
    BudgetExceeded,
    BulkUnsupported,
    ChainsError,
    ConfigError,
    ModelCallError,
    RunNotReady,
    UnknownRun,
    batch_record_error,
    to_model_error,
)
from chains.registry import build_runtime, default_runtime, get_chain
from chains.routed import build_messages, with_domain_preamble
from chains.router import decide
from chains.tokens import estimate_messages, output_tokens
from chains.usage import EMPTY_USAGE, call_cost

__all__ = [
    "BadRequest", "BudgetExceeded", "BulkUnsupported", "ChainsError", "ConfigError", "EMPTY_USAGE",
    "ModelCallError", "RunNotReady", "UnknownRun", "batch_record_error", "build_messages", "build_runtime",
    "cached_section", "call_cost", "decide", "default_runtime", "estimate_messages", "get_chain", "message_text",
    "output_tokens", "to_model_error", "with_domain_preamble",
]
