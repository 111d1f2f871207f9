"""Logs and metrics as a Lambda user reads them in CloudWatch, and as a CLI/notebook user sees them on stderr.

Every test drives the real handler, chain, langchain-aws and boto3 against the in-process bedrock_local, then
reads back what was printed (Powertools JSON lines and EMF documents).
"""

from __future__ import annotations

import json
import logging

import pytest

import handler
from chains.chain import StrategySpec
from chains import build_runtime, get_chain, observability
from chains.observability.call_observer import ModelCallObserver
from helpers.obs_helpers import HAIKU, NOVA, config_with, emf_for, events, load_event, metric_values, split_output

SECRET_QUESTION = "Where does the PURPLE-GIRAFFE-7781 live?"


@pytest.fixture(autouse=True)
def fresh_observability():
    observability.reset()
    yield
    observability.reset()


@pytest.fixture
def in_lambda(clean_env):
    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-chains")
    for name in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_SERVICE_NAME",
                 "POWERTOOLS_METRICS_NAMESPACE", "AWS_LAMBDA_LOG_LEVEL", "LOG_PROMPTS"):
        clean_env.delenv(name, raising=False)
    return clean_env


def runtime_with(observability_section):
    return build_runtime(config_with(observability=observability_section), backend="local", notice=False)


def qa_event(question=SECRET_QUESTION, **options):
    return {"chain": "qa", "input": {"question": question, "context": "Giraffes live in the savanna."},
            "options": options}


def test_lambda_logs_are_json_lines_carrying_request_id_chain_and_cold_start(in_lambda, runtime, lambda_context, capsys):
    status, body = handler.handle(qa_event(), lambda_context, runtime=runtime)
    assert status == 200
    out, err = capsys.readouterr()
    logs, emf, other = split_output(out)
    # At INFO a request is one line at its end; the request, route and model call lines are folded into it.
    assert events(logs) == ["result"]
    for line in logs:  # the lines of one request, each with its keys
        assert line["request_id"] == lambda_context.aws_request_id
        assert line["function_request_id"] == lambda_context.aws_request_id
        assert line["chain"] == "qa"
        assert line["cold_start"] is True
        assert line["service"] == "bedrock-chains"
    result = next(line for line in logs if line.get("event") == "result")
    assert result["status"] == 200 and result["model"] == HAIKU and result["cost_usd"] == body["cost_usd"]
    assert result["level"] == "INFO" and result["usage"] == body["usage"]
    [call] = result["model_calls"]
    assert call["model"] == HAIKU and call["alias"] == "claude_haiku" and call["attempt"] == 1 and call["ok"]
    assert call["input_tokens"] == body["usage"]["input_tokens"] and call["output_tokens"] == body["usage"]["output_tokens"]
    assert call["stop_reason"] == "end_turn" and call["latency_ms"] > 0
    assert result["route"]["model"] == "claude_haiku" and result["route"]["reason"]
    assert result["route"]["estimated_input_tokens"] > 0  # next to usage.input_tokens: the estimate's error
    assert result["source"] == "direct" and result["requested_chain"] == "qa"
    assert result["input_fields"] == ["context", "question"] and result["input_chars"] > 0
    # No prompt or answer text without LOG_PROMPTS.
    assert "PURPLE-GIRAFFE" not in out + err and "savanna" not in out + err
    assert body["output"] not in out + err
    assert not [line for line in other if line.strip()], other

    handler.handle(qa_event(), lambda_context, runtime=runtime)
    logs, _, _ = split_output(capsys.readouterr().out)
    assert logs and all(line["cold_start"] is False for line in logs)


