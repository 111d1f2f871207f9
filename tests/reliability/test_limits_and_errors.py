"""Issue 15: never an exception, never a 500 for the caller's mistake, one limit on what is echoed back, and
bodies that carry only what the caller can act on."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
import yaml

import handler
from helpers.lambda_context import FakeLambdaContext
from chains import build_runtime, get_chain
from chains.echo import ECHO_CHARS, bounded, clip
from chains.prompts import MAX_HISTORY_MESSAGES, PromptLibrary
from chains.service import MAX_EVENT_BYTES



ROOT = Path(__file__).resolve().parents[2]
QA = {"chain": "qa", "input": {"question": "Which family is Nova from?", "context": "Amazon Nova is Amazon's."}}
BIG = "x" * 5_000_000


def http(body: str) -> dict:
    return {"rawPath": "/", "requestContext": {"http": {"method": "POST"}}, "body": body}


def strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"non-finite number {name} in a response body")

    return json.loads(text, parse_constant=refuse)


# --- the echo limit ----------------------------------------------------------------------------------------------

def test_clip_keeps_short_values_and_notes_the_size_of_long_ones():
    assert clip("abc") == "abc"
    clipped = clip(BIG)
    assert clipped.startswith("x" * ECHO_CHARS) and "5,000,000 chars" in clipped and len(clipped) < 300
    shown = bounded({"models": ["m"] * 100_000, "k" * 1000: 1})
    assert len(json.dumps(shown)) < 2000 and "100,000 items in all" in json.dumps(shown)


@pytest.mark.parametrize("event", [
    {**QA, "input": {**QA["input"], BIG: "v"}},                   # an unknown input field name
    {**QA, "options": {BIG: 1}},                                  # an unknown option name
    {**QA, "options": {"model": BIG}},                            # an unknown model
    {**QA, BIG: 1},                                               # an unknown event field
    {"chain": "compare", "input": {"question": "q"}, "options": {"models": ["nope"] * 100_000}},
], ids=["input-field", "option-name", "options.model", "event-field", "100k-models"])
def test_a_huge_echoed_value_is_clipped_in_the_body_and_the_log(runtime, lambda_context, capsys, clean_env,
                                                                event):
    clean_env.setenv("LOG_LEVEL", "INFO")  # the request line (options, input field names) is an INFO line
    status, body = handler.handle(event, lambda_context, runtime=runtime)
    assert status == 400
    assert len(json.dumps(body)) < 10_000
    err = capsys.readouterr().err
    longest = max((len(line) for line in err.splitlines()), default=0)
    assert longest < 20_000, f"a log line of {longest:,} characters"


def test_an_event_over_the_size_limit_is_a_413(runtime, lambda_context):
    big = "y" * (MAX_EVENT_BYTES + 10)
    status, body = handler.handle({**QA, "input": {**QA["input"], "context": big}}, lambda_context,
                                  runtime=runtime)
    # Refused on its size in bytes, before any per-field work (not later, by the token estimate).
    assert status == 413 and body["error"]["type"] == "InputTooLarge" and "bytes" in body["error"]["message"]
    status, body = handler.handle(http(json.dumps({**QA, "input": {**QA["input"], "context": big}})),
                                  lambda_context, runtime=runtime)
    assert status == 413 and f"{MAX_EVENT_BYTES:,} are accepted" in body["error"]["message"]


def test_a_chat_over_the_turn_limit_is_a_400(runtime, lambda_context):
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"}
             for i in range(MAX_HISTORY_MESSAGES + 1)]
    status, body = handler.handle({"chain": "chat", "input": {"messages": turns}}, lambda_context, runtime=runtime)
    assert status == 400 and f"{MAX_HISTORY_MESSAGES:,}" in body["error"]["message"]


def test_the_limits_are_stated_in_the_readme_and_the_reliability_page():
    readme = (ROOT / "README.md").read_text()
    page = (ROOT / "docs" / "reliability.md").read_text()
    for text in (readme, page):
        assert "413" in text and f"{MAX_HISTORY_MESSAGES:,}" in text and "6 MB" in text


# --- never a 500 for the caller's mistake -------------------------------------------------------------------------

@pytest.mark.parametrize("role", [["user"], {"a": 1}], ids=["list", "dict"])
def test_a_chat_role_of_the_wrong_type_is_a_400_naming_the_field(runtime, lambda_context, role):
    event = {"chain": "chat", "input": {"messages": [{"role": role, "content": "hi"}]}}
    status, body = handler.handle(event, lambda_context, runtime=runtime)
    assert status == 400 and body["error"]["field"] == "messages[0].role"


def test_summarize_with_a_number_as_text_is_a_400_naming_the_field(runtime, lambda_context):
    status, body = handler.handle({"chain": "summarize", "input": {"text": 12345}}, lambda_context, runtime=runtime)
    assert status == 400 and body["error"]["field"] == "text"


@pytest.mark.parametrize("constant", ["Infinity", "NaN", "-Infinity"])
def test_a_function_url_body_with_non_finite_numbers_is_a_400_in_strict_json(runtime, lambda_context, constant):
    body = '{"chain": "qa", "input": {"question": "q"}, "options": {"max_cost_usd": %s}}' % constant
    status, answer = handler.handle(http(body), lambda_context, runtime=runtime)
    assert status == 400 and constant.lstrip("-") in answer["error"]["message"]
    written = handler.lambda_response(http(body), status, answer)
    assert written["statusCode"] == 400 and strict_loads(written["body"])["ok"] is False


def test_a_body_is_never_written_with_a_non_finite_number():
    written = handler.lambda_response(http("{}"), 200, {"ok": True, "score": float("nan"), "x": [float("inf")]})
    assert strict_loads(written["body"]) == {"ok": True, "score": None, "x": [None]}


def test_a_non_object_body_is_answered_in_json_terms(runtime, lambda_context):
    status, body = handler.handle(http('"just a string"'), lambda_context, runtime=runtime)
    assert status == 400 and "a string" in body["error"]["message"] and "str" not in body["error"]["message"].split()
    status, body = handler.handle(http("{not json"), lambda_context, runtime=runtime)
    assert status == 400 and "line 1" in body["error"]["message"] and "Expecting" not in body["error"]["message"]


# --- configuration failures: typed 500s, no internals in the body ---------------------------------------------------

def _lambda(event=None):
    from chains import reset_default_runtime

    reset_default_runtime()
    return handler.lambda_handler(event or QA, FakeLambdaContext())


def test_chains_config_naming_a_directory_is_a_typed_500(clean_env, tmp_path):
    clean_env.setenv("CHAINS_CONFIG", str(tmp_path))
    body = _lambda()
    assert body["error"]["type"] == "ConfigError" and body["error"]["status"] == 500
    assert str(tmp_path) not in json.dumps(body)


def test_a_config_that_is_not_utf8_is_a_typed_500(clean_env, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00models: {}")
    clean_env.setenv("CHAINS_CONFIG", str(path))
    body = _lambda()
    assert body["error"]["type"] == "ConfigError" and str(tmp_path) not in json.dumps(body)


def test_a_broken_yaml_file_keeps_its_path_and_excerpt_out_of_the_body(clean_env, tmp_path, caplog):
    path = tmp_path / "config.yaml"
    path.write_text("models: [\n  secret_excerpt: {\n")
    clean_env.setenv("CHAINS_CONFIG", str(path))
    body = _lambda()
    text = json.dumps(body)
    assert body["error"]["type"] == "ConfigError" and "config.yaml" in text
    assert str(tmp_path) not in text and "secret_excerpt" not in text


@pytest.mark.parametrize("name, value", [
    ("AWS_REGION", "us east 1"),
    ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://[::1"),
    ("BEDROCK_LOCAL_FAULTS", "{not json"),
])
def test_a_malformed_environment_is_a_config_error_not_an_internal_error(clean_env, name, value):
    if name != "AWS_ENDPOINT_URL_BEDROCK_RUNTIME":
        clean_env.setenv("CHAINS_BACKEND", "local")
    clean_env.setenv(name, value)
    body = _lambda()
    assert body["ok"] is False and body["error"]["type"] == "ConfigError" and body["error"]["status"] == 500
    assert value not in json.dumps(body) or name == "AWS_REGION"


def test_an_observability_error_names_the_file(clean_env, tmp_path, caplog):
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    data["observability"] = {"bogus": 1}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    clean_env.setenv("CHAINS_CONFIG", str(tmp_path / "config.yaml"))
    clean_env.setenv("CHAINS_BACKEND", "local")
    body = _lambda()
    assert body["error"]["type"] == "ConfigError"
    assert "config.yaml" in body["error"]["message"] and "configuration passed in code" not in body["error"]["message"]
    assert "observability.bogus" in body["error"]["message"]


# --- prompt files stay inside prompts/ ----------------------------------------------------------------------------

def test_a_symlink_out_of_the_prompts_folder_is_refused(tmp_path):
    folder = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", folder)
    secret = tmp_path / "config.yaml"
    secret.write_text("secret_key: 1\n")
    (folder / "leak.yaml").symlink_to(secret)
    library = PromptLibrary(folder)
    assert "leak" not in library.names() and "qa" in library.names()
    with pytest.raises(Exception) as info:
        library.load("leak")
    assert "secret_key" not in str(info.value)


# --- the route log line -------------------------------------------------------------------------------------------

def test_the_route_log_line_names_signals_not_the_matched_text(clean_env, lambda_context, capsys):
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-chains")
    clean_env.delenv("LOG_PROMPTS", raising=False)
    rt = build_runtime(backend="local", notice=False)
    question = ("Prove the theorem: derive the integral of zyxwquux(x) and debug this python code "
                "`def zyxwquux(): import os` step by step? Why? How?")
    status, body = handler.handle({"chain": "qa", "input": {"question": question}}, lambda_context, runtime=rt)
    assert status == 200 and body["route"]["signals"]  # the caller's own response has the full reason
    out = capsys.readouterr()
    lines = [json.loads(line) for line in (out.out + out.err).splitlines() if line.startswith("{")]
    # The route is on the request's one INFO line (the result line).
    route = next(line for line in lines if line.get("event") == "result")
    assert "zyxwquux" not in json.dumps(route)
    assert route["route"]["signals"] == [s.split(" (")[0] for s in body["route"]["signals"]]


def test_an_unreachable_endpoint_is_not_echoed_in_attempts(clean_env, lambda_context, caplog):
    """botocore's "Could not connect to the endpoint URL: ..." reaches the body without the URL (host, path)."""
    sock = __import__("socket").socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused, at once
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clean_env.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", f"http://127.0.0.1:{port}")
    rt = build_runtime(backend="bedrock", notice=False)
    status, body = handler.handle(QA, lambda_context, runtime=rt)
    assert status == 503 and body["error"]["type"] == "AllModelsFailed"
    text = json.dumps(body)
    assert f"127.0.0.1:{port}" not in text and "<endpoint>" in text
