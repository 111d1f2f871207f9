"""Prompt caching placed automatically and priced exactly (issue 18), on the in-process bedrock_local through the
real langchain-aws + boto3 stack: what each model is sent, what the response reports, what it costs."""

from __future__ import annotations

import pytest

from chains import build_runtime, load_config
from chains.caching.facts import CacheFacts
from chains.caching.placement import PREFIXES, candidates, select
from chains.errors import PinnedModelUnsuitable, PromptError
from chains.prompts import PromptLibrary
from helpers.caching_helpers import assert_exact, price_of, text_of

HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # caches: min 4,096 tokens per checkpoint
# claude_sonnet is set to a model without prompt caching (a cachePoint is a 400): Llama 3.3 70B, active (the
# seed's Claude 3 Sonnet, which these tests used, is at end of life and refused by bedrock_local).
SONNET3 = "us.meta.llama3-3-70b-instruct-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"  # caches: min 1,000 tokens, system and messages only


@pytest.fixture(autouse=True)
def _cold_prefixes():
    PREFIXES.clear()  # the LRU is per process; each test starts cold, like its emulator
    yield
    PREFIXES.clear()


def _config(chains=None):
    data = load_config(env={}).model_dump()
    haiku = data["models"]["claude_haiku"]
    haiku.update(model_id=HAIKU45, price={"input_per_1k": 0.001, "output_per_1k": 0.005})
    data["models"]["claude_sonnet"] = {k: v for k, v in data["models"]["claude_sonnet"].items()
                                       if k in ("model_id_env", "params", "quality", "tier", "retry")}
    data["models"]["claude_sonnet"]["model_id"] = SONNET3  # its figures from the catalogue
    data["chains"].update({
        "qa_fb": {"prompt": "qa", "strategy": "fallback", "models": ["claude_haiku", "claude_sonnet"]},
        "qa_nocache": {"prompt": "qa", "strategy": "routed", "cache": "off"},
        **(chains or {}),
    })
    return data


@pytest.fixture
def rt(clean_env):
    runtime = build_runtime(_config(), backend="local", notice=False)
    runtime.factory.emulator.keep_bodies = True  # the tests read what each model was sent
    return runtime


def sent(rt, model):
    return [c.body for c in rt.factory.emulator.calls_for(model)]


def cache_points(body):
    blocks = list(body.get("system") or [])
    for m in body.get("messages") or []:
        blocks += m.get("content") or []
    return [b for b in blocks if "cachePoint" in b]


# --- placement ---------------------------------------------------------------------------------------------------


def test_a_long_context_is_cached_after_the_context_and_read_by_the_next_question(rt):
    qa = rt.chain("qa")
    context = text_of(6000)
    first = qa.invoke({"question": "Where are the boxes?", "context": context, "options": {"model": "claude_haiku"}})
    second = qa.invoke({"question": "Who keeps them?", "context": context, "options": {"model": "claude_haiku"}})
    [b1, b2] = sent(rt, "claude-haiku-4-5")
    # One checkpoint, right after the context: the question follows it (the system prompt alone is too short).
    content = b1["messages"][0]["content"]
    point = next(i for i, b in enumerate(content) if "cachePoint" in b)
    assert content[point - 1]["text"].endswith(context) and "Question: Where are the boxes?" in content[point + 1]["text"]
    assert len(cache_points(b1)) == 1 and not any("cachePoint" in b for b in b1.get("system") or [])
    assert first["usage"]["cache_write_input_tokens"] >= 6000 and first["usage"]["cache_read_input_tokens"] == 0
    assert second["usage"]["cache_read_input_tokens"] == first["usage"]["cache_write_input_tokens"]
    assert second["usage"]["cache_write_input_tokens"] == 0 and second["cost_usd"] < first["cost_usd"] / 3
    assert len(cache_points(b2)) == 1
    assert_exact(rt, first)
    assert_exact(rt, second)


