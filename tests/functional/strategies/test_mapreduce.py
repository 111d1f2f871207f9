"""map_reduce (the summarize chain): one call when the input fits, else split / map / collapse / reduce with
every call inside its model's window, as bedrock_local (configured with the same small windows) saw it."""

import re
import threading

import pytest
from langchain_core.callbacks import BaseCallbackHandler

import handler
from bedrock_local import count_input_tokens
from chains import ConfigError, get_chain
from chains.strategies.map_reduce import group_sizes
from chains.tokens.estimator import estimate_messages
from helpers.token_fixtures import converse_text, document, small_config, small_runtime

PROMPT_HEAD = "Summarise the following text.\n\n"


@pytest.fixture
def rt(clean_env):
    return small_runtime()


def summarize(rt, text, **options):
    payload = {"text": text}
    if options:
        payload["options"] = options
    return get_chain("summarize", rt).invoke(payload)


def document_part(record):
    text = converse_text(record)
    assert text.startswith(PROMPT_HEAD)
    return text[len(PROMPT_HEAD):]


def test_a_document_larger_than_every_window_is_map_reduced_with_every_call_inside_its_window(rt):
    emulator = rt.factory.emulator
    doc = document(paragraphs=60)
    # The check has teeth: the whole document in one call is refused by the emulator, as Bedrock would.
    with pytest.raises(Exception, match="Input is too long for requested model"):
        rt.factory.chat_model("haiku").invoke(doc)
    assert emulator.calls[-1].error == "ValidationException"
    emulator.reset_calls()

    result = summarize(rt, doc)

    calls = emulator.calls
    assert result["chunks"] > 10 and result["calls"] == len(calls) == sum(result["map_reduce"]["levels"])
    levels = result["map_reduce"]["levels"]
    assert levels[0] == result["chunks"] and levels[-1] == 1 and len(levels) >= 3  # at least one collapse
    for record in calls:
        profile = emulator.profiles[record.model_id]
        max_tokens = record.body["inferenceConfig"]["maxTokens"]
        assert record.error is None and record.status == 200
        assert record.input_tokens == count_input_tokens(record.body)
        # inside the window with the configured 10 % margin, output reserve included
        assert record.input_tokens + max_tokens <= int(profile.context_window * 0.9), record.input_tokens
    # map and collapse calls write at most tokens.map_max_tokens; the reduce uses the prompt's max_tokens,
    # capped by the model (summarize.yaml asks 700; these models allow 300)
    assert {c.body["inferenceConfig"]["maxTokens"] for c in calls[:-1]} == {100}
    assert calls[-1].body["inferenceConfig"]["maxTokens"] == 300
    assert result["output"] and result["model"] == calls[-1].model_id
    assert result["route"]["strategy"] == "map_reduce" and "map-reduce" in result["route"]["reason"]
    # usage is Bedrock's own count over all calls, and the cost is that usage at the configured prices
    assert result["usage"]["input_tokens"] == sum(c.input_tokens for c in calls)
    assert result["usage"]["output_tokens"] == sum(c.output_tokens for c in calls)
    prices = {m["model_id"]: m["price"] for m in small_config()["models"].values()}
    expected = sum(
        c.input_tokens * prices[c.model_id]["input_per_1k"] / 1000 + c.output_tokens * prices[c.model_id]["output_per_1k"] / 1000
        for c in calls
    )
    assert result["cost_usd"] == pytest.approx(expected, rel=1e-6)
    # the worst-case plan is an upper bound of what was spent
    assert result["cost_usd"] <= result["map_reduce"]["estimated_cost_usd"]
    assert result["calls"] <= result["map_reduce"]["planned_calls_max"]


def test_chunks_overlap_and_cover_the_whole_document(clean_env):
    rt = small_runtime(tokens={"chunk_size": 200, "chunk_overlap": 30})
    doc = document(paragraphs=12, sep=" ")  # one long paragraph: the splitter falls back to words
    result = summarize(rt, doc, optimize=False)
    # map calls are the ones over document text (collapse and reduce read partial results); the batch
    # runs them concurrently, so put them back in document order
    texts = [document_part(r) for r in rt.factory.emulator.calls]
    parts = sorted((t for t in texts if not t.startswith("[bedrock_local")), key=lambda t: doc.index(t[:80]))
    assert len(parts) == result["chunks"] > 3
    for before, after in zip(parts, parts[1:]):
        head = after[:60]
        assert head in before, "each chunk starts inside the one before it (the overlap)"
        shared = len(before) - before.index(head)
        assert 60 <= shared <= 30 * 4 + 20  # about chunk_overlap tokens of text
    for sentence in re.findall(r"Part \d+ line \d+ [^.]*\.", doc):
        assert any(sentence in p for p in parts), sentence