def test_emf_metrics_per_request_with_chain_and_model_dimensions(in_lambda, lambda_context, capsys):
    rt = runtime_with({"metrics": {"namespace": "TestChains"}})
    status, body = handler.handle(qa_event(), lambda_context, runtime=rt)
    assert status == 200
    _, emf, _ = split_output(capsys.readouterr().out)
    doc = emf_for(emf, HAIKU)
    spec = doc["_aws"]["CloudWatchMetrics"][0]
    assert spec["Namespace"] == "TestChains"
    assert spec["Dimensions"] == [["chain", "model"], ["chain"]]
    assert doc["chain"] == "qa" and doc["request_id"] == lambda_context.aws_request_id
    units = {m["Name"]: m["Unit"] for m in spec["Metrics"]}
    assert units["Latency"] == "Milliseconds" and units["InputTokens"] == "Count" and units["CostUSD"] == "None"
    values = metric_values(doc)
    assert values["Requests"] == 1 and values["Errors"] == 0 and values["Fallbacks"] == 0
    assert values["InputTokens"] == body["usage"]["input_tokens"]
    assert values["OutputTokens"] == body["usage"]["output_tokens"]
    assert values["CostUSD"] == pytest.approx(body["cost_usd"])
    assert values["Latency"] == pytest.approx(body["latency_ms"])
    assert values["ModelCalls"] == 1 and values["ModelErrors"] == 0 and values["ModelLatency"] > 0
    assert values["ColdStart"] == 1

    handler.handle(qa_event(), lambda_context, runtime=rt)
    _, emf, _ = split_output(capsys.readouterr().out)
    assert "ColdStart" not in metric_values(emf_for(emf, HAIKU))


def test_a_model_error_is_logged_with_its_class_and_counted(in_lambda, runtime, emulator, lambda_context, capsys):
    emulator.add_fault("claude_haiku", error="ThrottlingException")
    status, body = handler.handle(qa_event(fallbacks=False), lambda_context, runtime=runtime)
    assert status == 429
    logs, emf, _ = split_output(capsys.readouterr().out)
    failed = [line for line in logs if line.get("event") == "model_call_error"]
    assert len(failed) == 1
    assert failed[0]["error_class"] == "throttled" and failed[0]["code"] == "ThrottlingException"
    assert failed[0]["level"] == "WARNING" and failed[0]["model"] == HAIKU
    error = next(line for line in logs if line.get("event") == "error")
    assert error["status"] == 429 and error["error_type"] == body["error"]["type"]
    assert error["level"] == "WARNING"  # a 4xx is the caller's or Bedrock's limit, not our failure
    per_model = metric_values(emf_for(emf, HAIKU))
    assert per_model["ModelCalls"] == 1 and per_model["ModelErrors"] == 1 and per_model["ModelThrottles"] == 1
    request = metric_values(emf_for(emf, "none"))
    assert request["Errors"] == 1 and request["Requests"] == 1
    assert emf_for(emf, "none")["error_type"] == body["error"]["type"]


def test_fallback_is_logged_from_the_response_attempts(in_lambda, lambda_context, capsys):
    pytest.importorskip("chains.strategies.routed")
    chains_section = config_with()["chains"]
    chains_section["resilient"] = {"prompt": "qa", "strategy": "fallback", "models": ["claude_haiku", "nova_pro"]}
    rt = build_runtime(config_with(chains=chains_section), backend="local", notice=False)
    rt.factory.emulator.add_fault("claude_haiku", error="ServiceUnavailableException")
    status, body = handler.handle({**qa_event(), "chain": "resilient"}, lambda_context, runtime=rt)
    assert status == 200, body
    assert body["model"] == NOVA and body["attempts"]
    logs, emf, _ = split_output(capsys.readouterr().out)
    order = [e for e in events(logs) if e in ("model_call_error", "model_call", "fallback", "result")]
    assert order == ["model_call_error", "fallback", "result"]  # the successful call is in the result line
    result = next(line for line in logs if line.get("event") == "result")
    assert [(c["model"], c["ok"]) for c in result["model_calls"]] == [(HAIKU, False), (NOVA, True)]
    assert result["model_calls"][0]["error_class"] == "unavailable" and result["attempts"] == 1
    fallback = next(line for line in logs if line.get("event") == "fallback")
    assert fallback["answered_by"] == NOVA and fallback["attempts"][0]["model"] == HAIKU
    assert fallback["attempts"][0]["error_class"] == "unavailable"
    answered = metric_values(emf_for(emf, NOVA))
    assert answered["Fallbacks"] == len(body["attempts"]) and answered["Requests"] == 1
    assert metric_values(emf_for(emf, HAIKU))["ModelErrors"] >= 1


def test_log_prompts_true_puts_prompt_and_answer_text_in_the_logs(in_lambda, runtime, lambda_context, capsys):
    in_lambda.setenv("LOG_PROMPTS", "true")
    in_lambda.setenv("LOG_LEVEL", "DEBUG")
    status, body = handler.handle(qa_event(), lambda_context, runtime=runtime)
    assert status == 200
    logs, _, _ = split_output(capsys.readouterr().out)
    by_event = {line.get("event"): line for line in logs}
    assert "PURPLE-GIRAFFE-7781" in by_event["request"]["input"]["question"]
    assert "PURPLE-GIRAFFE-7781" in by_event["model_call_start"]["prompt"]
    assert by_event["model_call"]["output"] == body["output"]
    assert by_event["result"]["output"] == body["output"]
    assert "PURPLE-GIRAFFE-7781" in by_event["result"]["input"]["question"]


