"""No AWS credential ever leaves the process in a log line, an error, a metric or a response.

The requests run with credential values in the environment (as on Lambda, where the function's role puts
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN there), with Bedrock answering an error
whose message contains them, with a bug whose exception message contains them, and with a user pasting
them into the question with LOG_PROMPTS=true and DEBUG logging. Then every byte written to stdout and
stderr, every log record and the response are searched.
"""

from __future__ import annotations

import dataclasses

import json
import logging

import pytest

import handler
from chains import get_chain, observability
from chains.observability.redaction import MASK, RedactionFilter, redact, redact_obj
from helpers.obs_helpers import split_output

# Recognisable fake values with the shapes of real ones ...
ACCESS_KEY = "ASIAFAKE0TEST0KEY123"  # temporary-credential key id: ASIA + 16
SECRET_KEY = "fAkE0sEcReT/kEy+0123456789aBcDeFgHiJkLm"[:40]
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFAKEFAKE//////////wEaCXVzLWVhc3QtMSJHMEUCIQDfakeTOKEN" * 6
# ... and values without any known shape, which only the "values in the environment" net catches.
ODD_SECRET = "my-odd.secret_value-that-has-no-shape"
ODD_TOKEN = "session token with spaces 42"

ALL = [ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, ODD_SECRET, ODD_TOKEN]
# Long enough fragments that a partial leak (a value cut in the middle) is still found.
FRAGMENTS = [ACCESS_KEY[4:], SECRET_KEY[:20], SECRET_KEY[20:], SESSION_TOKEN[:60], ODD_SECRET[:16]]


@pytest.fixture(autouse=True)
def fresh_observability():
    observability.reset()
    yield
    observability.reset()


@pytest.fixture
def with_credentials(clean_env, runtime):
    """Credentials in the environment, as on Lambda; the runtime stays on the local emulator."""
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-chains")
    clean_env.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    clean_env.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    clean_env.setenv("LOG_LEVEL", "DEBUG")
    clean_env.setenv("LOG_PROMPTS", "true")
    return clean_env


def everything_written(capfd, caplog, *bodies):
    out, err = capfd.readouterr()
    records = []
    for record in caplog.records:
        extras = {k: v for k, v in vars(record).items() if k not in ("exc_info", "args", "msg")}
        records.append(record.getMessage())
        records.append(json.dumps(extras, default=str))
        records.append(record.exc_text or "")
    return out, err, "\n".join([out, err, caplog.text, *records, *(json.dumps(b, default=str) for b in bodies)])


def assert_clean(text):
    for value in ALL + FRAGMENTS:
        assert value not in text, f"credential {value[:12]}... leaked"


def test_a_request_with_credentials_everywhere_leaks_none(with_credentials, runtime, emulator, lambda_context,
                                                          capfd, caplog):
    caplog.set_level(logging.DEBUG, logger="chains")
    leak = f"denied for key {ACCESS_KEY} secret {SECRET_KEY} token {SESSION_TOKEN}"
    emulator.add_fault("claude_haiku", error="AccessDeniedException", message=leak)
    event = {"chain": "qa", "input": {"question": f"my keys are {ACCESS_KEY} and {SECRET_KEY}, ok?"},
             "options": {"fallbacks": False}}
    status, failed = handler.handle(event, lambda_context, runtime=runtime)
    assert status == 502 and failed["error"]["type"] in ("ModelUnusable", "AllModelsFailed")
    assert "denied for key [REDACTED] secret [REDACTED] token [REDACTED]" in json.dumps(failed)  # kept, masked

    # An answer too (another model: the first one may be cooling down after its error).
    event["options"] = {"model": "nova_pro", "fallbacks": False}
    status, answered = handler.handle(event, lambda_context, runtime=runtime)
    assert status == 200, answered

    out, err, everything = everything_written(capfd, caplog, failed, answered)
    logs, emf, _ = split_output(out)
    # The request really was logged in full (LOG_PROMPTS, DEBUG) and measured: there was something to leak.
    assert {"request", "model_call_start", "model_call_error", "error", "model_call", "result"} <= {
        line.get("event") for line in logs}
    assert any("my keys are" in json.dumps(line) for line in logs)
    assert emf
    assert_clean(everything)


def test_values_of_no_known_shape_are_masked_because_they_are_in_the_environment(
        with_credentials, runtime, emulator, lambda_context, capfd, caplog):
    with_credentials.setenv("AWS_SECRET_ACCESS_KEY", ODD_SECRET)
    with_credentials.setenv("AWS_SESSION_TOKEN", ODD_TOKEN)
    emulator.add_fault("claude_haiku", error="ValidationException", message=f"bad {ODD_SECRET} and {ODD_TOKEN}")
    status, body = handler.handle({"chain": "qa", "input": {"question": "q"}, "options": {"fallbacks": False}},
                                  lambda_context, runtime=runtime)
    assert status == 400
    _, _, everything = everything_written(capfd, caplog, body)
    assert "bad [REDACTED] and [REDACTED]" in everything
    assert_clean(everything)