def test_an_input_that_fits_is_one_ordinary_call(rt):
    result = summarize(rt, document(paragraphs=2))
    assert (result["chunks"], result["calls"]) == (1, 1)
    assert len(rt.factory.emulator.calls) == 1
    assert "map_reduce" not in result and result["route"]["model"] in ("lite", "haiku")


def _text_of_tokens(rt, tokens):
    """A text whose summarize prompt estimates at exactly ``tokens`` input tokens."""
    prompt = rt.prompts.load("summarize")
    base = estimate_messages(prompt.format_messages({"text": "x"}))
    text = "x"
    while estimate_messages(prompt.format_messages({"text": text})) < tokens:
        text += "abcd"
    assert estimate_messages(prompt.format_messages({"text": text})) == tokens, base
    return text


def test_the_switch_to_map_reduce_is_exact_at_the_largest_window(rt):
    # haiku: 2000 window, 10 % margin, 300 reserved for the answer -> 1500 input tokens fit one call
    fits = summarize(rt, _text_of_tokens(rt, 1500), optimize=False)
    assert (fits["chunks"], fits["route"]["model"]) == (1, "haiku")
    assert rt.factory.emulator.calls[-1].input_tokens <= 1500
    one_more = summarize(rt, _text_of_tokens(rt, 1501), optimize=False)
    assert one_more["chunks"] > 1


def test_the_map_step_is_a_batch_bounded_by_max_concurrency(clean_env):
    rt = small_runtime(tokens={"max_concurrency": 2})
    rt.factory.emulator.add_fault("*", latency_ms=15)  # calls last long enough to overlap

    class InFlight(BaseCallbackHandler):
        def __init__(self):
            self.now = self.peak = 0
            self.lock = threading.Lock()

        def on_chat_model_start(self, *args, **kwargs):
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)

        def on_llm_end(self, *args, **kwargs):
            with self.lock:
                self.now -= 1

    counter = InFlight()
    result = get_chain("summarize", rt).invoke({"text": document(paragraphs=20)}, config={"callbacks": [counter]})
    assert result["chunks"] > 4 and result["map_reduce"]["max_concurrency"] == 2
    assert counter.peak == 2


def test_a_budget_below_the_plan_is_refused_before_anything_is_spent(rt, lambda_context):
    event = {"chain": "summarize", "input": {"text": document(paragraphs=60)}, "options": {"max_cost_usd": 0.0001}}
    status, body = handler.handle(event, lambda_context, runtime=rt)
    assert status == 400 and body["error"]["type"] == "BudgetExceeded"
    error = body["error"]
    assert error["estimated_cost_usd"] > 0.0001 and error["chunks"] > 10 and error["planned_calls"] > error["chunks"]
    assert "nothing was spent" in error["message"]
    assert rt.factory.emulator.calls == []


def test_a_budget_above_the_plan_is_reported_with_the_actual_cost(rt):
    result = summarize(rt, document(paragraphs=60), max_cost_usd=0.01)
    budget = result["budget"]
    assert budget["max_cost_usd"] == 0.01 and budget["within_budget"] is True
    assert budget["cost_usd"] == result["cost_usd"] <= budget["estimated_cost_usd"] <= 0.01


def test_the_budget_moves_map_reduce_to_a_cheaper_model(clean_env):
    # quality preference would route to haiku; only lite's whole plan fits the budget
    rt = small_runtime(models={"haiku": {"quality": 3}})
    doc = document(paragraphs=40)
    free = summarize(rt, doc, prefer="quality")
    assert free["map_reduce"]["model"] == "haiku"
    plan_lite = summarize(rt, doc, prefer="quality", max_cost_usd=free["map_reduce"]["estimated_cost_usd"] * 0.6)
    assert plan_lite["map_reduce"]["model"] == "lite"
    assert plan_lite["map_reduce"]["estimated_cost_usd"] <= free["map_reduce"]["estimated_cost_usd"] * 0.6


def test_a_throttled_model_falls_over_for_each_chunk(rt):
    rt.factory.emulator.add_fault("lite", error="ThrottlingException", first_n=3)
    result = summarize(rt, document(paragraphs=30))
    throttled = [a for a in result["attempts"] if a["error_class"] == "throttled"]
    assert len(throttled) == 3 and all(a["alias"] == "lite" for a in throttled)
    assert result["chunks"] > 1 and result["output"]


