"""The service: one event in, ``(status, body)`` out. Parsing (direct, Function URL, API Gateway v1/v2),
the deadline cap from Lambda's remaining time, the request scope (logs, metrics, traces) and the envelope.

``handler.py`` is only the Lambda entry around ``handle``; the CLI (``chains.cli``) calls it too.
"""

from __future__ import annotations

import base64
import json
import re
import logging
import time
import uuid
from typing import Any, Dict, Mapping, Optional, Tuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

import chains.deadline as deadline
from chains.echo import clip
from chains.errors import BadRequest, ChainsError, ConfigError, InputTooLarge
from chains.observability.scope import start_request
from chains.options import parse_options
from chains.registry import default_runtime, get_chain

logger = logging.getLogger(__name__)

# Time kept back from Lambda's remaining time, to build and return the error before Lambda kills us.
DEADLINE_RESERVE_MS = 500
JSON_HEADERS = {"content-type": "application/json"}
# The largest event accepted (bytes of its JSON): Lambda's own limit for a synchronous invocation's payload
# (6 MB), so a request the CLI or an in-process caller sends is refused exactly where Lambda would refuse it,
# and before any per-field work. Above it: 413.
MAX_EVENT_BYTES = 6 * 1024 * 1024


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
    if not isinstance(body, str):
        raise BadRequest("the request body must be JSON text", field="body")
    _check_size(len(body))
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except BadRequest:
        raise
    except (TypeError, ValueError) as exc:
        # Where, not Python's wording of what: the caller can act on a line and column.
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequest(f"the request body is not valid JSON{where}", field="body") from None
    except RecursionError:
        raise BadRequest("the request body is nested too deeply", field="body") from None


def _refuse_constant(name: str) -> Any:
    """``NaN``, ``Infinity``, ``-Infinity``: Python's json reads them, strict JSON (RFC 8259) has no such numbers."""
    raise BadRequest(f"the request body contains {name}, which is not a JSON number", field="body")


def _check_size(size: int) -> None:
    if size > MAX_EVENT_BYTES:
        raise InputTooLarge(f"the event is {size:,} bytes; at most {MAX_EVENT_BYTES:,} are accepted",
                            limit_bytes=MAX_EVENT_BYTES)


def _direct_event_size(event: Any) -> None:
    """A direct event's size as JSON (Lambda has measured it already; an in-process caller has not)."""
    try:
        size = len(json.dumps(event, default=str, allow_nan=True))
    except (TypeError, ValueError, RecursionError):
        return  # not JSON-like: _parse_event says what is wrong with it
    _check_size(size)


def _parse_event(raw: Any) -> Event:
    if not isinstance(raw, Mapping):
        raise BadRequest(f"the event must be a JSON object ({{\"chain\": ..., \"input\": {{...}}}}), got "
                         f"{_json_type(raw)}", field="event")
    try:
        return Event.model_validate(dict(raw))
    except ValidationError as exc:
        problems = []
        for e in exc.errors()[:10]:
            name = clip(".".join(str(p) for p in e["loc"]) or "event")
            if e["type"] == "extra_forbidden":
                problems.append(f"unknown field '{name}' (expected: chain, input, options)")
            else:
                problems.append(f"{name}: {e['msg']}")
        raise BadRequest("invalid event: " + "; ".join(problems), field="event") from None


def _json_type(value: Any) -> str:
    """The JSON name of a value's type (the caller wrote JSON, not Python)."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    return "a value of another type"


def lambda_deadline(context: Any, entry: float) -> Optional[float]:
    """The absolute deadline Lambda gives this request (``entry`` + remaining time - the reserve), or None."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(getter):
        return None
    try:
        remaining = float(getter())
    except (TypeError, ValueError):
        return None
    if remaining != remaining:  # NaN
        return None
    return entry + max(1.0, remaining - DEADLINE_RESERVE_MS) / 1000.0


def _deadline_options(options: Optional[Dict[str, Any]], request_deadline: Optional[float],
                      entry: float) -> Optional[Dict[str, Any]]:
    """The request's deadline stated as its ``timeout_ms`` from the entry (Lambda's time caps the caller's)."""
    if request_deadline is None:
        return options
    options = dict(options or {})
    options["timeout_ms"] = max(1, int((request_deadline - entry) * 1000.0))
    return options


def handle(event: Any, context: Any = None, runtime: Any = None) -> Tuple[int, Dict[str, Any]]:
    """Run one event; returns (status code, response dict). Never raises.

    The request's absolute deadline (``chains.deadline``) is read first, before any configuration, client or
    import is built, so all of that counts against it; the tracing flush at the end gets what is left.

    Observability (chains.observability): every log line of the request carries its request id, chain and
    cold-start flag; request, route, fallbacks and result are logged and measured (EMF) from the response;
    credentials are masked in the response and in every log line.
    """
    entry = time.perf_counter()
    with deadline.scope(lambda_deadline(context, entry)):
        request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
        config_error: Optional[ChainsError] = None
        if runtime is None:
            try:
                runtime = default_runtime()
            except ChainsError as exc:
                runtime, config_error = None, exc  # reported as this request's error
            except Exception:  # a configuration failure that is not typed yet must not escape either
                logger.exception("configuration could not be loaded", extra={"event": "config_error",
                                                                             "request_id": request_id})
                runtime, config_error = None, ConfigError("the configuration could not be loaded; see the logs")
        scope = start_request(request_id, context, runtime)
        if config_error is not None and scope.config_error is None:
            scope.config_error = config_error
        status, body = _handle(event, context, runtime, request_id, scope, entry)
        return status, scope.finish(status, body)