def test_a_bug_whose_exception_carries_credentials_is_logged_masked(with_credentials, runtime, lambda_context,
                                                                     capfd, caplog, monkeypatch):
    def bug(*args, **kwargs):
        raise RuntimeError(f"boto said: aws_secret_access_key={SECRET_KEY} token={SESSION_TOKEN} id={ACCESS_KEY}")

    chain = get_chain("qa", runtime)
    # a bug in whatever strategy qa uses
    monkeypatch.setattr(chain, "strategy", dataclasses.replace(chain.strategy, run=bug))
    status, body = handler.handle({"chain": "qa", "input": {"question": "q"}}, lambda_context, runtime=runtime)
    assert status == 500 and body["error"]["type"] == "InternalError"
    out, err, everything = everything_written(capfd, caplog, body)
    logs, _, _ = split_output(out)
    crash = next(line for line in logs if line.get("event") == "unhandled_error")
    assert "RuntimeError" in crash["exception"] and "boto said" in crash["exception"]  # the traceback is there
    assert crash["request_id"] == lambda_context.aws_request_id
    assert_clean(everything)


def test_cli_root_handler_and_foreign_loggers_are_masked_too(clean_env, capfd):
    """A record from another library through a handler carrying the filter (what the CLI installs on root)."""
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", ODD_SECRET)
    h = logging.StreamHandler()
    h.addFilter(RedactionFilter())
    other = logging.getLogger("botocore.test_redaction")
    other.addHandler(h)
    other.propagate = False
    try:
        other.warning("header X-Amz-Security-Token: %s secret %s", SESSION_TOKEN, ODD_SECRET)
    finally:
        other.removeHandler(h)
        other.propagate = True
    err = capfd.readouterr().err
    assert "X-Amz-Security-Token" in err
    assert_clean(err)


@pytest.mark.parametrize("text", [
    "AKIAIOSFODNN7EXAMPLE",
    "key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    '{"SecretAccessKey": "abc", "SessionToken": "def"}',
    "aws_session_token = FwoGZXIvYXdzEB",
    "Credential=ASIAQWERTYUIOPASDFGH/20261125/us-east-1/bedrock/aws4_request, Signature=" + "ab12" * 16,
    "ABSKQmVkcm9ja0FQSUtleS1mYWtlZmFrZWZha2U=",
    "LANGSMITH_API_KEY=lsv2_pt_0123456789",
    "token " + "IQoJb3JpZ2luX2VjEK7//////////wEaCXVzLWVhc3QtMSJHMEUCIQD" * 3,
])
def test_credential_shapes_are_masked(clean_env, text):
    masked = redact(text)
    assert MASK in masked
    for secret in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "abc", "def", "FwoGZXIvYXdzEB", "ASIAQWERTYUIOPASDFGH",
                   "ab12ab12", "ABSKQmVk", "lsv2_pt", "IQoJb3JpZ2lu"):
        if secret in text:
            assert secret not in masked, (text, masked)
    assert redact(masked) == masked  # idempotent: the filter and the formatter may both run


@pytest.mark.parametrize("text", [
    "input_tokens=97 output_tokens=47 total_tokens: 144",
    "request 123e4567-e89b-12d3-a456-426614174000 took 412.5 ms",
    "commit 0123456789abcdef0123456789abcdef01234567",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0 and us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "ThisIsAVeryLongIdentifierNameForTestingX is fine",
    "Amazon Nova is Amazon's own family of foundation models.",
])
def test_ordinary_text_is_left_alone(clean_env, text):
    assert redact(text) == text


def test_redact_obj_masks_nested_values_and_keys(clean_env):
    clean_env.setenv("AWS_SESSION_TOKEN", ODD_TOKEN)
    obj = {"error": {"attempts": [{"message": f"x {ODD_TOKEN}"}], ACCESS_KEY: 1}, "n": 3, "ok": False}
    masked = redact_obj(obj)
    assert masked["n"] == 3 and masked["ok"] is False
    assert_clean(json.dumps(masked))


# --- the no-copy fast path of redact_obj gives exactly what the string-by-string walk gives ---------------
from hypothesis import given, settings as hsettings, strategies as st  # noqa: E402

from chains.observability.redaction import _redact_obj, redact_obj, secret_values  # noqa: E402

_PIECES = st.sampled_from([
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key=abc123XYZ",
    "SessionToken", "token", "plain words", "us.anthropic.claude-haiku-4-5-20251001-v1:0", "\n", "é", "\x00",
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDtestTESTtest1234567890abcdefABCDEF0123456789abcdefg",
])
_TEXT = st.lists(_PIECES | st.text(max_size=12), max_size=4).map("".join)
_JSONISH = st.recursive(
    st.none() | st.integers() | st.booleans() | _TEXT,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_TEXT, kids, max_size=3),
    max_leaves=12,
)


@hsettings(max_examples=300, deadline=None)
@given(obj=_JSONISH)
def test_fast_path_matches_the_full_walk(obj):
    assert redact_obj(obj) == _redact_obj(obj, 50, 0, secret_values())