def test_a_failure_keeps_the_usage_already_spent(rt, lambda_context):
    emulator = rt.factory.emulator
    # half the calls fail (seeded, so every run fails the same calls): some chunks fail on both models
    emulator.add_fault("*", error="ServiceUnavailableException", rate=0.5)
    event = {"chain": "summarize", "input": {"text": document(paragraphs=40)}}
    status, body = handler.handle(event, lambda_context, runtime=rt)
    assert status == 503 and body["ok"] is False
    error = body["error"]
    answered = [c for c in emulator.calls if c.error is None]
    assert answered and error["usage"]["input_tokens"] == sum(c.input_tokens for c in answered)
    assert error["map_reduce_step"] == "map" and error["calls"] == len(answered)


def test_a_context_overflow_on_the_single_call_switches_to_map_reduce(rt):
    # the estimate says it fits, the models disagree (their tokenizers count more): split instead
    rt.factory.emulator.add_fault("*", error="ValidationException", message="Input is too long for requested model.", first_n=2)
    result = summarize(rt, document(paragraphs=8))
    assert result["chunks"] > 1
    overflow = [a for a in result["attempts"] if a["error_class"] == "context_overflow"]
    assert len(overflow) == 2


def test_a_plan_deeper_than_max_collapse_depth_is_a_413_before_spending(clean_env, lambda_context):
    rt = small_runtime(tokens={"max_collapse_depth": 1, "chunk_size": 100, "chunk_overlap": 10})
    event = {"chain": "summarize", "input": {"text": document(paragraphs=80)}}
    status, body = handler.handle(event, lambda_context, runtime=rt)
    assert status == 413 and body["error"]["type"] == "InputTooLarge"
    assert "collapse level" in body["error"]["message"]
    assert rt.factory.emulator.calls == []


def test_a_chain_can_override_the_tokens_section(clean_env):
    rt = small_runtime(chains={"summarize": {"prompt": "summarize", "strategy": "map_reduce", "settings": {"chunk_size": 200}}})
    small = summarize(rt, document(paragraphs=30))
    big = summarize(small_runtime(), document(paragraphs=30))
    assert small["map_reduce"]["chunk_tokens"] == 200 and big["map_reduce"]["chunk_tokens"] == 400
    assert small["chunks"] > big["chunks"]


@pytest.mark.parametrize(
    "tokens, words",
    [
        ({"chunk_sise": 10}, "tokens.chunk_sise: unknown key"),
        ({"chunk_size": 100, "chunk_overlap": 60}, "at most half of chunk_size"),
        ({"max_concurrency": 0}, "tokens.max_concurrency"),
    ],
)
def test_an_invalid_tokens_section_is_a_config_error_naming_the_key(clean_env, tokens, words):
    rt = small_runtime(tokens=tokens)
    with pytest.raises(ConfigError, match=re.escape(words)):
        summarize(rt, document(paragraphs=30))


def test_an_unknown_chain_setting_names_the_chain(clean_env):
    rt = small_runtime(chains={"summarize": {"prompt": "summarize", "strategy": "map_reduce", "settings": {"chunks": 3}}})
    with pytest.raises(ConfigError, match=r"chains\.summarize\.settings\.chunks: unknown key"):
        summarize(rt, document(paragraphs=30))


def test_group_sizes_keeps_each_group_inside_the_room():
    sizes = [400, 400, 400, 400, 400]  # chars: 100 tokens each
    groups = group_sizes(sizes, room=201)  # two fit with the separator (802 chars -> 201 tokens)
    assert groups == [[0, 1], [2, 3], [4]]
    assert group_sizes([4000], room=10) == [[0]]  # a single oversize part stays alone (the plan refuses it)


def test_default_config_summarises_a_long_document(runtime):
    # the shipped config: 200K/300K/1M windows (catalogue); a document of ~1M tokens fits none of them
    doc = document(paragraphs=7600)
    assert len(doc) > 3_800_000
    result = get_chain("summarize", runtime).invoke({"text": doc, "options": {"optimize": False}})
    assert result["chunks"] > 1 and result["calls"] == len(runtime.factory.emulator.calls)
    for record in runtime.factory.emulator.calls:
        assert record.error is None


def test_streaming_a_fitting_document_streams_and_a_long_one_arrives_whole(rt):
    short = list(get_chain("summarize", rt).stream({"text": document(paragraphs=2)}))
    assert len(short) > 2 and short[0].keys() == {"output"}
    total = short[0]
    for c in short[1:]:
        total = total + c
    assert (total["chunks"], total["calls"]) == (1, 1) and total["output"]
    assert rt.factory.emulator.calls[-1].operation == "ConverseStream"

    long = list(get_chain("summarize", rt).stream({"text": document(paragraphs=30)}))
    assert long[0]["chunks"] > 1 and long[0]["output"] and long[-1]["usage"]["input_tokens"] > 0
