"""The service: one event in, ``(status, body)`` out. Parsing (direct, Function URL, API Gateway v1/v2),
the deadline cap from Lambda's remaining time, the request scope (logs, metrics, traces) and the envelope.

``handler.py`` is only the Lambda entry around ``handle``; the CLI (``chains.cli``) calls it too.
"""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
import base64
import json
import logging
import time
import uuid
from typing import Any, Dict, Mapping, Optional, Tuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chains.errors import BadRequest, ChainsError
from chains.observability.scope import start_request
from chains.registry import default_runtime, get_chain

logger = logging.getLogger(__name__)

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
    if not isinstance(raw, abc.Mapping):
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

    Observability (chains.observability): every log line of the request carries its request id, chain and
    cold-start flag; request, route, fallbacks and result are logged and measured (EMF) from the response;
    credentials are masked in the response and in every log line.
    """
    request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
    if runtime is None:
        try:
            runtime = default_runtime()
        except ChainsError:
            runtime = None  # the same error comes back from get_chain, in the request's normal error path
    scope = start_request(request_id, context, runtime)
    status, body = _handle(event, context, runtime, request_id, scope)
    return status, scope.finish(status, body)


def _handle(event: Any, context: Any, runtime: Any, request_id: str, scope: Any) -> Tuple[int, Dict[str, Any]]:
    started = time.perf_counter()
    chain_name: Optional[str] = None
    try:
        if scope.config_error is not None:
            raise scope.config_error
        is_http = isinstance(event, abc.Mapping) and _is_http_event(event)
        raw = _http_body(event) if is_http else event
        if isinstance(raw, Mapping) and "bulk" in raw:  # a bulk run step (chains/bulk/events.py)
            return _bulk(raw, is_http, context, runtime, request_id, scope)
        parsed = _parse_event(raw)
        chain_name = parsed.chain
        scope.log_request(parsed.chain, parsed.input, parsed.options, "http" if is_http else "direct")
        chain = get_chain(parsed.chain, runtime)
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
        scope.ensure_keys()
        logger.exception("unhandled error", extra={"event": "unhandled_error"})
        return 500, {
            "ok": False,
            "error": {"type": "InternalError", "message": "internal error; see the logs for this request id",
                      "status": 500},
            "request_id": request_id,
            **({"chain": chain_name} if chain_name else {}),
            "latency_ms": round((time.perf_counter() - started) * 1000.0, 1),
        }


def _bulk(raw: Mapping[str, Any], is_http: bool, context: Any, runtime: Any, request_id: str,
          scope: Any) -> Tuple[int, Dict[str, Any]]:
    """``{"bulk": "submit" | "status" | "collect" | ...}``: a step of a bulk run (the state machine's tasks)."""
    if is_http:
        raise BadRequest("bulk events are taken from direct invocations (Step Functions, aws lambda invoke), "
                         "not over the Function URL", field="bulk")
    from chains.bulk.events import handle_bulk

    chain = raw.get("chain") if isinstance(raw.get("chain"), str) else None
    scope.log_request(chain or "bulk", {}, None, f"bulk:{str(raw.get('bulk'))[:20]}")
    remaining = None
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if callable(getter):
        try:
            remaining = int(getter())
        except (TypeError, ValueError):
            remaining = None
    return 200, {**handle_bulk(raw, runtime, remaining_ms=remaining), "request_id": request_id}


def lambda_response(event: Any, status: int, body: Dict[str, Any]) -> Any:
    """What Lambda returns: the body for direct events, an HTTP response for Function URL / API Gateway."""
    if isinstance(event, abc.Mapping) and _is_http_event(event):
        return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": json.dumps(body, default=str)}
    return body