def test_a_fallback_to_a_model_without_caching_sends_no_cache_point(rt):
    rt.factory.emulator.add_fault("claude-haiku-4-5", error="ThrottlingException")
    out = rt.chain("qa_fb").invoke({"question": "Where?", "context": text_of(6000)})
    assert out["model"] == SONNET3 and out["attempts"][0]["error_class"] == "throttled"
    [haiku_body] = sent(rt, "claude-haiku-4-5")
    [sonnet_body] = sent(rt, "llama3-3-70b")
    assert len(cache_points(haiku_body)) == 1  # the caching model was offered the checkpoint ...
    assert cache_points(sonnet_body) == []  # ... the fallback without caching got none (else: Bedrock's 400)
    # and was sent the prompt exactly as with caching off: one plain text block
    assert [list(b) for b in sonnet_body["messages"][0]["content"]] == [["text"]]
    assert out["usage"]["cache_write_input_tokens"] == 0
    assert_exact(rt, out)


def test_under_the_models_minimum_no_checkpoint(rt):
    qa = rt.chain("qa")
    context = text_of(2000)  # above Nova's 1,000-token minimum, below Haiku 4.5's 4,096
    haiku = qa.invoke({"question": "Where?", "context": context, "options": {"model": "claude_haiku"}})
    nova = qa.invoke({"question": "Where?", "context": context, "options": {"model": "nova_pro"}})
    assert cache_points(sent(rt, "claude-haiku-4-5")[0]) == []
    assert haiku["usage"]["cache_write_input_tokens"] == 0
    assert len(cache_points(sent(rt, NOVA)[0])) == 1 and nova["usage"]["cache_write_input_tokens"] > 0


def test_cache_off_per_request_and_per_chain_sends_none(rt):
    context = text_of(3000)
    rt.chain("qa").invoke({"question": "Where?", "context": context,
                           "options": {"model": "nova_pro", "cache": "off"}})
    rt.chain("qa_nocache").invoke({"question": "Where?", "context": context, "options": {"model": "nova_pro"}})
    assert [cache_points(b) for b in sent(rt, NOVA)] == [[], []]


def test_an_unknown_cache_option_is_a_400(rt):
    from chains.errors import BadRequest

    with pytest.raises(BadRequest, match="options.cache"):
        rt.chain("qa").invoke({"question": "Where?", "options": {"cache": "always"}})


def test_never_more_checkpoints_than_the_model_allows(rt):
    turns = []
    for i in range(6):  # six long user turns: a candidate after each, plus the system prompt
        turns += [{"role": "user", "content": text_of(1200, f"turn{i}")}, {"role": "assistant", "content": "Noted."}]
    turns.append({"role": "user", "content": "Summarise the turns."})
    first = rt.chain("chat").invoke({"messages": turns[:-1] + [turns[-1]], "options": {"model": "nova_pro"}})
    body = sent(rt, NOVA)[0]
    assert len(cache_points(body)) == 4  # Nova allows 4; a fifth would be a 400
    # The kept ones are the latest (longest prefixes): the last user turns, not the short system prompt.
    assert not any("cachePoint" in b for b in body.get("system") or [])
    assert first["usage"]["cache_write_input_tokens"] > 0
    # The model's own limit is what counts: a model allowing 2 gets the last 2.
    from langchain_core.messages import HumanMessage, SystemMessage

    msgs = [SystemMessage([{"type": "text", "text": "s"}, {"cachePoint": {"type": "default"}}])] + [
        HumanMessage([{"type": "text", "text": text_of(500)}, {"cachePoint": {"type": "default"}}]) for _ in range(3)]
    kept = select(CacheFacts(100, 2, "5m", ("system", "messages")), msgs, candidates(msgs))
    assert [cp.message for cp in kept] == [2, 3]


