"""The compare chain against bedrock_local: parallel branches, isolation, skips, the judge, the shuffle."""

import copy
import json
import random
from pathlib import Path

import pytest
import yaml

import handler
from chains import build_runtime, get_chain
from chains.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
EVENT = json.loads((ROOT / "events" / "compare.json").read_text())
ALL = ["nova_pro", "claude_haiku", "claude_sonnet"]
IDS = {
    "nova_pro": "us.amazon.nova-pro-v1:0",
    "claude_haiku": "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "claude_sonnet": "us.anthropic.claude-sonnet-5-5",
}
ENTRY_KEYS = {"alias", "model", "status", "output", "latency_ms", "bedrock_latency_ms", "usage", "cost_usd",
              "stop_reason"}


def base_config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def runtime_with(cfg):
    return build_runtime(cfg, backend="local", notice=False)


def event(**options):
    e = copy.deepcopy(EVENT)
    e["options"] = options
    return e


@pytest.fixture
def call(runtime, lambda_context):
    def _call(evt, rt=None, context=lambda_context):
        return handler.handle(evt, context, runtime=rt or runtime)

    return _call


def by_alias(body):
    return {e["alias"]: e for e in body["results"]}


def converse_calls(emulator, alias):
    """Answer calls to ``alias`` (the judge's call carries structured output and is counted apart)."""
    return [c for c in emulator.calls_for(IDS[alias]) if not _structured(c)]


def _structured(c):
    """A structured-output call: forced tool use (toolConfig) or native structured output (outputConfig)."""
    return "toolConfig" in (c.body or {}) or "outputConfig" in (c.body or {})


def judge_calls(emulator):
    return [c for c in emulator.calls_for(IDS["claude_sonnet"]) if _structured(c)]


# --- the comparison ----------------------------------------------------------------------------------------


def test_every_model_answers_with_latency_usage_cost(call, emulator, runtime):
    # Different latency per model: the ordering shows up in the entries and the summary.
    emulator.add_fault("nova_pro", latency_ms=400)
    emulator.add_fault("claude_sonnet", latency_ms=100)
    status, body = call(event())
    assert status == 200 and body["ok"] is True
    assert [e["alias"] for e in body["results"]] == ALL  # config order
    prices = runtime.settings.models
    for e in body["results"]:
        assert ENTRY_KEYS <= set(e) and e["status"] == "ok"
        assert e["model"] == IDS[e["alias"]] and e["output"].strip()
        assert e["stop_reason"] == "end_turn" and e["bedrock_latency_ms"] > 0
        u = e["usage"]
        assert u["total_tokens"] == u["input_tokens"] + u["output_tokens"] > 0
        p = prices[e["alias"]].price
        assert e["cost_usd"] == pytest.approx((u["input_tokens"] * p.input_per_1k + u["output_tokens"] * p.output_per_1k) / 1000)
        assert len(converse_calls(emulator, e["alias"])) == 1  # each model called exactly once
    r = by_alias(body)
    # bedrock_latency_ms is Bedrock's latencyMs passed through (the emulator reports its profile plus the
    # injected latency); latency_ms is our wall time, which orders the same way as the injected latencies.
    injected = {"nova_pro": 400, "claude_haiku": 0, "claude_sonnet": 100}
    for alias, e in r.items():
        lat = prices[alias].latency
        expected = lat.first_token_ms + lat.per_token_ms * e["usage"]["output_tokens"] + injected[alias]
        assert e["bedrock_latency_ms"] == round(expected)
    assert r["nova_pro"]["latency_ms"] > r["claude_haiku"]["latency_ms"]
    s = body["summary"]
    assert s["fastest"] == min(r, key=lambda a: r[a]["latency_ms"]) != "nova_pro"
    assert s["cheapest"] == "nova_pro"  # slowest here, but the cheapest per token (catalogue prices)
    assert s["slowest_model_ms"] == max(e["latency_ms"] for e in r.values())
    assert (s["answered"], s["failed"], s["skipped"]) == (3, 0, 0)
    # The whole comparison's cost includes the judge and equals what the usage callback counted.
    assert s["judge_cost_usd"] > 0
    assert s["total_cost_usd"] == pytest.approx(s["models_cost_usd"] + s["judge_cost_usd"])
    assert s["total_cost_usd"] == pytest.approx(body["cost_usd"], rel=1e-6)
    assert body["usage_by_model"][IDS["claude_sonnet"]]["input_tokens"] > r["claude_sonnet"]["usage"]["input_tokens"]
    # The best answer is the response's output, and its model id is `model`.
    best = r[body["route"]["model"]]
    assert body["output"] == best["output"] and body["model"] == best["model"]
    assert body["attempts"] == []


