"""AWS Lambda entry point and command-line interface for Bedrock Chains.

Lambda:  handler.lambda_handler(event, context)
   - a direct event  {"chain": NAME, "input": {...}, "options": {...}}  -> the response dict
   - a Function URL / API Gateway (v1, v2) event whose body is that JSON -> {"statusCode", "headers", "body"}
CLI:     python handler.py ...   the same as the ``bedrock-chains`` console script (``chains.cli.main``)

The service itself (parsing, deadline, envelope) is ``chains.service``; this file is only the Lambda entry.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, Optional


def _defer_langsmith_types() -> None:
    """Cold start: do not run ``langsmith.types/__init__`` (~160 generated API models, ~0.2 s) until used.

    langchain-core's tracers import langsmith, whose run_trees needs one ``Literal`` alias from
    ``langsmith.types.run_select_field``; importing that submodule runs the package ``__init__``, which imports
    every API type. The package module is registered un-run, its ``__path__`` set so submodules import as usual,
    and its ``__init__`` runs on the first attribute it does not have yet (only LangSmith API calls need
    them). A no-op when langsmith is missing or ``langsmith.types`` is already imported. No network, no clients.
    (benchmarks/cold_start.py measures the effect.)
    """
    if "langsmith.types" in sys.modules:
        return
    import importlib.util
    import threading

    try:
        spec = importlib.util.find_spec("langsmith.types")
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = importlib.util.module_from_spec(spec)
    lock, state = threading.RLock(), {"loaded": False}

    def __getattr__(name: str) -> Any:
        with lock:
            if not state["loaded"]:
                state["loaded"] = True
                spec.loader.exec_module(module)
        try:
            return module.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'langsmith.types' has no attribute {name!r}") from None

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules["langsmith.types"] = module
    setattr(sys.modules["langsmith"], "types", module)


_defer_langsmith_types()

from chains.service import handle, lambda_response  # noqa: E402,F401  (after the deferral above)


def lambda_handler(event: Any, context: Any) -> Dict[str, Any]:
    status, body = handle(event, context)
    return lambda_response(event, status, body)


def _prime_for_snapshot() -> None:
    """SnapStart: the snapshot is taken once init is done, so import now what the first request needs.

    Imports only: a client, a connection or credentials made here would be restored into every copy of the
    snapshot. Without SnapStart the same imports happen on the first request instead (as cheap overall).
    """
    import importlib

    import langchain_aws  # noqa: F401  (ChatBedrockConverse, langchain-core, boto3, botocore)
    from chains.registry import STRATEGIES

    for target in STRATEGIES.values():
        importlib.import_module(target.partition(":")[0])


if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
    _prime_for_snapshot()


def main(argv: Optional[list] = None) -> int:
    from chains.cli import main as cli_main

    return cli_main(argv, prog="python handler.py")


if __name__ == "__main__":
    sys.exit(main())
