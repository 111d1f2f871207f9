"""THE stream loop: one ConverseStream call, text deltas as they arrive, then the ``CallOutcome``.

Used by the ``single`` strategy directly and by every fallback stream (``chains.calls.fallback``). With a
time limit the stream is read in a worker thread (``_StreamPump``) so the consumer can stop waiting at the
deadline (a blocking botocore read cannot be cancelled); the call is then abandoned (``CallAbandoned``).
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from typing import Any, Callable, Dict, Generator, Iterator, List, Mapping, Optional, Tuple

from chains.caching.placement import place, remember
from chains.calls.bounded import CallAbandoned
from chains.calls.call import CallOutcome, logged, message_text, outcome_of, typed_error
from chains.echo import clip
from chains.errors import Unavailable

_END = object()


class _PumpTimeout(Exception):
    """No chunk before the deadline (internal: becomes ``CallAbandoned``)."""


class _StreamPump:
    """Reads a model stream in a worker thread so the consumer can wait with a deadline."""

    def __init__(self, iterator_factory: Callable[[], Iterator[Any]]) -> None:
        self._queue: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        self._stop = threading.Event()
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(target=lambda: ctx.run(self._pump, iterator_factory),
                                        name="bedrock-stream", daemon=True)
        self._thread.start()

    def _pump(self, factory: Callable[[], Iterator[Any]]) -> None:
        iterator = None
        try:
            iterator = factory()
            for item in iterator:
                if self._stop.is_set():
                    break
                self._queue.put(("item", item))
            self._queue.put(("end", None))
        except BaseException as exc:
            self._queue.put(("error", exc))
        finally:
            close = getattr(iterator, "close", None)
            if close and self._stop.is_set():
                try:
                    close()
                except Exception:  # closing an abandoned stream is best effort
                    pass

    def get(self, timeout_s: Optional[float]) -> Tuple[str, Any]:
        try:
            return self._queue.get(timeout=timeout_s) if timeout_s is not None else self._queue.get()
        except queue.Empty:
            self._stop.set()
            raise _PumpTimeout from None

    def stop(self) -> None:
        self._stop.set()


def _raise_unstreamed(err: Unavailable, start: float) -> None:
    err.elapsed_ms = (time.perf_counter() - start) * 1000.0  # type: ignore[attr-defined]
    err.streamed, err.streamed_chars = False, 0  # type: ignore[attr-defined]
    raise err


def _malformed(exc: BaseException, model_id: str) -> BaseException:
    """langchain-aws reading a stream event that lacks a key it expects (``KeyError: 'delta'``) is a malformed
    answer from the service, as invoke's "No 'output' key" is: ``Unavailable`` (``MalformedResponse``), which
    falls over before the first chunk and is ``StreamInterrupted`` after it, never a 400 saying ``'delta'``."""
    if isinstance(exc, (KeyError, IndexError)):
        return Unavailable(f"the model's stream had a malformed event (missing {clip(exc, 60)})",
                           code="MalformedResponse", model=model_id)
    return exc


def stream_model(
    model: Any,
    alias: str,
    model_id: str,
    messages: List[Any],
    config: Optional[Mapping[str, Any]] = None,
    timeout_s: Optional[float] = None,
) -> Generator[Dict[str, str], None, CallOutcome]:
    """ConverseStream: yields ``{"output": text_delta}`` as Bedrock sends it, returns the ``CallOutcome``.

    Use as ``outcome = yield from stream_model(...)``. A failure raises a typed ``ModelCallError`` with
    ``.elapsed_ms``, ``.streamed`` (whether text was already yielded: a fallback can only take over before the
    first chunk) and ``.streamed_chars``; a stream that ends without a message is ``Unavailable`` (``EmptyStream``). With
    ``timeout_s``, no chunk by then raises ``CallAbandoned`` (with ``.elapsed_ms``).
    """
    placement = place(model_id, messages)  # this model's cache checkpoints (none if it has no caching)
    sent_messages = placement.messages
    start = time.perf_counter()
    deadline = None if timeout_s is None else start + timeout_s
    pump = None if deadline is None else _StreamPump(lambda: model.stream(sent_messages, config=config))
    source: Any = iter(model.stream(sent_messages, config=config)) if pump is None else None
    full = None
    sent = 0
    try:
        while True:
            try:
                if pump is None:
                    chunk = next(source, _END)
                else:
                    kind, item = pump.get(max(0.0, deadline - time.perf_counter()))  # type: ignore[operator]
                    if kind == "error":
                        raise item
                    chunk = _END if kind == "end" else item
            except _PumpTimeout:
                abandoned = CallAbandoned(f"{alias} did not answer before the deadline")
                abandoned.elapsed_ms = (time.perf_counter() - start) * 1000.0  # type: ignore[attr-defined]
                raise abandoned from None
            except Exception as exc:
                err = typed_error(_malformed(exc, model_id), model_id, start)
                err.streamed = bool(sent)  # type: ignore[attr-defined]
                err.streamed_chars = sent  # type: ignore[attr-defined]
                raise err from exc
            if chunk is _END:
                break
            full = chunk if full is None else full + chunk
            text = message_text(chunk)
            if text:
                sent += len(text)
                yield {"output": text}
    finally:
        if pump is not None:
            pump.stop()
    if full is None:
        _raise_unstreamed(Unavailable("the stream ended without a message", code="EmptyStream", model=model_id),
                          start)
    if not sent and not message_text(full).strip() and not getattr(full, "tool_calls", None):
        # As invoke (chains.calls.call._require_content): no text and no tool call is a failed call that
        # another model may answer, never an ``ok`` with an empty output.
        _raise_unstreamed(Unavailable("the model returned an empty answer", code="EmptyAnswer", model=model_id),
                          start)
    remember(placement, full)
    return logged(outcome_of(alias, model_id, full, start), messages)