def test_a_twenty_turn_chat_reads_the_earlier_turns_from_the_cache(rt):
    chat = rt.chain("chat")
    history = [{"role": "user", "content": "Here is the file:\n" + text_of(3000)}]
    reads = []
    for turn in range(6):  # more candidates than checkpoints: the kept ones move with the conversation
        out = chat.invoke({"messages": history, "options": {"model": "nova_pro"}})
        reads.append(out["usage"]["cache_read_input_tokens"])
        history += [{"role": "assistant", "content": out["output"]}, {"role": "user", "content": f"And {turn}?"}]
        assert_exact(rt, out)
    assert reads[0] == 0 and all(r >= 3000 for r in reads[1:])
    assert all(len(cache_points(b)) <= 4 for b in sent(rt, NOVA))


def test_compare_places_per_model_and_prices_each_exactly(rt):
    context = text_of(6000)
    compare = rt.chain("compare")
    first = compare.invoke({"question": "Where?", "context": context, "options": {"judge": False}})
    second = compare.invoke({"question": "Who?", "context": context, "options": {"judge": False}})
    assert len(cache_points(sent(rt, NOVA)[0])) == 1 and len(cache_points(sent(rt, "claude-haiku-4-5")[0])) == 1
    assert cache_points(sent(rt, "llama3-3-70b")[0]) == []
    by_model = {r["alias"]: r for r in second["results"]}
    assert by_model["nova_pro"]["usage"]["cache_read_input_tokens"] > 0
    assert by_model["claude_haiku"]["usage"]["cache_read_input_tokens"] > 0
    assert by_model["claude_sonnet"]["usage"]["cache_read_input_tokens"] == 0
    for body in (first, second):
        assert_exact(rt, body)
        for r in body["results"]:
            assert r["cost_usd"] == pytest.approx(price_of(rt, r["model"], r["usage"]), rel=1e-6, abs=1e-8)


def test_stream_and_batch_are_priced_exactly(rt):
    qa = rt.chain("qa")
    context = text_of(3000)
    chunks = list(qa.stream({"question": "Where?", "context": context, "options": {"model": "nova_pro"}}))
    streamed = {k: v for c in chunks for k, v in c.items() if k != "output"}
    assert streamed["usage"]["cache_write_input_tokens"] > 0
    assert_exact(rt, streamed)
    outs = qa.batch([{"question": q, "context": context, "options": {"model": "nova_pro"}} for q in ("A?", "B?")])
    for out in outs:
        assert out["usage"]["cache_read_input_tokens"] > 0  # the stream wrote the prefix
        assert_exact(rt, out)


# --- the router's prefix LRU ----------------------------------------------------------------------------------


def test_a_warm_prefix_lowers_the_estimate_so_the_budget_does_not_refuse(rt):
    qa = rt.chain("qa")
    context = text_of(8000)
    ask = {"question": "Where?", "context": context}
    cold = qa.invoke({**ask, "options": {"model": "nova_pro"}})
    assert "cached prefix" not in cold["route"]["reason"]
    warm_estimate = None
    rt.factory.emulator.reset_calls()
    PREFIXES.clear()
    # Cold: the estimate is the full input price; a budget below it refuses the pinned model.
    budget = cold["route"]["estimated_cost_usd"] * 0.6
    with pytest.raises(PinnedModelUnsuitable, match="max_cost_usd"):
        qa.invoke({**ask, "options": {"model": "nova_pro", "max_cost_usd": budget}})
    assert rt.factory.emulator.calls == []
    qa.invoke({**ask, "options": {"model": "nova_pro"}})  # writes (or reads) the prefix: now warm in this process
    warm = qa.invoke({**ask, "options": {"model": "nova_pro", "max_cost_usd": budget}})
    warm_estimate = warm["route"]["estimated_cost_usd"]
    assert warm_estimate < budget < cold["route"]["estimated_cost_usd"]
    assert "cached prefix" in warm["route"]["reason"]
    assert warm["route"]["cached_prefix_tokens"]["nova_pro"] >= 8000
    assert warm["usage"]["cache_read_input_tokens"] > 0


