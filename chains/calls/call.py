"""One model call: invoke the shared model, time it, and turn any failure into a typed error.

Every strategy calls models through here, so timing, the attempt record, the text of a message, Bedrock's
latency and error translation exist once (the streamed call is ``chains.calls.stream``).
"""

from __future__ import annotations

import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from chains.caching.placement import place, remember
from chains.calls.direct import DirectRun, split_direct
from chains.errors import CLIENT_ERROR, ModelCallError, Unavailable, classify, to_model_error
from chains.profiles import invoked_model_id
from chains.tokens.estimator import log_estimate, logger as estimator_log
from chains.usage import CACHE_READ, CACHE_WRITE, split_usage


@dataclass
class CallOutcome:
    alias: str
    model_id: str
    message: Any  # the AIMessage
    wall_ms: float
    bedrock_latency_ms: Optional[int]
    stop_reason: Optional[str]

    @property
    def text(self) -> str:
        return message_text(self.message)

    @property
    def usage(self) -> Dict[str, int]:
        """The five counts of ``chains.usage.split_usage``: input (uncached), output, total, cache read / write."""
        return split_usage(getattr(self.message, "usage_metadata", None) or {})


@dataclass
class Attempt:
    """A try that did not produce the answer (a failure, or a skip such as a cooling-down model)."""

    model: str
    alias: str
    error_class: str
    code: Optional[str]
    ms: float
    message: str = ""
    skipped: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        d = {
            "model": self.model,
            "alias": self.alias,
            "error_class": self.error_class,
            "code": self.code,
            "ms": round(self.ms, 1),
        }
        if self.message:
            d["message"] = self.message
        if self.skipped:
            d["skipped"] = True
        d.update(self.extra)
        return d


def message_text(message: Any) -> str:
    """The text of a message (or of its content): text blocks joined, tool-use and other blocks left out."""
    if message is None:
        return ""
    content = getattr(message, "content", message)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, abc.Mapping) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return str(content)


def bedrock_latency(message: Any) -> Optional[int]:
    """Bedrock's own ``latencyMs`` of an AIMessage (or of its ``response_metadata`` dict)."""
    meta = message if isinstance(message, abc.Mapping) else (getattr(message, "response_metadata", None) or {})
    value = (meta.get("metrics") or {}).get("latencyMs")
    # langchain-aws gives a list [n] on invoke and an int on stream.
    if isinstance(value, list):
        value = value[0] if value else None
    return int(value) if isinstance(value, (int, float)) else None


def invoke_model(
    model: Any, alias: str, model_id: str, messages: List[Any], config: Optional[Mapping[str, Any]] = None
) -> CallOutcome:
    """Invoke ``model``; raises a ``ModelCallError`` subclass (with ``.elapsed_ms``) on failure."""
    placement = place(model_id, messages)  # this model's cache checkpoints (none if it has no caching)
    # Our usage collector and call observer are fed here, not through LangChain's dispatch (chains.calls.direct).
    config, direct = split_direct(config)
    run = DirectRun(direct, getattr(model, "model_id", model_id), placement.messages, config)
    start = time.perf_counter()
    try:
        message = model.invoke(placement.messages, config=config)
    except Exception as exc:
        run.error(exc)
        raise typed_error(exc, model_id, start) from exc
    run.end(message)  # as LangChain would: the call ended (usage counts what Bedrock billed, an empty answer too)
    try:
        _require_content(message)
    except Exception as exc:
        raise typed_error(exc, model_id, start) from exc
    remember(placement, message)
    return logged(outcome_of(alias, model_id, message, start), messages)


def _require_content(message: Any) -> None:
    """An answer with no text and no tool call is a failed call (another model may answer), not an answer."""
    if not message_text(message).strip() and not getattr(message, "tool_calls", None):
        raise Unavailable("the model returned an empty answer", code="EmptyAnswer")


def logged(outcome: CallOutcome, messages: List[Any]) -> CallOutcome:
    # Estimate vs Bedrock's input count, logged by chains.tokens.estimator at DEBUG (no prompt text).
    if not estimator_log.isEnabledFor(logging.DEBUG):
        return outcome
    u = outcome.usage  # Bedrock's whole input: the uncached part and the cached ones
    log_estimate(outcome.alias, outcome.model_id, messages, u["input_tokens"] + u[CACHE_READ] + u[CACHE_WRITE])
    return outcome


def typed_error(exc: BaseException, model_id: str, start: float) -> ModelCallError:
    if classify(exc) == (CLIENT_ERROR, None):
        # Not an error Bedrock or botocore reported, nor one we raised: a bug (ours or a library's). It must
        # reach the handler as a 500 with its traceback in the log, not pass as the caller's 400.
        raise exc
    err = to_model_error(exc, model_id)
    err.elapsed_ms = (time.perf_counter() - start) * 1000.0  # type: ignore[attr-defined]
    return err


def outcome_of(alias: str, model_id: str, message: Any, start: float) -> CallOutcome:
    meta = getattr(message, "response_metadata", None) or {}
    return CallOutcome(
        alias=alias,
        model_id=invoked_model_id(meta) or model_id,  # a prompt router: the model it invoked
        message=message,
        wall_ms=(time.perf_counter() - start) * 1000.0,
        bedrock_latency_ms=bedrock_latency(message),
        stop_reason=meta.get("stopReason") or meta.get("stop_reason"),
    )
