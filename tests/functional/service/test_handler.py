"""handler.lambda_handler: every event source, every error status, the response contract."""

import base64
import json
from pathlib import Path

import pytest

import handler
from chains import get_chain

EVENTS = Path(__file__).resolve().parents[3] / "events"
RESPONSE_KEYS = {"ok", "chain", "output", "model", "route", "attempts", "usage", "cost_usd", "latency_ms", "request_id"}


def load(name):
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def call(runtime, lambda_context):
    """Invoke the handler with the test's runtime (the same code path as lambda_handler)."""

    def _call(event, context=lambda_context):
        status, body = handler.handle(event, context, runtime=runtime)
        return status, body

    return _call


def test_direct_event_answers_the_contract(call, lambda_context):
    status, body = call(load("qa.json"))
    assert status == 200
    assert RESPONSE_KEYS <= set(body)
    assert body["ok"] is True and body["chain"] == "qa"
    assert body["model"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert body["route"]["model"] == "claude_haiku" and body["route"]["reason"]
    assert body["attempts"] == []
    assert body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + body["usage"]["output_tokens"] > 0
    assert body["cost_usd"] > 0 and body["latency_ms"] > 0
    assert body["request_id"] == lambda_context.aws_request_id
    assert "Amazon" in body["output"]
    json.dumps(body)  # the response is plain JSON


@pytest.mark.parametrize("fixture", ["function_url.json", "apigw_v2.json", "apigw_v1.json"])
def test_http_events_wrap_the_same_body(clean_env, runtime, lambda_context, fixture, monkeypatch):
    monkeypatch.setattr("chains.registry._default_runtime", runtime)
    out = handler.lambda_handler(load(fixture), lambda_context)
    assert out["statusCode"] == 200
    assert out["headers"]["content-type"] == "application/json"
    body = json.loads(out["body"])
    assert body["ok"] is True and RESPONSE_KEYS <= set(body)


def test_direct_event_returns_a_dict_without_status_wrapper(clean_env, runtime, lambda_context, monkeypatch):
    monkeypatch.setattr("chains.registry._default_runtime", runtime)
    out = handler.lambda_handler(load("qa.json"), lambda_context)
    assert "statusCode" not in out and out["ok"] is True


def http(body, b64=False):
    event = load("function_url.json")
    if b64:
        event["body"], event["isBase64Encoded"] = body, True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    return event


@pytest.mark.parametrize(
    "event, status, etype, words",
    [
        ({"chain": "translate", "input": {}}, 404, "UnknownChain", "available: "),
        ({"chain": "qa", "input": {"context": "x"}}, 400, "MissingVariables", "question"),
        ({"chain": "qa", "input": {"question": ["list"]}}, 400, "BadRequest", "must be a string"),
        ({"chain": "qa"}, 400, "MissingVariables", "question"),
        ({"input": {"question": "q"}}, 400, "BadRequest", "chain"),
        ({"chain": "qa", "input": {"question": "q"}, "extra": 1}, 400, "BadRequest", "unknown field 'extra'"),
        ({"chain": "qa", "input": {"question": "q", "colour": "red"}}, 400, "BadRequest", "colour"),
        ({"chain": "qa", "input": {"question": "q"}, "options": {"modle": "x"}}, 400, "BadRequest", "valid: "),
        ({"chain": "qa", "input": {"question": "q"}, "options": {"model": "gpt-4"}}, 400, "UnknownModel", "claude_haiku"),
        ({"chain": "qa", "input": {"question": "q"}, "options": {"max_tokens": -1}}, 400, "BadRequest", "max_tokens"),
        ({"chain": "qa", "input": "question?"}, 400, "BadRequest", "input"),
        (["not", "an", "object"], 400, "BadRequest", "JSON object"),
        (http("{not json"), 400, "BadRequest", "not valid JSON"),
        (http(""), 400, "BadRequest", "body is empty"),
        (http("***not base64***", b64=True), 400, "BadRequest", "base64"),
        (http(base64.b64encode(b'{"chain": "qa"}').decode(), b64=True), 400, "MissingVariables", "question"),
        (http('{"chain": "nope"}'), 404, "UnknownChain", "qa"),
    ],
)
def test_bad_requests_get_typed_errors(call, event, status, etype, words):
    got_status, body = call(event)
    assert got_status == status
    assert body["ok"] is False
    assert body["error"]["type"] == etype
    assert body["error"]["status"] == status
    assert words in body["error"]["message"]
    assert body["request_id"]
    assert "Traceback" not in json.dumps(body)


def test_http_error_status_codes(clean_env, runtime, lambda_context, monkeypatch):
    monkeypatch.setattr("chains.registry._default_runtime", runtime)
    out = handler.lambda_handler(http('{"chain": "nope"}'), lambda_context)
    assert out["statusCode"] == 404 and json.loads(out["body"])["error"]["available"]
    out = handler.lambda_handler(http("[1,2"), lambda_context)
    assert out["statusCode"] == 400


@pytest.mark.parametrize(
    "code, status, etype",
    [
        ("ThrottlingException", 429, "Throttled"),
        ("ServiceUnavailableException", 503, "ModelUnavailable"),
        ("InternalServerException", 503, "ModelUnavailable"),
        ("AccessDeniedException", 502, "ModelUnusable"),
        ("ResourceNotFoundException", 502, "ModelUnusable"),
    ],
)
def test_bedrock_failures_map_to_status(call, emulator, code, status, etype):
    """Single-model chain, the model fails: the error class decides the status; usage so far is kept."""
    emulator.add_fault("claude_haiku", error=code)
    got, body = call({"chain": "qa", "input": {"question": "q"}, "options": {"fallbacks": False}})
    assert got == status, body
    assert body["error"]["type"] in (etype, "AllModelsFailed")
    assert "usage" in body["error"]


def test_a_bug_is_500_without_internals(call, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("secret internal detail at /opt/code.py line 3")

    monkeypatch.setattr("chains.strategies.single.invoke_model", boom)
    monkeypatch.setattr("chains.calls.fallback.invoke_model", boom)  # qa is a routed chain
    status, body = call({"chain": "qa", "input": {"question": "q"}})
    assert status == 500
    assert body["error"]["type"] == "InternalError"
    assert "secret internal detail" not in json.dumps(body)


def test_options_inside_input_are_refused(call):
    status, body = call({"chain": "qa", "input": {"question": "q", "options": {}}})
    assert status == 400 and "options" in body["error"]["message"]


def test_chain_is_a_runnable_with_typed_schema(runtime):
    chain = get_chain("qa", runtime)
    schema = chain.get_input_schema().model_json_schema()
    assert schema["required"] == ["question"]
    assert {"question", "context", "options"} <= set(schema["properties"])
    out_schema = chain.get_output_schema().model_json_schema()
    assert {"output", "model", "usage", "cost_usd"} <= set(out_schema["properties"])
    results = chain.batch([{"question": "a?"}, {"question": "b?"}])
    assert [r["model"] for r in results] == ["us.anthropic.claude-haiku-4-5-20251001-v1:0"] * 2


def test_models_are_built_once_and_share_one_client(runtime):
    factory = runtime.factory
    a = factory.chat_model("claude_haiku")
    assert factory.chat_model("claude_haiku") is a
    b = factory.chat_model("nova_pro")
    assert a.client is b.client  # one boto3 client per region and retry policy


def test_pinned_model_via_options_and_configurable(runtime):
    chain = get_chain("qa", runtime)
    out = chain.invoke({"question": "q", "options": {"model": "nova_pro"}})
    assert out["model"] == "us.amazon.nova-pro-v1:0"
    out = chain.with_config(configurable={"model": "claude_sonnet"}).invoke({"question": "q"})
    assert out["model"] == "us.anthropic.claude-sonnet-5-5"


def test_prompt_option_outside_compare_is_refused(call):
    status, body = call({"chain": "qa", "input": {"question": "q"}, "options": {"prompt": "summarize"}})
    assert status == 400 and "compare chain only" in body["error"]["message"]


@pytest.mark.parametrize("path", sorted(p.name for p in EVENTS.glob("*.json")))
def test_every_sample_event(call, path):
    """Every sample in events/ is answered as documented: ok for chains, a typed error for bad_*.json."""
    status, body = call(load(path))
    if path.startswith("bad_"):
        assert status in (400, 404) and body["ok"] is False
    else:
        assert status == 200, body
        assert body["ok"] is True and body["output"] and body["cost_usd"] > 0


def test_an_unknown_error_inside_a_model_call_is_not_blamed_on_the_caller(runtime):
    """A failure that is neither Bedrock's nor botocore's (here a callback that raises) propagates as itself:
    the handler turns it into a 500, never a 400 ModelClientError, and no other model is tried."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Broken(BaseCallbackHandler):
        raise_error = True

        def on_chat_model_start(self, *args, **kwargs):
            raise RuntimeError("bug in a callback")

    with pytest.raises(RuntimeError, match="bug in a callback"):
        get_chain("qa", runtime).invoke({"question": "q"}, config={"callbacks": [Broken()]})
    assert len(runtime.factory.emulator.calls) == 0