def test_a_cold_model_is_not_penalised(rt):
    qa = rt.chain("qa")
    context = text_of(8000)
    out = qa.invoke({"question": "Where?", "context": context})
    plain = rt.chain("qa_nocache").invoke({"question": "Where?", "context": context})
    # Same order, same estimates (to the token the split prompt rounds up): a model whose cache is cold costs
    # what it costs without caching; no write premium is added.
    assert out["route"]["candidates"] == plain["route"]["candidates"] and not out["route"]["cached_prefix_tokens"]
    for alias, estimate in plain["route"]["costs"].items():
        assert out["route"]["costs"][alias] == pytest.approx(estimate, rel=1e-3)


# --- the prompt file says what is stable ----------------------------------------------------------------------


def test_cache_after_must_name_a_variable(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "input_variables: [question]\nmessages:\n  - {role: human, content: '{question}'}\n"
        "metadata: {cache_after: [context]}\n")
    (tmp_path / "good.yaml").write_text(
        "input_variables: [question]\nmessages:\n  - {role: system, content: 'Be brief.'}\n"
        "  - {role: human, content: '{question}'}\nmetadata: {cache_after: [instructions, question]}\n")
    lib = PromptLibrary(tmp_path)
    with pytest.raises(PromptError, match="cache_after names context, which is not a variable"):
        lib.load("bad")
    assert lib.load("good").metadata.cache_after == ["instructions", "question"]


def test_the_default_prompts_say_what_is_stable(rt):
    stable = {name: rt.prompts.load(name).metadata.cache_after for name in ("qa", "summarize", "chat", "judge")}
    assert stable == {"qa": ["context"], "summarize": ["instructions"], "chat": ["messages"],
                      "judge": ["instructions"]}


# --- metrics and logs -----------------------------------------------------------------------------------------


def test_cache_tokens_and_dollars_saved_in_emf_and_logs(clean_env, lambda_context, capsys):
    import handler
    from helpers.obs_helpers import emf_for, metric_values, split_output

    clean_env.setenv("AWS_LAMBDA_FUNCTION_NAME", "bedrock-chains")
    for name in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_SERVICE_NAME",
                 "POWERTOOLS_METRICS_NAMESPACE", "AWS_LAMBDA_LOG_LEVEL", "LOG_PROMPTS"):
        clean_env.delenv(name, raising=False)
    data = _config()
    data["observability"] = {**data.get("observability", {}), "metrics": {"namespace": "TestChains"}}
    rt = build_runtime(data, backend="local", notice=False)
    event = {"chain": "qa", "input": {"question": "Where?", "context": text_of(3000)},
             "options": {"model": "nova_pro"}}
    handler.handle(event, lambda_context, runtime=rt)
    capsys.readouterr()
    status, body = handler.handle(event, lambda_context, runtime=rt)  # the second reads the prefix
    assert status == 200
    logs, emf, _ = split_output(capsys.readouterr().out)
    usage = body["usage_by_model"][NOVA]
    assert usage["cache_read_input_tokens"] > 0 and usage["cache_saved_usd"] > 0
    values = metric_values(emf_for(emf, NOVA))
    assert values["CacheReadInputTokens"] == usage["cache_read_input_tokens"]
    assert values["CacheWriteInputTokens"] == usage["cache_write_input_tokens"]
    assert values["CacheSavedUSD"] == pytest.approx(usage["cache_saved_usd"])
    # Saved = the same tokens billed as plain input, minus what was billed.
    nova = rt.settings.models["nova_pro"].price
    plain = ((usage["input_tokens"] + usage["cache_read_input_tokens"] + usage["cache_write_input_tokens"])
             * nova.input_per_1k + usage["output_tokens"] * nova.output_per_1k) / 1000
    assert usage["cache_saved_usd"] == pytest.approx(plain - usage["cost_usd"], abs=1e-8)
    [result] = [line for line in logs if line.get("event") == "result"]
    [call] = result["model_calls"]  # at INFO the model call is summarised in the result line
    assert call["cache_read_input_tokens"] == usage["cache_read_input_tokens"]
    assert result["cache_saved_usd"] == pytest.approx(usage["cache_saved_usd"])