@pytest.mark.parametrize("level, shown, hidden", [
    ("DEBUG", {"request", "model_call_start", "model_call", "result"}, set()),
    ("INFO", {"result"}, {"request", "model_call_start", "model_call", "route"}),
    ("ERROR", set(), {"request", "model_call", "route", "result"}),
])
def test_log_level_comes_from_LOG_LEVEL(in_lambda, runtime, lambda_context, capsys, level, shown, hidden):
    in_lambda.setenv("LOG_LEVEL", level)
    handler.handle(qa_event(), lambda_context, runtime=runtime)
    logs, emf, _ = split_output(capsys.readouterr().out)
    seen = set(events(logs))
    assert shown <= seen and not (hidden & seen)
    assert emf  # metrics do not depend on the log level


def test_an_invalid_LOG_LEVEL_falls_back_and_says_so(in_lambda, runtime, lambda_context, capsys):
    in_lambda.setenv("LOG_LEVEL", "chatty")
    status, _ = handler.handle(qa_event(), lambda_context, runtime=runtime)
    assert status == 200
    logs, _, _ = split_output(capsys.readouterr().out)
    assert any("LOG_LEVEL='chatty'" in line["message"] for line in logs)
    assert "result" in events(logs)  # INFO, the Lambda default


def test_metrics_are_off_locally_and_by_flag(clean_env, lambda_context, capsys):
    clean_env.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    rt = runtime_with({})
    handler.handle(qa_event(), lambda_context, runtime=rt)  # auto: a local run emits nothing
    out, err = capsys.readouterr()
    assert not split_output(out)[1] and not split_output(err)[1]

    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-chains")
    clean_env.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # Powertools' own switch wins over auto
    handler.handle(qa_event(), lambda_context, runtime=rt)
    out, err = capsys.readouterr()
    assert not split_output(out)[1] and split_output(out)[0]  # logs still there
    clean_env.delenv("POWERTOOLS_METRICS_DISABLED")

    handler.handle(qa_event(), lambda_context, runtime=runtime_with({"metrics": {"enabled": False}}))
    assert not split_output(capsys.readouterr().out)[1]


def test_metrics_turned_on_locally_go_to_stderr_never_stdout(clean_env, lambda_context, capsys):
    clean_env.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    handler.handle(qa_event(), lambda_context, runtime=runtime_with({"metrics": {"enabled": True}}))
    out, err = capsys.readouterr()
    assert out == ""
    assert metric_values(emf_for(split_output(err)[1], HAIKU))["Requests"] == 1


def test_local_logs_are_readable_lines_on_stderr(clean_env, runtime, capsys):
    clean_env.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    clean_env.setenv("LOG_LEVEL", "INFO")
    status, body = handler.handle(qa_event(), None, runtime=runtime)
    assert status == 200
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if "INFO" in line]
    result = next(line for line in lines if "result: 200" in line)
    assert f"[qa {body['request_id']}]" in result and "event=result" in result and "cold_start=true" in result
    assert not any(line.lstrip().startswith("{") for line in lines)  # readable, not JSON


def test_local_default_level_is_quiet(clean_env, runtime, capsys):
    clean_env.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    clean_env.delenv("LOG_LEVEL", raising=False)
    handler.handle(qa_event(), None, runtime=runtime)
    out, err = capsys.readouterr()
    assert out == "" and "result: 200" not in err


def test_an_unknown_chain_name_never_becomes_a_metric_dimension(in_lambda, runtime, lambda_context, capsys):
    status, _ = handler.handle({"chain": "zz-random-4242", "input": {}}, lambda_context, runtime=runtime)
    assert status == 404
    logs, emf, _ = split_output(capsys.readouterr().out)
    assert [d["chain"] for d in emf] == ["unknown"]
    assert metric_values(emf[0])["Errors"] == 1
    error = next(line for line in logs if line.get("event") == "error")
    assert error["chain"] == "zz-random-4242" and error["status"] == 404  # the logs keep the name


