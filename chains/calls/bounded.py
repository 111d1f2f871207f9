"""Bounded calls: a blocking call waited for at most the time left before the deadline."""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable, Dict, Optional


class CallAbandoned(TimeoutError):
    """``run_bounded`` gave up waiting (distinct from a TimeoutError raised by the call itself)."""


def run_bounded(fn: Callable[[], Any], timeout_s: Optional[float], name: str = "bedrock-call") -> Any:
    """``fn()``, waited for at most ``timeout_s`` (None: inline, no thread). Raises ``CallAbandoned`` when late.

    botocore cannot cancel a call in flight, so a late call is abandoned in its daemon thread; it ends when
    the answer arrives or the model's read_timeout fires, and its result is discarded. The context is copied
    into the thread, so callbacks (usage, tracing) still see the call.
    """
    if timeout_s is None:
        return fn()
    if timeout_s <= 0:
        raise CallAbandoned("no time left")
    box: Dict[str, Any] = {}
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise CallAbandoned(f"no answer within {timeout_s * 1000:.0f} ms")
    if "error" in box:
        raise box["error"]
    return box["value"]