@pytest.mark.parametrize("code, error_class", [
    ("ThrottlingException", "throttled"),
    ("ServiceUnavailableException", "unavailable"),
    ("AccessDeniedException", "model_unusable"),
    ("ValidationException", "client_error"),
])
def test_a_failing_model_is_an_entry_and_the_others_still_answer(call, emulator, code, error_class):
    emulator.add_fault("nova_pro", error=code)
    status, body = call(event())
    assert status == 200 and body["ok"] is True
    r = by_alias(body)
    assert r["nova_pro"]["status"] == "error" and "output" not in r["nova_pro"]
    assert r["nova_pro"]["error"]["error_class"] == error_class and r["nova_pro"]["error"]["code"] == code
    assert r["claude_haiku"]["status"] == r["claude_sonnet"]["status"] == "ok"
    assert body["summary"]["failed"] == 1 and body["summary"]["answered"] == 2
    assert [a["alias"] for a in body["attempts"]] == ["nova_pro"]
    assert body["attempts"][0]["error_class"] == error_class
    # Only the answers that exist are judged.
    assert sorted(o["model"] for o in body["judge"]["order"]) == ["claude_haiku", "claude_sonnet"]
    assert body["route"]["model"] in ("claude_haiku", "claude_sonnet")


def test_a_model_over_the_deadline_is_cut_and_the_judge_still_scores_the_rest(call, emulator, lambda_context):
    # Haiku would take 5 s; the request allows 1.2 s. With the judge on, models get 75% of the time.
    # Warm first: the deadline starts at the entry, so a cold start's imports and clients count against it.
    call(event(models=["nova_pro", "claude_haiku"]))
    emulator.add_fault("claude_haiku", latency_ms=5000)
    status, body = call(event(models=["nova_pro", "claude_haiku"], timeout_ms=1200))
    assert status == 200 and body["ok"] is True
    r = by_alias(body)
    assert r["claude_haiku"]["status"] == "error"
    assert r["claude_haiku"]["error"]["error_class"] == "deadline"
    assert r["claude_haiku"]["error"]["type"] == "DeadlineExceeded"
    assert r["nova_pro"]["status"] == "ok" and body["model"] == IDS["nova_pro"]
    assert body["judge"]["error"] is None and list(body["judge"]["scores"]) == ["nova_pro"]


def test_every_model_down_is_one_error_listing_them(call, emulator):
    emulator.add_fault("*", error="ThrottlingException")
    status, body = call(event())
    assert status == 429 and body["ok"] is False
    err = body["error"]
    assert err["type"] == "AllModelsFailed"
    assert sorted(a["alias"] for a in err["attempts"]) == sorted(ALL)
    assert [e["status"] for e in err["results"]] == ["error"] * 3
    assert judge_calls(emulator) == []  # nothing to judge


def test_options_models_picks_and_orders_the_models(call, emulator):
    status, body = call(event(models=["claude_haiku", "nova_pro", "claude_haiku"], judge=False))
    assert status == 200
    assert [e["alias"] for e in body["results"]] == ["claude_haiku", "nova_pro"]  # de-duplicated, order kept
    assert body["route"]["candidates"] == ["claude_haiku", "nova_pro"]
    assert emulator.calls_for(IDS["claude_sonnet"]) == []


@pytest.mark.parametrize("options, status, fragment", [
    ({"models": ["claude_haiku", "gpt_4"]}, 400, "configured models: claude_haiku, claude_sonnet, nova_pro"),
    ({"models": []}, 400, "options.models is empty"),
    ({"model": "claude_haiku"}, 400, "options.models, not options.model"),
    ({"prompt": "summarize"}, 400, "unknown input field"),
    ({"prompt": "../config"}, 400, "unknown prompt '../config' in options.prompt; available prompts: "),
    ({"prompt": ""}, 400, "unknown prompt '' in options.prompt"),
])
def test_bad_compare_options_are_400s_naming_what_exists(call, emulator, options, status, fragment):
    code, body = call(event(**options))
    assert code == status and body["ok"] is False
    assert fragment in body["error"]["message"]
    assert emulator.calls == []