def test_the_observability_section_is_validated(in_lambda, lambda_context, capsys):
    rt = runtime_with({"metrics": {"namspace": "Typo"}})
    status, body = handler.handle(qa_event(), lambda_context, runtime=rt)
    assert status == 500 and body["error"]["type"] == "ConfigError"
    assert "observability.metrics.namspace: unknown key" in body["error"]["message"]
    logs, _, _ = split_output(capsys.readouterr().out)
    assert any(line.get("event") == "error" and line["level"] == "ERROR" for line in logs)

    with pytest.raises(Exception) as info:
        observability.load_observability({"log_format": "xml", "tracing": {"enabled": "maybe"}})
    assert "observability.log_format" in str(info.value) and "observability.tracing.enabled" in str(info.value)
    cfg = observability.load_observability({"metrics": {"enabled": "auto"}, "tracing": {"enabled": True}})
    assert cfg.metrics.namespace == "BedrockChains" and cfg.tracing.patch_modules == ["botocore"]


def test_environment_beats_the_file(in_lambda, lambda_context, capsys):
    in_lambda.setenv("POWERTOOLS_SERVICE_NAME", "my-function")
    in_lambda.setenv("POWERTOOLS_METRICS_NAMESPACE", "FromEnv")
    rt = runtime_with({"service": "from-file", "metrics": {"namespace": "FromFile"}, "log_level": "ERROR"})
    in_lambda.setenv("LOG_LEVEL", "INFO")
    handler.handle(qa_event(), lambda_context, runtime=rt)
    logs, emf, _ = split_output(capsys.readouterr().out)
    assert logs and {line["service"] for line in logs} == {"my-function"}
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in emf} == {"FromEnv"}


def test_notebook_use_is_silent_until_asked_then_goes_to_stderr(clean_env, runtime, capsys):
    clean_env.delenv("LOG_LEVEL", raising=False)
    assert not logging.getLogger("chains").handlers  # importing chains configured nothing
    chain = get_chain("qa", runtime)
    observability.configure_logging("INFO")
    chain.invoke({"question": "q?"}, config={"callbacks": [ModelCallObserver(runtime.settings)]})
    out, err = capsys.readouterr()
    assert out == ""
    assert "model call claude_haiku ok" in err and "event=model_call" in err
    observability.reset()
    assert not logging.getLogger("chains").handlers


def test_library_loggers_are_routed_into_the_same_json_lines(in_lambda, runtime, lambda_context, capsys):
    """Any module's ``chains.<module>`` logger gets the request keys without configuring anything."""
    library = logging.getLogger("chains.some_strategy")

    def strategy(chain, request, config):
        library.info("strategy step", extra={"step": "custom", "items": 3})
        return {"output": "x", "model": HAIKU, "route": {"model": "claude_haiku", "reason": "test"}}

    chain = get_chain("qa", runtime)
    original = chain.strategy
    chain.strategy = StrategySpec("custom", strategy)
    try:
        handler.handle(qa_event(), lambda_context, runtime=runtime)
    finally:
        chain.strategy = original
    logs, _, _ = split_output(capsys.readouterr().out)
    step = next(line for line in logs if line.get("step") == "custom")
    assert step["items"] == 3 and step["request_id"] == lambda_context.aws_request_id and step["chain"] == "qa"
    assert json.dumps(step)  # plain JSON


def test_concurrent_requests_in_one_process_keep_their_own_keys(in_lambda, runtime, lambda_context, capsys):
    """Local load tests run handle() in threads: each line must carry its own request's id."""
    from concurrent.futures import ThreadPoolExecutor

    in_lambda.setenv("LOG_LEVEL", "DEBUG")  # model_call lines too: they are logged from the worker threads
    FakeLambdaContext = type(lambda_context)
    pins = {f"req-{i}": ("nova_pro" if i % 2 else "claude_haiku") for i in range(8)}

    def one(request_id):
        return handler.handle(qa_event(model=pins[request_id], fallbacks=False), FakeLambdaContext(request_id),
                              runtime=runtime)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = [status for status, _ in pool.map(one, pins)]
    assert statuses == [200] * len(pins)
    logs, _, _ = split_output(capsys.readouterr().out)
    calls = [line for line in logs if line.get("event") in ("model_call", "result")]
    assert len(calls) == 2 * len(pins)
    for line in calls:
        expected = NOVA if pins[line["request_id"]] == "nova_pro" else HAIKU
        assert line["model"] == expected, line
        if line["event"] == "result":
            assert [c["model"] for c in line["model_calls"]] == [expected], line
