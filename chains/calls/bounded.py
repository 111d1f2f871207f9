"""Bounded calls: a blocking call waited for at most the time left before the deadline.

botocore cannot cancel a call in flight, so a bounded call runs in a worker thread and a late one is
abandoned there: it ends when the answer arrives or the model's read_timeout fires, and its result is
discarded. Workers are kept and reused (starting a thread per call cost more than the rest of our per-call
work); a worker busy with an abandoned call is simply not idle, and a new one is started when none is.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable, List, Optional, Tuple


class CallAbandoned(TimeoutError):
    """``run_bounded`` gave up waiting (distinct from a TimeoutError raised by the call itself)."""


class _Job:
    __slots__ = ("fn", "ctx", "done", "value", "error")

    def __init__(self, fn: Callable[[], Any], ctx: contextvars.Context) -> None:
        self.fn, self.ctx = fn, ctx
        self.done = threading.Event()
        self.value: Any = None
        self.error: Optional[BaseException] = None


class _Worker:
    """A daemon thread that runs one job at a time and then offers itself again."""

    def __init__(self, pool: "_Pool", name: str) -> None:
        self._pool = pool
        self._ready = threading.Condition(threading.Lock())
        self._job: Optional[_Job] = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def give(self, job: _Job) -> None:
        with self._ready:
            self._job = job
            self._ready.notify()

    def _loop(self) -> None:
        while True:
            with self._ready:
                while self._job is None:
                    self._ready.wait()
                job, self._job = self._job, None
            try:
                job.value = job.ctx.run(job.fn)
            except BaseException as exc:  # handed to the waiting thread
                job.error = exc
            # Offered again before the caller wakes up, so its next call finds this worker idle.
            kept = self._pool.idle(self)
            job.done.set()
            del job
            if not kept:
                return  # ends this (daemon) thread


class _Pool:
    # Idle workers kept beyond this are let go (a burst of abandoned calls must not pin threads forever).
    MAX_IDLE = 32

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: List[_Worker] = []
        self._count = 0

    def take(self, name: str) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._count += 1
            number = self._count
        return _Worker(self, f"{name}-{number}")

    def idle(self, worker: _Worker) -> bool:
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append(worker)
                return True
            return False


_pool = _Pool()


def run_bounded(fn: Callable[[], Any], timeout_s: Optional[float], name: str = "bedrock-call",
                self_bound_s: Optional[float] = None) -> Any:
    """``fn()``, waited for at most ``timeout_s`` (None: inline, no thread). Raises ``CallAbandoned`` when late.

    ``self_bound_s``: the longest ``fn`` can take by its own timeouts (``botocore_bound_s``). When more time
    than that is left, ``fn`` ends before the deadline whatever happens, so it runs inline: the hand-off to a
    worker thread and back costs ~0.1 ms per call (benchmarks/overhead.py), and a Lambda with minutes left
    calling a model whose read timeout is 60 s needs no watchdog.

    The context is copied into the worker, so callbacks (usage, tracing) still see the call.
    """
    if timeout_s is None or (self_bound_s is not None and timeout_s > self_bound_s):
        return fn()
    if timeout_s <= 0:
        raise CallAbandoned("no time left")
    job = _Job(fn, contextvars.copy_context())
    _pool.take(name).give(job)
    if not job.done.wait(timeout_s):
        raise CallAbandoned(f"no answer within {timeout_s * 1000:.0f} ms")
    if job.error is not None:
        raise job.error
    return job.value


# botocore's longest pause between two tries: standard and adaptive modes cap the exponential backoff at 20 s
# (botocore/retries/standard.py MAX_BACKOFF); legacy mode's delay is rand() * 2 ** (attempt - 1) seconds
# (botocore/data/_retry.json: base "rand", growth_factor 2).
_STANDARD_MAX_BACKOFF_S = 20.0


def botocore_bound_s(mode: str, total_max_attempts: int, connect_timeout: float, read_timeout: float
                     ) -> Optional[float]:
    """The longest one non-streamed botocore call can last by its own timeouts: each try waits at most the
    connect timeout and then the read timeout (Bedrock's Converse answer arrives whole, after the model
    finishes; botocore's read timeout bounds that wait), plus the backoff between tries. None for adaptive
    mode, whose client-side rate limiter may wait for capacity without a bound."""
    if mode == "adaptive":
        return None
    retries = max(0, total_max_attempts - 1)
    if mode == "legacy":
        backoff = float(sum(2 ** i for i in range(retries)))
    else:
        backoff = _STANDARD_MAX_BACKOFF_S * retries
    return total_max_attempts * (connect_timeout + read_timeout) + backoff


def pooled_threads() -> Tuple[int, int]:
    """(workers started, workers idle now): for tests and benchmarks."""
    return _pool._count, len(_pool._idle)
