"""Hostile input at the handler: it never raises, never answers 500 for input errors, never reads outside
prompts/, and answers within a bounded time (no hang). Property-based with hypothesis."""

from __future__ import annotations

import builtins
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handler

PROMPTS = (Path(__file__).resolve().parents[2] / "prompts").resolve()

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
template_text = st.sampled_from(
    ["{x}", "{{", "}}", "{% for x in y %}", "{{ config.__class__ }}", "{0.__globals__}", "{context}", "${x}", "{{{",
     "\x00", "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"), "ｑｕｅｓｔｉｏｎ", "\u202e", "🦜" * 50]
)
path_names = st.sampled_from(
    ["../config", "../../etc/passwd", "/etc/passwd", "qa/../../handler", "..\\..\\x", "qa\x00", "%2e%2e%2fqa",
     "judge.yaml", "QA", " qa", "qa ", "", ".", "~", "prompts/qa", "file:///etc/passwd"]
)
text = st.text(max_size=200) | template_text | st.builds(lambda a, b: a + b, template_text, st.text(max_size=50))


class ReadGuard:
    """Records files under the repo, outside prompts/ and config.yaml, opened while a request runs."""

    def __init__(self):
        self.root = PROMPTS.parent
        self.bad = []
        self.active = False

    def check(self, file):
        if not self.active or not isinstance(file, (str, bytes, os.PathLike)):
            return
        try:
            p = Path(os.fsdecode(file)).resolve()
        except (OSError, ValueError):
            return
        inside = str(p).startswith(str(self.root) + os.sep)
        if inside and not str(p).startswith(str(PROMPTS) + os.sep) and p != self.root / "config.yaml":
            if p.suffix not in (".py", ".pyc"):
                self.bad.append(str(p))

    def handle(self, event, runtime):
        self.active = True
        try:
            return handler.handle(event, None, runtime=runtime)
        finally:
            self.active = False


@pytest.fixture
def guard(monkeypatch):
    g = ReadGuard()
    real_open = builtins.open

    def checked_open(file, *args, **kwargs):
        g.check(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", checked_open)
    monkeypatch.setattr(Path, "read_text", _wrap(Path.read_text, g))
    return g


def _wrap(method, g):
    def wrapped(self, *args, **kwargs):
        g.check(self)
        return method(self, *args, **kwargs)

    return wrapped


def _assert_clean(status, body):
    assert isinstance(status, int)
    json.dumps(body)  # always serialisable
    if body["ok"]:
        assert status == 200
    else:
        assert status != 500 or body["error"]["type"] not in ("BadRequest", "MissingVariables"), body
        assert status in (400, 404, 413, 422, 429, 502, 503, 504), body
        assert "Traceback" not in json.dumps(body)


COMMON = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@COMMON
@given(event=json_values)
def test_arbitrary_json_events(runtime, guard, event):
    status, body = guard.handle(event, runtime)
    _assert_clean(status, body)
    assert not body["ok"] or isinstance(event, dict)
    assert guard.bad == []


@COMMON
@given(chain=st.one_of(text, path_names, json_values), inp=json_values, options=json_values)
def test_arbitrary_fields(runtime, guard, chain, inp, options):
    status, body = guard.handle({"chain": chain, "input": inp, "options": options}, runtime)
    _assert_clean(status, body)
    assert guard.bad == []


@COMMON
@given(question=text, context=text)
def test_template_looking_text_is_only_data(runtime, question, context):
    status, body = handler.handle({"chain": "qa", "input": {"question": question or "q", "context": context}},
                                  None, runtime=runtime)
    _assert_clean(status, body)
    if status == 200:
        assert body["ok"] and isinstance(body["output"], str)


@COMMON
@given(name=path_names)
def test_path_like_prompt_names_are_refused(runtime, guard, name):
    chain = "compare" if "compare" in runtime.settings.chains else "qa"
    status, body = guard.handle({"chain": chain, "input": {"question": "q"}, "options": {"prompt": name}}, runtime)
    _assert_clean(status, body)
    if chain == "compare":
        assert status in (400, 500) and not body["ok"]
    assert guard.bad == []


@pytest.mark.parametrize("size", [10_000, 1_000_000])
def test_huge_strings_are_answered_not_hung(runtime, size):
    status, body = handler.handle({"chain": "qa", "input": {"question": "x" * size}}, None, runtime=runtime)
    _assert_clean(status, body)


def test_deep_nesting_is_a_clean_400(runtime):
    deep: object = "q"
    for _ in range(5000):
        deep = [deep]
    status, body = handler.handle({"chain": "qa", "input": {"question": deep}}, None, runtime=runtime)
    assert status == 400 and body["error"]["type"] == "BadRequest"
    status, body = handler.handle({"chain": "qa", "input": {"question": "q"}, "options": {"models": deep}}, None,
                                  runtime=runtime)
    assert status == 400


def test_deeply_nested_http_body_is_a_clean_400(runtime):
    body = "[" * 100_000 + "]" * 100_000
    event = {"requestContext": {"http": {"method": "POST"}}, "rawPath": "/", "body": body}
    status, out = handler.handle(event, None, runtime=runtime)
    assert status == 400 and out["ok"] is False
