"""AWS Lambda entry point and command-line interface for Bedrock Chains.

Lambda:  handler.lambda_handler(event, context)
   - a direct event  {"chain": NAME, "input": {...}, "options": {...}}  -> the response dict
   - a Function URL / API Gateway (v1, v2) event whose body is that JSON -> {"statusCode", "headers", "body"}
CLI:     python handler.py EVENT.json | -        print the response JSON (exit 0 if ok, 1 if not)
         python handler.py --list                 the chains
         python handler.py --check [--ping]       backend, region, credentials source, endpoint, model health
"""

from __future__ import annotations

import base64
import json
import logging
import os
import sys
import time
import uuid
from typing import Any, Dict, Mapping, Optional, Tuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError


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

import chains  # noqa: E402  (after the deferral above)
from chains import observability  # noqa: E402
from chains.errors import BadRequest, ChainsError  # noqa: E402

logger = logging.getLogger("bedrock_chains.handler")

# Time kept back from Lambda's remaining time, to build and return the error before Lambda kills us.
DEADLINE_RESERVE_MS = 500
JSON_HEADERS = {"content-type": "application/json"}


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chain: str = Field(min_length=1, max_length=128)
    input: Dict[str, Any] = Field(default_factory=dict)
    options: Optional[Dict[str, Any]] = None


def _is_http_event(event: Mapping[str, Any]) -> bool:
    return "requestContext" in event or "httpMethod" in event or "rawPath" in event or "routeKey" in event


def _http_body(event: Mapping[str, Any]) -> Any:
    body = event.get("body")
    if body is None or body == "":
        raise BadRequest("the request body is empty; send the event JSON as the body", field="body")
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the request body is not valid base64-encoded UTF-8", field="body") from None
    if isinstance(body, (dict, list)):
        return body
    try:
        return json.loads(body)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}", field="body") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply", field="body") from None


def _parse_event(raw: Any) -> Event:
    if not isinstance(raw, Mapping):
        raise BadRequest(f"the event must be a JSON object, got {type(raw).__name__}", field="event")
    try:
        return Event.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            name = ".".join(str(p) for p in e["loc"]) or "event"
            if e["type"] == "extra_forbidden":
                problems.append(f"unknown field '{name}' (expected: chain, input, options)")
            else:
                problems.append(f"{name}: {e['msg']}")
        raise BadRequest("invalid event: " + "; ".join(problems), field="event") from None


def _deadline_options(options: Optional[Dict[str, Any]], context: Any) -> Optional[Dict[str, Any]]:
    """Cap options.timeout_ms by what Lambda has left, so a clean 504 beats Lambda's hard kill."""
    remaining = None
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if callable(getter):
        try:
            remaining = int(getter()) - DEADLINE_RESERVE_MS
        except (TypeError, ValueError):
            remaining = None
    if remaining is None:
        return options
    options = dict(options or {})
    given = options.get("timeout_ms")
    cap = max(1, remaining)
    options["timeout_ms"] = min(given, cap) if isinstance(given, int) and not isinstance(given, bool) and given > 0 else cap
    return options


def handle(event: Any, context: Any = None, runtime: Any = None) -> Tuple[int, Dict[str, Any]]:
    """Run one event; returns (status code, response dict). Never raises.

    Observability (chains/observability.py): every log line of the request carries its request id, chain and
    cold-start flag; request, route, fallbacks and result are logged and measured (EMF) from the response;
    credentials are masked in the response and in every log line.
    """
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    scope = observability.start_request(request_id, context, runtime)
    status, body = _handle(event, context, runtime, request_id, scope)
    return status, scope.finish(status, body)