def test_options_prompt_picks_another_prompt_file(call, emulator):
    status, body = call({"chain": "compare", "input": {"text": "Bedrock hosts models. Nova is Amazon's."},
                         "options": {"prompt": "summarize", "models": ["claude_haiku"], "judge": False}})
    assert status == 200 and body["results"][0]["status"] == "ok"
    sent = emulator.calls_for(IDS["claude_haiku"])[0].body
    assert "summaries" in json.dumps(sent["system"])  # the summarize prompt's system message


# --- models that cannot take the input -------------------------------------------------------------------


def small_window_config(tmp_path=None):
    cfg = base_config()
    tiny = copy.deepcopy(cfg["models"]["claude_haiku"])
    tiny.update(model_id="amazon.nova-micro-v1:0", context_window=300, max_output_tokens=256)
    tiny.pop("model_id_env", None)
    cfg["models"]["tiny"] = tiny
    return cfg


def test_a_model_whose_window_is_too_small_is_skipped_not_called(clean_env, lambda_context):
    rt = runtime_with(small_window_config())
    status, body = handler.handle(event(), lambda_context, runtime=rt)
    assert status == 200 and body["ok"] is True
    r = by_alias(body)
    assert [e["alias"] for e in body["results"]] == ALL + ["tiny"]
    assert r["tiny"]["status"] == "skipped" and r["tiny"]["skip_class"] == "context_window"
    assert "usable window of 270" in r["tiny"]["skip_reason"]
    assert rt.factory.emulator.calls_for("amazon.nova-micro-v1:0") == []
    assert body["summary"]["skipped"] == 1 and body["summary"]["answered"] == 3
    skip = [a for a in body["attempts"] if a["alias"] == "tiny"]
    assert skip and skip[0]["skipped"] is True
    assert "tiny" not in [o["model"] for o in body["judge"]["order"]]


def test_no_model_fits_is_a_413_with_the_reasons(clean_env, lambda_context):
    rt = runtime_with(small_window_config())
    status, body = handler.handle(event(models=["tiny"]), lambda_context, runtime=rt)
    assert status == 413 and body["error"]["type"] == "InputTooLarge"
    assert body["error"]["results"][0]["skip_class"] == "context_window"
    assert rt.factory.emulator.calls == []


def test_a_model_without_a_required_capability_is_skipped(clean_env, lambda_context, tmp_path):
    for name in ("qa", "judge"):
        (tmp_path / f"{name}.yaml").write_text((ROOT / "prompts" / f"{name}.yaml").read_text())
    qa = yaml.safe_load((ROOT / "prompts" / "qa.yaml").read_text())
    qa["metadata"]["requires"] = ["vision"]
    (tmp_path / "qa_vision.yaml").write_text(yaml.safe_dump(qa))
    cfg = base_config()
    cfg["prompts_dir"] = str(tmp_path)
    cfg["models"]["nova_pro"]["capabilities"] = {"vision": False}
    rt = runtime_with(cfg)
    status, body = handler.handle(event(prompt="qa_vision", judge=False), lambda_context, runtime=rt)
    assert status == 200
    r = by_alias(body)
    assert r["nova_pro"]["status"] == "skipped" and r["nova_pro"]["skip_class"] == "capability"
    assert "requires vision" in r["nova_pro"]["skip_reason"]
    assert rt.factory.emulator.calls_for(IDS["nova_pro"]) == []
    assert r["claude_haiku"]["status"] == "ok"


def test_max_cost_skips_models_estimated_above_it(call, emulator):
    # At 512 output tokens (catalogue prices): Sonnet 5.5 ~$0.0053; Haiku 4.5 ~$0.0027 and Nova Pro ~$0.0017 stay
    # under $0.003.
    status, body = call(event(max_cost_usd=0.003, judge=False))
    r = by_alias(body)
    assert r["claude_sonnet"]["status"] == "skipped" and r["claude_sonnet"]["skip_class"] == "budget"
    assert r["nova_pro"]["status"] == r["claude_haiku"]["status"] == "ok"
    assert emulator.calls_for(IDS["claude_sonnet"]) == []


# --- the judge ---------------------------------------------------------------------------------------------


