"""chains.tokens: the estimator, windows, CountTokens, the estimate-vs-actual log, the budget report, and
input optimisation (chains.optimize), as a caller of the chains sees them."""

import logging

import pytest

import handler
from bedrock_local import count_input_tokens
from chains import InputTooLarge, get_chain
from chains.tokens.optimize import normalize_whitespace, optimize_inputs, remove_duplicate_lines
from chains.tokens.estimator import (
    estimate,
    estimate_messages,
    estimate_text,
    fits,
    input_budget,
    too_large,
    usable_window,
)
from chains.limits import output_reserve as output_tokens
from helpers.token_fixtures import converse_text, small_config, small_runtime


@pytest.fixture
def rt(clean_env):
    return small_runtime()


# --- the estimator and windows ------------------------------------------------------------------------------
def test_local_estimator_is_the_emulators_formula():
    from langchain_core.messages import AIMessage, HumanMessage

    assert [estimate_text(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]
    messages = [HumanMessage("x" * 10), AIMessage([{"type": "text", "text": "y" * 8}]), HumanMessage("z")]
    assert estimate_messages(messages) == (3 + 3) + (3 + 2) + (3 + 1)


def test_windows_margins_and_output_reserve(clean_env):
    settings = small_runtime().settings
    assert usable_window(settings, "haiku") == 1800 and usable_window(settings, "haiku", exact=True) == 2000
    assert output_tokens(settings, "lite") == 200  # params.max_tokens
    assert output_tokens(settings, "lite", 5000) == 300  # capped by max_output_tokens
    assert input_budget(settings, "haiku", 300) == 1500
    assert fits(settings, "haiku", 1500, 300) and not fits(settings, "haiku", 1501, 300)
    assert fits(settings, "haiku", 1700, 300, exact=True)


def test_too_large_says_how_large_and_what_fits(clean_env):
    settings = small_runtime().settings
    err = too_large(settings, ["lite", "haiku"], 9000, 300)
    assert isinstance(err, InputTooLarge) and err.status == 413
    assert "~9000 tokens" in err.message and "~1500 input tokens (haiku" in err.message
    assert err.details["max_input_tokens"] == {"lite": 780, "haiku": 1500}


# --- CountTokens --------------------------------------------------------------------------------------------
def _messages(rt, text="What is Amazon Bedrock?"):
    return rt.prompts.load("qa").format_messages({"question": text, "context": "Bedrock hosts models."})


def test_exact_count_asks_count_tokens_where_config_allows(clean_env):
    rt = small_runtime(models={"haiku": {"count_tokens_api": True}})
    emulator = rt.factory.emulator
    messages = _messages(rt)
    local = estimate(rt.settings, "haiku", messages, factory=rt.factory)
    assert local.method == "local" and local.tokens == estimate_messages(messages) and emulator.calls == []

    exact = estimate(rt.settings, "haiku", messages, exact=True, factory=rt.factory)
    [record] = emulator.calls
    assert record.operation == "CountTokens" and exact.method == "count_tokens" and exact.exact
    assert exact.tokens == record.input_tokens
    # the local estimate also counts 3 for the system message, which the emulator (like Bedrock) does not
    assert exact.tokens == local.tokens - 3

    # a model whose config does not say count_tokens_api never gets a CountTokens call
    assert estimate(rt.settings, "lite", messages, exact=True, factory=rt.factory).method == "local"
    assert len(emulator.calls) == 1


def test_count_tokens_failure_falls_back_to_the_local_estimate(clean_env, caplog):
    rt = small_runtime(models={"haiku": {"count_tokens_api": True}})
    rt.factory.emulator.add_fault("haiku", error="ThrottlingException")
    with caplog.at_level(logging.WARNING, logger="chains.tokens.estimator"):
        est = estimate(rt.settings, "haiku", _messages(rt), exact=True, factory=rt.factory)
    assert est.method == "local"
    [warning] = [r for r in caplog.records if r.name == "chains.tokens.estimator"]
    assert warning.error_class == "throttled" and warning.model_alias == "haiku"


def test_options_exact_count_reaches_count_tokens_through_a_chain(clean_env):
    rt = small_runtime(models={"haiku": {"count_tokens_api": True}})
    emulator = rt.factory.emulator
    result = get_chain("summarize", rt).invoke({"text": "Bedrock hosts models. " * 10, "options": {"exact_count": True}})
    operations = [c.operation for c in emulator.calls]
    assert operations.count("CountTokens") == 1 and operations[-1] == "Converse"
    get_chain("summarize", rt).invoke({"text": "Bedrock hosts models. " * 10})
    assert [c.operation for c in emulator.calls].count("CountTokens") == 1  # not asked: no extra call
    assert result["output"]


def test_every_call_logs_its_estimate_next_to_the_actual_count_without_prompt_text(rt, caplog):
    secret = "the-launch-code-is-4711"
    with caplog.at_level(logging.DEBUG, logger="chains.tokens.estimator"):
        result = get_chain("qa", rt).invoke({"question": f"What is {secret}?"})
    [record] = [r for r in caplog.records if r.name == "chains.tokens.estimator"]
    assert record.actual_input_tokens == result["usage"]["input_tokens"] == rt.factory.emulator.calls[0].input_tokens
    assert record.estimated_input_tokens >= record.actual_input_tokens
    assert record.model_alias == "haiku" and record.estimate_error >= 0
    assert secret not in record.getMessage() and all(secret not in str(v) for v in record.__dict__.values())


# --- budget -------------------------------------------------------------------------------------------------
def test_a_budget_is_enforced_before_spending_on_a_single_call(rt, lambda_context):
    event = {"chain": "summarize", "input": {"text": "Bedrock hosts models. " * 60}, "options": {"max_cost_usd": 1e-7}}
    status, body = handler.handle(event, lambda_context, runtime=rt)
    assert status == 400 and body["error"]["type"] == "BudgetExceeded"
    assert rt.factory.emulator.calls == []


def test_a_budget_is_reported_estimate_and_actual(rt):
    result = get_chain("summarize", rt).invoke({"text": "Bedrock hosts models. " * 60, "options": {"max_cost_usd": 0.01}})
    budget = result["budget"]
    assert budget == {
        "max_cost_usd": 0.01,
        "estimated_cost_usd": result["route"]["estimated_cost_usd"],
        "cost_usd": result["cost_usd"],
        "within_budget": True,
    }
    assert 0 < budget["cost_usd"] and budget["estimated_cost_usd"] > 0
    assert "budget" not in get_chain("summarize", rt).invoke({"text": "Bedrock hosts models."})


# --- optimisation -------------------------------------------------------------------------------------------
def test_whitespace_normalisation_keeps_indentation_and_paragraphs():
    text = "Title\r\n\r\n\r\n\r\nSome   words\t\there.   \n    def f():\n        return  1\u00a0\u00a0!\u200b\n"
    assert normalize_whitespace(text) == "Title\n\nSome words here.\n    def f():\n        return 1 !"


def test_duplicate_lines_are_removed_but_short_lines_stay():
    text = "Page header of the report\nfirst\n}\nPage header of the report\nsecond\n}\n  Page header of the report  "
    out, removed = remove_duplicate_lines(text, min_line_chars=16)
    assert removed == 2 and out == "Page header of the report\nfirst\n}\nsecond\n}"


REPORT = "\n".join(
    ["ACME Corp quarterly report - confidential - page footer"] * 1
    + [f"Line {i}:   revenue    grew  in region {i % 7}   .   " for i in range(50)]
    + ["ACME Corp quarterly report - confidential - page footer"] * 12
)


def test_long_inputs_are_optimised_by_default_and_the_saving_is_reported(rt):
    emulator = rt.factory.emulator
    on = get_chain("qa", rt).invoke({"question": "How did revenue grow?", "context": REPORT})
    optimized_tokens = emulator.calls[-1].input_tokens
    report = on["optimization"]
    assert report["fields"] == ["context"] and report["duplicate_lines_removed"] == 12
    assert report["tokens_before"] == estimate_text(REPORT) and report["tokens_after"] < report["tokens_before"]
    assert report["saved_tokens"] == report["tokens_before"] - report["tokens_after"]
    sent = converse_text(emulator.calls[-1])
    assert sent.count("page footer") == 1 and "revenue    grew" not in sent

    off = get_chain("qa", rt).invoke({"question": "How did revenue grow?", "context": REPORT, "options": {"optimize": False}})
    assert "optimization" not in off
    # what Bedrock counted shrank by the reported saving (+-1: the field is rounded inside a larger message)
    assert abs(emulator.calls[-1].input_tokens - optimized_tokens - report["saved_tokens"]) <= 1


def test_short_inputs_are_left_alone(rt):
    result = get_chain("qa", rt).invoke({"question": "Why   so    many spaces?"})
    assert "optimization" not in result
    assert "Why   so    many spaces?" in converse_text(rt.factory.emulator.calls[-1])


def test_config_switches_optimisation_off_and_the_option_wins(clean_env):
    rt = small_runtime(tokens={"optimize": {"enabled": False}})
    assert "optimization" not in get_chain("qa", rt).invoke({"question": "q?", "context": REPORT})
    forced = get_chain("qa", rt).invoke({"question": "q?", "context": REPORT, "options": {"optimize": True}})
    assert forced["optimization"]["saved_tokens"] > 0


def test_optimize_inputs_touches_only_long_strings(clean_env):
    settings = small_runtime(tokens={"optimize": {"min_tokens": 10}}).settings
    inputs = {"short": "a   b", "long": "x  y " * 20, "history": [{"role": "user", "content": "hi   there"}]}
    out, report = optimize_inputs(settings, inputs)
    assert out["short"] == "a   b" and out["history"] == inputs["history"] and out["long"].startswith("x y x y")
    assert report["fields"] == ["long"]


def test_the_emulator_never_counts_more_than_the_estimate(rt):
    inputs = {"question": "What is Bedrock?", "context": "A service.  "}
    get_chain("qa", rt).invoke(inputs)
    [record] = rt.factory.emulator.calls
    planned = estimate_messages(rt.prompts.load("qa").format_messages(inputs))
    assert record.input_tokens == count_input_tokens(record.body) <= planned


def test_the_default_config_validates_its_tokens_section(runtime):
    from chains.tokens.settings import tokens_config

    cfg = tokens_config(runtime.settings)
    assert cfg.chunk_size == 8000 and cfg.max_concurrency == 4 and cfg.optimize.enabled is True
    assert small_config()["tokens"]["chunk_size"] == 400


def test_non_ascii_text_counts_denser_but_never_below_the_emulator(rt):
    from bedrock_local import estimate_tokens

    samples = {"中文的令牌比较多": 8, "Привет, как дела?": 8, "héllo wörld": 4, "plain ascii text": 4}
    for text, expected in samples.items():
        assert estimate_text(text) == expected >= estimate_tokens(text)
    # additive, so a chunk never estimates above the sum of its parts (the splitter relies on it)
    assert estimate_text("中文" + "abc") <= estimate_text("中文") + estimate_text("abc")