def _handle(event: Any, context: Any, runtime: Any, request_id: str, scope: Any) -> Tuple[int, Dict[str, Any]]:
    started = time.perf_counter()
    chain_name: Optional[str] = None
    try:
        if scope.config_error is not None:
            raise scope.config_error
        is_http = isinstance(event, Mapping) and _is_http_event(event)
        raw = _http_body(event) if is_http else event
        parsed = _parse_event(raw)
        chain_name = parsed.chain
        scope.log_request(parsed.chain, parsed.input, parsed.options, "http" if is_http else "direct")
        chain = chains.get_chain(parsed.chain, runtime)
        scope.set_chain(parsed.chain)
        payload = dict(parsed.input)
        if "options" in payload:
            raise BadRequest("put options in the event's 'options', not inside 'input'", field="input.options")
        options = _deadline_options(parsed.options, context)
        if options is not None:
            payload["options"] = options
        result = chain.invoke(payload, config={"metadata": {"request_id": request_id}, "run_name": parsed.chain,
                                               "callbacks": scope.callbacks})
        response = {"ok": True, "chain": parsed.chain, **result, "request_id": request_id}
        return 200, response
    except ChainsError as exc:
        status = exc.status  # logged by scope.finish
        error = {**exc.to_dict(), "status": status}
        body: Dict[str, Any] = {"ok": False, "error": error, "request_id": request_id}
        if chain_name:
            body["chain"] = chain_name
        if status == 500:
            # A configuration problem is ours, not the caller's: say so without internals.
            body["error"] = {"type": exc.type, "message": exc.message, "status": 500}
        return status, body
    except Exception:  # a bug: the traceback goes to the log, never into the response
        logger.exception("unhandled error", extra={"event": "unhandled_error"})
        return 500, {
            "ok": False,
            "error": {"type": "InternalError", "message": "internal error; see the logs for this request id",
                      "status": 500},
            "request_id": request_id,
            **({"chain": chain_name} if chain_name else {}),
            "latency_ms": round((time.perf_counter() - started) * 1000.0, 1),
        }


def lambda_handler(event: Any, context: Any) -> Dict[str, Any]:
    status, body = handle(event, context)
    if isinstance(event, Mapping) and _is_http_event(event):
        return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": json.dumps(body, default=str)}
    return body


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


# --- CLI ------------------------------------------------------------------------------------------------------


def _read_event(path: str) -> Any:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    return json.loads(text)


def main(argv: Optional[list] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python handler.py", description="Run a Bedrock Chains event.")
    parser.add_argument("event", nargs="?", help="event JSON file, or - for stdin")
    parser.add_argument("--list", action="store_true", help="list the chains")
    parser.add_argument("--check", action="store_true", help="report backend, region, credentials, endpoint")
    parser.add_argument("--ping", action="store_true", help="with --check: send a one-token request to each model")
    parser.add_argument("--format", choices=["json", "table"], default="json", help="output format")
    args = parser.parse_args(argv)

    _load_dotenv()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # Logs and metrics go to stderr, readable: stdout carries only the response JSON. Other libraries'
    # warnings (root handler) are masked too.
    observability.force_local()
    from chains.redaction import RedactionFilter

    for root_handler in logging.root.handlers:
        root_handler.addFilter(RedactionFilter())

    if args.list:
        try:
            for item in chains.describe_chains():
                print(f"{item['name']:<12} {item['strategy']:<11} prompt={item['prompt']}  {item['description']}")
        except ChainsError as exc:
            print(json.dumps({"ok": False, "error": exc.to_dict()}, indent=2))
            return 1
        return 0
    if args.check:
        from chains.check import run_check

        report, ok = run_check(ping=args.ping)
        print(report)
        return 0 if ok else 1
    if not args.event:
        parser.print_usage(sys.stderr)
        return 2
    try:
        event = _read_event(args.event)
    except OSError as exc:
        print(json.dumps({"ok": False, "error": {"type": "BadRequest", "message": f"cannot read {args.event}: {exc.strerror}", "status": 400}}, indent=2))
        return 1
    except (ValueError, RecursionError) as exc:
        print(json.dumps({"ok": False, "error": {"type": "BadRequest", "message": f"{args.event} is not valid JSON: {exc}", "status": 400}}, indent=2))
        return 1
    status, body = handle(event, _CliContext())
    if args.format == "table":
        from chains.report import render_table

        print(render_table(body))
    else:
        print(json.dumps(body, indent=2, ensure_ascii=False, default=str))
    return 0 if body.get("ok") else 1


class _CliContext:
    """No Lambda deadline on the command line."""

    aws_request_id = None


def _load_dotenv() -> None:
    """Local runs read ``.env`` (never required; on Lambda the environment comes from the function)."""
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover
        return
    load_dotenv(override=False)


if __name__ == "__main__":
    sys.exit(main())