def test_judge_scores_every_answer_and_the_best_becomes_the_output(call, emulator):
    # bedrock_local fills numeric fields of a structured answer with the numbers of the prompt, in order:
    # this question makes the scores 3, 9 and 5 for labels A, B and C.
    e = event(seed=11)
    e["input"]["question"] = "Rank 3, 9 and 5: which model family does Amazon Nova belong to?"
    status, body = call(e)
    assert status == 200
    judge = body["judge"]
    assert judge["enabled"] and judge["model"] == "claude_sonnet" and judge["model_id"] == IDS["claude_sonnet"]
    assert judge["also_compared"] is True and judge["error"] is None
    assert len(judge["criteria"]) == 3
    labels = {o["model"]: o["label"] for o in judge["order"]}
    assert sorted(labels.values()) == ["A", "B", "C"]
    scores = {a: s["score"] for a, s in judge["scores"].items()}
    assert sorted(scores) == sorted(ALL) and len(set(scores.values())) == 3
    for e_ in body["results"]:
        assert e_["score"] == scores[e_["alias"]] and e_["label"] == labels[e_["alias"]] and e_["rationale"]
    top = max(scores, key=scores.get)
    assert body["route"]["model"] == top == body["summary"]["best_scored"]
    assert body["model"] == IDS[top] and body["output"] == by_alias(body)[top]["output"]
    assert "best judge score" in body["route"]["reason"]
    assert len(judge_calls(emulator)) == 1


def test_the_judge_sees_anonymous_answers_in_the_recorded_order(call, emulator):
    status, body = call(event(seed=5))
    [jc] = judge_calls(emulator)
    sent = json.dumps(jc.body)
    for alias, model_id in IDS.items():
        assert alias not in sent and model_id not in sent  # no model named, not even the emulator's marker
    text = "".join(b.get("text", "") for m in jc.body["messages"] for b in m["content"])
    positions = [text.index(f'<answer label="{o["label"]}">') for o in body["judge"]["order"]]
    assert positions == sorted(positions)
    # The schema asks for one verdict per label, so a valid reply scores every answer exactly once. Claude Sonnet
    # 5.5 takes no forced tool use (catalogue tool_choice: auto), so the schema goes as native structured output.
    assert "toolConfig" not in jc.body
    schema = json.loads(jc.body["outputConfig"]["textFormat"]["structure"]["jsonSchema"]["schema"])
    props = schema["properties"]
    assert sorted(props) == ["answer_A", "answer_B", "answer_C"]


def test_the_shuffle_is_recorded_and_reproducible(call, runtime, lambda_context):
    def order(body):
        return [o["model"] for o in body["judge"]["order"]]

    # An explicit seed: the documented algorithm recomputes the order.
    _, one = call(event(seed=7))
    _, two = call(event(seed=7))
    expected = sorted(ALL)
    random.Random(7).shuffle(expected)
    assert one["judge"]["seed"] == 7 and one["judge"]["seed_source"] == "options.seed"
    assert order(one) == order(two) == expected
    # Without a seed it is derived from the request id: the same id, the same order.
    from tests.conftest import FakeLambdaContext

    _, a1 = call(event(), context=FakeLambdaContext("req-42"))
    _, a2 = call(event(), context=FakeLambdaContext("req-42"))
    assert a1["judge"]["seed_source"] == "request_id"
    assert a1["judge"]["seed"] == a2["judge"]["seed"] and order(a1) == order(a2)
    # And it really shuffles: across seeds, more than one order appears.
    from chains.strategies.compare.judge import shuffled_order

    assert len({tuple(shuffled_order(ALL, s)) for s in range(10)}) > 1


def test_without_a_request_id_the_seed_comes_from_the_input(runtime):
    chain = get_chain("compare", runtime)
    inp = {"question": "What is Nova?", "options": {"models": ["claude_haiku", "nova_pro"]}}
    one, two = chain.invoke(inp), chain.invoke(inp)
    assert one["judge"]["seed_source"] == "input" and one["judge"]["seed"] == two["judge"]["seed"]
    other = chain.invoke({**inp, "question": "What is Claude?"})
    assert other["judge"]["seed"] != one["judge"]["seed"]


