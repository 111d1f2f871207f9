"""Bounded calls: a worker thread only when the deadline could come before the call's own timeouts."""

from __future__ import annotations

import threading

import pytest

from chains.calls.bounded import CallAbandoned, botocore_bound_s, run_bounded


def _thread_name():
    return threading.current_thread().name


def test_a_call_that_cannot_outlive_the_deadline_runs_inline():
    me = threading.current_thread().name
    assert run_bounded(_thread_name, 300.0, self_bound_s=62.0) == me
    assert run_bounded(_thread_name, None) == me


def test_a_call_that_could_outlive_the_deadline_runs_in_a_worker_and_is_abandoned_when_late():
    me = threading.current_thread().name
    # (workers are reused across names: only "not this thread" is certain)
    assert run_bounded(_thread_name, 30.0, name="bedrock-call", self_bound_s=62.0) != me
    assert run_bounded(_thread_name, 30.0, name="bedrock-call") != me  # no bound known
    release = threading.Event()
    with pytest.raises(CallAbandoned):
        run_bounded(lambda: release.wait(5), 0.05, self_bound_s=10.0)
    release.set()


@pytest.mark.parametrize("mode,attempts,expected", [
    ("standard", 1, 2.0 + 60.0),
    ("standard", 3, 3 * 62.0 + 2 * 20.0),  # backoff capped at 20 s between tries
    ("legacy", 3, 3 * 62.0 + 1 + 2),  # rand() * 2 ** (n - 1), at most 1 then 2 s
    ("adaptive", 2, None),  # the client-side rate limiter may wait without a bound
])
def test_botocore_bound(mode, attempts, expected):
    assert botocore_bound_s(mode, attempts, 2.0, 60.0) == expected