def _handle(event: Any, context: Any, runtime: Any, request_id: str, scope: Any,
            entry: float) -> Tuple[int, Dict[str, Any]]:
    started = time.perf_counter()
    chain_name: Optional[str] = None
    try:
        if scope.config_error is not None:
            raise scope.config_error
        is_http = isinstance(event, Mapping) and _is_http_event(event)
        if not is_http:
            _direct_event_size(event)
        raw = _http_body(event) if is_http else event
        if isinstance(raw, Mapping) and "bulk" in raw:  # a bulk run step (chains/bulk/events.py)
            return _bulk(raw, is_http, context, runtime, request_id, scope)
        parsed = _parse_event(raw)
        chain_name = parsed.chain
        scope.log_request(parsed.chain, parsed.input, parsed.options, "http" if is_http else "direct")
        if "options" in parsed.input:
            raise BadRequest("put options in the event's 'options', not inside 'input'", field="input.options")
        # Options are validated first (an invalid timeout_ms is a 400, never replaced by Lambda's time), then
        # the request's deadline is the earlier of Lambda's and the caller's, both counted from the entry.
        timeout_ms = parse_options(parsed.options).timeout_ms if parsed.options is not None else None
        request_deadline = deadline.earliest(deadline.current(), deadline.after_ms(timeout_ms, entry))
        options = _deadline_options(parsed.options, request_deadline, entry)
        scope.deadline_at = request_deadline
        with deadline.scope(request_deadline):
            chain = get_chain(parsed.chain, runtime)
            scope.set_chain(parsed.chain)
            payload = dict(parsed.input)
            if options is not None:
                payload["options"] = options
            result = chain.invoke(payload, config={"metadata": {"request_id": request_id},
                                                   "run_name": parsed.chain, "callbacks": scope.callbacks})
        response = {"ok": True, "chain": parsed.chain, **result, "request_id": request_id}
        return 200, response
    except ChainsError as exc:
        status = exc.status  # logged by scope.finish
        error = {**exc.to_dict(), "status": status}
        body: Dict[str, Any] = {"ok": False, "error": error, "request_id": request_id}
        if chain_name:
            body["chain"] = chain_name
        if status == 500:
            # A configuration problem is ours, not the caller's: say so without internals (the path, the
            # parser's excerpt); the full message goes to the log with the request id.
            logger.error("configuration error: %s", clip(exc.message, 2000),
                         extra={"event": "config_error", "error_type": exc.type, "request_id": request_id})
            body["error"] = {"type": exc.type, "message": public_config_message(exc), "status": 500}
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


_ABSOLUTE_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s:'\"]+)+[\\/]?")


def public_config_message(exc: ChainsError) -> str:
    """What a 500 body says about a configuration error: what is wrong (the file's name, the key), never an
    absolute path nor the parser's excerpt of the file (those go to the log with the request id)."""
    message = exc.message.split("\n", 1)[0]
    for cut in (": not valid YAML", ": cannot be read"):
        if cut in message:
            message = message[: message.index(cut) + len(cut)] + " (details in the log under this request id)"
    message = _ABSOLUTE_PATH.sub(lambda m: m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1],
                                 message)
    return clip(message, 300)


def _bulk(raw: Mapping[str, Any], is_http: bool, context: Any, runtime: Any, request_id: str,
          scope: Any) -> Tuple[int, Dict[str, Any]]:
    """``{"bulk": "submit" | "status" | "collect" | ...}``: a step of a bulk run (the state machine's tasks)."""
    if is_http:
        raise BadRequest("bulk events are taken from direct invocations (Step Functions, aws lambda invoke), "
                         "not over the Function URL", field="bulk")
    from chains.bulk.events import handle_bulk

    chain = raw.get("chain") if isinstance(raw.get("chain"), str) else None
    scope.log_request(chain or "bulk", {}, None, f"bulk:{str(raw.get('bulk'))[:20]}")
    # The request's deadline (chains.deadline, read at the entry from Lambda's time): what is left of it.
    left = deadline.remaining_s()
    remaining = None if left is None else int(left * 1000.0)
    return 200, {**handle_bulk(raw, runtime, remaining_ms=remaining), "request_id": request_id}


def lambda_response(event: Any, status: int, body: Dict[str, Any]) -> Any:
    """What Lambda returns: the body for direct events, an HTTP response for Function URL / API Gateway."""
    if isinstance(event, Mapping) and _is_http_event(event):
        return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": dumps_body(body)}
    return body


def dumps_body(body: Any) -> str:
    """THE place a response body is written as JSON: strict (no NaN / Infinity, which strict parsers reject);
    a non-finite number is written as null rather than break the answer."""
    try:
        return json.dumps(body, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(body), default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