def test_a_failing_judge_leaves_the_comparison_without_scores(call, emulator):
    emulator.add_fault("claude_sonnet", error="ThrottlingException")
    status, body = call(event(models=["nova_pro", "claude_haiku"]))
    assert status == 200 and body["ok"] is True
    judge = body["judge"]
    assert judge["scores"] is None and judge["error"]["error_class"] == "throttled"
    assert judge["model"] == "claude_sonnet" and len(judge["order"]) == 2 and judge["seed"] is not None
    assert all(e["status"] == "ok" and "score" not in e for e in body["results"])
    # Documented rule without scores: the first model in the compared order that answered.
    assert body["route"]["model"] == "nova_pro" and "judge failed" in body["route"]["reason"]
    assert body["summary"]["best_scored"] is None
    assert [a.get("role") for a in body["attempts"]] == ["judge"]


def test_judge_off_means_no_judge_call(call, emulator):
    emulator.add_fault("nova_pro", error="ServiceUnavailableException")
    status, body = call(event(judge=False))
    assert status == 200
    assert body["judge"]["enabled"] is False and body["judge"]["scores"] is None
    assert judge_calls(emulator) == []
    assert body["route"]["model"] == "claude_haiku" and "judge off" in body["route"]["reason"]
    assert body["summary"]["judge_cost_usd"] == 0


def test_a_judge_model_without_forced_tool_use_scores_through_native_structured_output(clean_env, lambda_context):
    cfg = base_config()
    cfg["models"]["claude_sonnet"]["capabilities"] = {"tools": False}
    rt = runtime_with(cfg)
    status, body = handler.handle(event(), lambda_context, runtime=rt)
    assert status == 200 and body["judge"]["error"] is None and len(body["judge"]["scores"]) == 3
    [jc] = judge_calls(rt.factory.emulator)
    assert "toolConfig" not in jc.body and jc.body["outputConfig"]["textFormat"]["type"] == "json_schema"


def test_a_judge_model_that_takes_forced_tool_use_gets_the_schema_as_a_tool(clean_env, lambda_context):
    cfg = base_config()
    cfg["models"]["claude_sonnet"]["model_id"] = "us.anthropic.claude-sonnet-4-6"  # tool_choice auto/any/tool
    rt = runtime_with(cfg)
    status, body = handler.handle(event(), lambda_context, runtime=rt)
    assert status == 200 and body["judge"]["error"] is None and len(body["judge"]["scores"]) == 3
    [jc] = [c for c in rt.factory.emulator.calls_for("us.anthropic.claude-sonnet-4-6") if _structured(c)]
    assert "outputConfig" not in jc.body and "tool" in jc.body["toolConfig"]["toolChoice"]


# --- configuration -----------------------------------------------------------------------------------------


def test_the_compare_section_of_config_yaml_is_valid(runtime):
    from chains.strategies.compare.compare import compare_settings

    cs = compare_settings(get_chain("compare", runtime))
    assert cs.judge.model == "claude_sonnet" and cs.judge.enabled and cs.judge.criteria


@pytest.mark.parametrize("section, fragment", [
    ({"judge": {"model": "gpt_4"}}, "compare.judge.model: model 'gpt_4' is not configured"),
    ({"judge": {"model": "claude_sonnet", "critera": ["x"]}}, "compare.judge.critera: unknown key"),
    ({"judge": {"model": "claude_sonnet", "criteria": []}}, "compare.judge.criteria"),
    ({}, "compare.judge: Field required"),
])
def test_a_bad_compare_section_is_a_config_error_naming_the_key(clean_env, section, fragment):
    cfg = base_config()
    cfg["compare"] = section
    rt = runtime_with(cfg)
    with pytest.raises(ConfigError) as info:
        get_chain("compare", rt).invoke({"question": "x"})
    assert fragment in info.value.message


def test_a_chain_can_override_the_judge_in_its_settings(clean_env):
    cfg = base_config()
    cfg["chains"]["compare_cheap"] = {"prompt": "qa", "strategy": "compare", "models": ["nova_pro", "claude_haiku"],
                                      "settings": {"judge": {"model": "claude_haiku"}}}
    rt = runtime_with(cfg)
    out = get_chain("compare_cheap", rt).invoke({"question": "What is Nova?"})
    assert out["judge"]["model"] == "claude_haiku" and out["judge"]["criteria"] == cfg["compare"]["judge"]["criteria"]
    assert [e["alias"] for e in out["results"]] == ["nova_pro", "claude_haiku"]
