"""Bedrock Chains: several AWS Bedrock models behind one small LangChain interface.

    from chains import get_chain, list_chains
    get_chain("qa").invoke({"question": "What is Bedrock?"})

Importing this package has no side effects: no network, no clients, no logging configuration, and the
environment is read only when a chain is first built. The exception tree is documented in ``chains.errors``;
the layout of the package in ``docs/architecture.md``. ``__all__`` is the public API (checked by
``tests/unit/test_public_api.py``); everything else is importable from its module but may move.
"""

from chains.config import Settings, load_config
from chains.errors import (
    AllModelsFailed,
    BadRequest,
    BudgetExceeded,
    ChainsError,
    ConfigError,
    ContentFiltered,
    ContextOverflow,
    DeadlineExceeded,
    InputTooLarge,
    MissingVariables,
    ModelCallError,
    ModelClientError,
    ModelUnusable,
    PinnedModelUnsuitable,
    PromptError,
    StreamInterrupted,
    Throttled,
    Unavailable,
    UnknownChain,
    UnknownModel,
    UnsupportedAttachment,
)
from chains.registry import build_runtime, describe_chains, get_chain, list_chains, reset_default_runtime
from chains.routing.decision import Router

__all__ = [
    "AllModelsFailed",
    "BadRequest",
    "BudgetExceeded",
    "ChainsError",
    "ConfigError",
    "ContentFiltered",
    "ContextOverflow",
    "DeadlineExceeded",
    "InputTooLarge",
    "MissingVariables",
    "ModelCallError",
    "ModelClientError",
    "ModelUnusable",
    "PinnedModelUnsuitable",
    "PromptError",
    "Router",
    "Settings",
    "StreamInterrupted",
    "Throttled",
    "Unavailable",
    "UnknownChain",
    "UnknownModel",
    "UnsupportedAttachment",
    "build_runtime",
    "describe_chains",
    "get_chain",
    "list_chains",
    "load_config",
    "reset_default_runtime",
]
