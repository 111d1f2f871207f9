"""THE request deadline: one absolute ``time.perf_counter()`` instant, set once at the entry, read by every
outbound call (model calls, the agent's calls and its tool chains, the S3 copy of a comparison, the tracing
flush) as "what is left".

It lives in a context variable: ``chains.service`` sets it before it builds anything (Lambda's remaining time
or ``options.timeout_ms``, whichever is earlier), a ``BedrockChain`` narrows it to its own
``options.timeout_ms`` for the duration of its run, and worker threads that copy the context
(``run_bounded``, LangChain's executors) see the same instant. No deadline set: ``None`` everywhere (no limit).
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from typing import Iterator, Optional

_DEADLINE: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar("chains_deadline", default=None)


def current() -> Optional[float]:
    """The absolute deadline of the request this code runs for (``perf_counter`` seconds), or None."""
    return _DEADLINE.get()


def earliest(*deadlines: Optional[float]) -> Optional[float]:
    """The earliest of the given deadlines (None ones ignored); None when none is set."""
    given = [d for d in deadlines if d is not None]
    return min(given) if given else None


def after_ms(ms: Optional[float], start: Optional[float] = None) -> Optional[float]:
    """The absolute deadline ``ms`` milliseconds after ``start`` (default: now); None for None."""
    if ms is None:
        return None
    return (time.perf_counter() if start is None else start) + ms / 1000.0


def remaining_s(deadline: Optional[float] = None) -> Optional[float]:
    """Seconds left before ``deadline`` (default: the current one), never negative; None: no deadline."""
    d = current() if deadline is None else deadline
    return None if d is None else max(0.0, d - time.perf_counter())


@contextlib.contextmanager
def scope(deadline: Optional[float]) -> Iterator[Optional[float]]:
    """Run the block under ``deadline``, never later than the deadline already in force."""
    effective = earliest(deadline, current())
    token = _DEADLINE.set(effective)
    try:
        yield effective
    finally:
        _DEADLINE.reset(token)
