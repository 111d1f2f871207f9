"""Our own per-call handlers, fed by the one timed call directly instead of through LangChain's dispatch.

The usage collector (``chains.usage``) and the model call observer (``chains.observability``) are LangChain
callback handlers, so every model call beneath a chain reaches them (router classifier, judge, agent, map
steps, streams). But with any handler attached LangChain spends ~0.06 ms more per call (run managers, a
runtime-checkable Protocol check per handler to decide about streaming, the event dispatch; measured in
benchmarks/overhead.py). The timed call (``chains.calls.call.invoke_model``) therefore takes the handlers that
say ``direct_feed = True`` out of the config it hands to LangChain and calls the same methods itself, with the
arguments LangChain would pass: ``on_chat_model_start`` before, ``on_llm_end`` (an ``LLMResult``) or
``on_llm_error`` after. Anyone else's handlers (a tracer, a caller's callback) stay where they were.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, List, Mapping, Optional, Tuple

from langchain_core.callbacks import BaseCallbackManager

log = logging.getLogger(__name__)


def _direct(handlers: Any) -> List[Any]:
    return [h for h in handlers or () if getattr(h, "direct_feed", False)]


def split_direct(config: Optional[Mapping[str, Any]]) -> Tuple[Optional[Mapping[str, Any]], List[Any]]:
    """``(config without our direct-fed handlers, those handlers)``; the config is returned as it is when it has
    none."""
    if not config:
        return config, []
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        # Inheritable ones only: a handler that is not inheritable was meant for the caller's own run.
        direct = _direct(callbacks.inheritable_handlers)
        if not direct:
            return config, []
        manager = callbacks.copy()
        for handler in direct:
            manager.remove_handler(handler)
        return {**config, "callbacks": manager}, direct
    direct = _direct(callbacks) if isinstance(callbacks, list) else []
    if not direct:
        return config, []
    return {**config, "callbacks": [h for h in callbacks if not getattr(h, "direct_feed", False)]}, direct


class DirectRun:
    """One model call as the direct-fed handlers see it (a run id, as LangChain would give one)."""

    __slots__ = ("handlers", "run_id")

    def __init__(self, handlers: List[Any], model_id: str, messages: List[Any],
                 config: Optional[Mapping[str, Any]]) -> None:
        self.handlers = handlers
        self.run_id = uuid.uuid4()
        if not handlers:
            return
        metadata = {**((config or {}).get("metadata") or {}), "ls_model_name": model_id}
        for handler in handlers:
            _safely(handler.on_chat_model_start, {}, [messages], run_id=self.run_id, parent_run_id=None,
                    tags=list((config or {}).get("tags") or []), metadata=metadata)

    def end(self, message: Any) -> None:
        if not self.handlers:
            return
        from langchain_core.outputs import ChatGeneration, LLMResult

        result = LLMResult(generations=[[ChatGeneration(message=message)]])
        for handler in self.handlers:
            _safely(handler.on_llm_end, result, run_id=self.run_id, parent_run_id=None)

    def error(self, exc: BaseException) -> None:
        for handler in self.handlers:
            _safely(handler.on_llm_error, exc, run_id=self.run_id, parent_run_id=None)


def _safely(method: Any, *args: Any, **kwargs: Any) -> None:
    # As LangChain does for a handler with raise_error False: a handler's failure never fails the call.
    try:
        method(*args, **kwargs)
    except Exception:
        log.debug("a direct-fed handler failed", exc_info=True)
