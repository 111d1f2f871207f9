"""The router's decisions, table-driven: every signal and every refusal, and no model call in rules mode."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

import handler
from chains import build_runtime, get_chain, load_config
from chains.errors import (
    BadRequest,
    BudgetExceeded,
    ConfigError,
    InputTooLarge,
    PinnedModelUnsuitable,
    UnsupportedAttachment,
)
from chains.routing.decision import RouteDecision, Router, decide, eligible

HAIKU, NOVA, SONNET = "claude_haiku", "nova_pro", "claude_sonnet"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
LONG_CONTEXT = "The quarterly report lists shipments and regional totals. " * 180  # ~2,600 tokens
# Windows from the model catalogue: Claude Haiku 4.5 200K, Nova Pro 300K, Claude Sonnet 5.5 1M.
HUGE_CONTEXT = "word " * 176_000  # ~220K tokens: fits Nova Pro's 300K and Sonnet's 1M windows, not Haiku's 200K
TOO_HUGE_CONTEXT = "word " * 760_000  # ~950K tokens: over every usable window (Sonnet's 1M less the margin)


def route(runtime, chain="qa", **inp):
    return Router(get_chain(chain, runtime)).invoke(inp)


@pytest.fixture
def runtime(clean_env):
    """These tests pin the keyword rules (``router.mode: rules``); the learned default (the shipped config) is
    tested in test_learned_routing.py."""
    return _runtime(clean_env, lambda data: None)


# Each case: the chain input, then what the decision must say.
CASES = [
    # --- content signals (balanced preference, the default) ---
    ("plain look-up", {"question": "What is Amazon Bedrock?"}, HAIKU, [HAIKU, NOVA, SONNET], "easy", None),
    ("code", {"question": "Fix this python function: def f(x): return x[0]"}, SONNET, [SONNET, NOVA, HAIKU],
     "hard", "code"),
    ("code fence", {"question": "What does this print?\n```\nx = 1\n```"}, SONNET, None, "hard", "code"),
    ("math", {"question": "Prove that the square root of 2 is irrational."}, SONNET, None, "hard", "math"),
    ("multi-step reasoning", {"question": "Explain step by step how TLS sets up a session."}, SONNET, None,
     "hard", "reasoning"),
    ("one weak signal is not enough", {"question": "Why is the sky blue?"}, HAIKU, None, "easy", "analysis"),
    ("two weak signals add up", {"question": "Why is the sky blue? And why are sunsets red?"}, SONNET, None,
     "hard", "questions"),
    ("several questions alone", {"question": "What is S3? What is EC2? What is IAM?"}, HAIKU, None, "easy",
     "questions"),
    ("long input alone", {"question": "What were the totals?", "context": LONG_CONTEXT}, HAIKU, None, "easy",
     "long input"),
    ("long input and a weak signal", {"question": "Why did totals fall?", "context": LONG_CONTEXT}, SONNET,
     None, "hard", "long input"),
    ("context keywords are not read (route_on: question)",
     {"question": "What is the name?", "context": "def f(): a python traceback, prove the theorem step by step"},
     HAIKU, None, "easy", None),
    # --- preference (beats content) ---
    # catalogue prices: Nova Pro $0.8/$3.2, Haiku 4.5 $1/$5, Sonnet 5.5 $2/$10 per MTok
    ("prefer cost on a hard request", {"question": "Prove the theorem.", "options": {"prefer": "cost"}}, NOVA,
     [NOVA, HAIKU, SONNET], "hard", "math"),
    ("prefer quality on an easy request", {"question": "Hi?", "options": {"prefer": "quality"}}, SONNET,
     [SONNET, NOVA, HAIKU], "easy", None),
    ("prefer latency", {"question": "Hi?", "options": {"prefer": "latency"}}, HAIKU, [HAIKU, NOVA, SONNET],
     "easy", None),
    ("prefer balanced explicitly", {"question": "Hi?", "options": {"prefer": "balanced"}}, HAIKU, None, "easy",
     None),
    # --- pinning and fallbacks ---
    ("pinned model first, the others behind", {"question": "Hi?", "options": {"model": NOVA}}, NOVA,
     [NOVA, HAIKU, SONNET], "easy", None),
    ("pinned, fallbacks off", {"question": "Hi?", "options": {"model": NOVA, "fallbacks": False}}, NOVA, [NOVA],
     "easy", None),
    ("fallbacks off without a pin", {"question": "Hi?", "options": {"fallbacks": False}}, HAIKU, [HAIKU], "easy",
     None),
    # --- budget ---
    ("budget drops the strong model", {"question": "Prove the theorem.", "options": {"max_cost_usd": 0.003}},
     NOVA, [NOVA, HAIKU], "hard", "math"),
    ("budget that everything fits", {"question": "Hi?", "options": {"max_cost_usd": 1.0}}, HAIKU,
     [HAIKU, NOVA, SONNET], "easy", None),
    # --- windows ---
    ("~220K tokens fit Nova Pro and Sonnet, not Haiku", {"question": "Summarise.", "context": HUGE_CONTEXT}, NOVA,
     [NOVA, SONNET], "easy", "long input"),
    ("max_tokens counts against the window",
     {"question": "Hi?", "context": "word " * 141_000, "options": {"max_tokens": 4000}}, NOVA, [NOVA, SONNET],
     "easy", None),
]


@pytest.mark.parametrize("name, inp, model, candidates, difficulty, signal", CASES, ids=[c[0] for c in CASES])
def test_decision_table(runtime, emulator, name, inp, model, candidates, difficulty, signal):
    emulator.reset_calls()
    d = route(runtime, **inp)
    assert isinstance(d, RouteDecision)
    assert d.model == model, d.reason
    assert d.candidates[0] == model
    if candidates is not None:
        assert d.candidates == candidates, d.reason
    assert d.difficulty == difficulty, d.reason
    if signal:
        assert any(s.startswith(signal) for s in d.signals), d.signals
        assert signal in d.reason
    elif "context" not in inp and len(d.candidates) > 1:
        assert d.signals == [] and "no difficulty signal" in d.reason
    assert d.reason.startswith(f"{model}: ")
    assert d.estimated_input_tokens > 0 and d.estimated_cost_usd > 0
    assert emulator.calls == [], "rules mode must not call any model"


@pytest.mark.parametrize(
    "inp, error, status, says",
    [
        ({"question": "Hi?", "options": {"max_cost_usd": 1e-7}}, BudgetExceeded, 400, "nova_pro, would cost"),
        ({"question": "Hi?", "options": {"model": SONNET, "max_cost_usd": 0.001}}, PinnedModelUnsuitable, 400,
         "above options.max_cost_usd"),
        ({"question": "Hi?", "context": HUGE_CONTEXT, "options": {"model": HAIKU}}, PinnedModelUnsuitable, 400,
         "window"),
        ({"question": "Hi?", "context": TOO_HUGE_CONTEXT}, InputTooLarge, 413, "claude_sonnet"),
        ({"question": "Hi?", "images": [{"mime_type": "image/tiff", "data": PNG}]}, BadRequest, 400, "mime_type"),
        ({"question": "Hi?", "images": [{"mime_type": "image/png", "data": "not base64!"}]}, BadRequest, 400,
         "base64"),
        ({"question": "Hi?", "documents": [{"mime_type": "text/plain", "data": PNG}]}, BadRequest, 400, "name"),
        ({"question": "Hi?", "images": "x.png"}, BadRequest, 400, "list"),
    ],
    ids=["budget-nothing-fits", "pinned-over-budget", "pinned-window", "nothing-fits", "image-type",
         "image-base64", "document-name", "images-not-a-list"],
)
def test_refusals(runtime, emulator, inp, error, status, says):
    with pytest.raises(error) as info:
        route(runtime, **inp)
    assert info.value.status == status
    assert says in info.value.message
    assert emulator.calls == []


def test_budget_error_says_what_the_cheapest_would_cost(runtime):
    with pytest.raises(BudgetExceeded) as info:
        route(runtime, question="Hi?", options={"max_cost_usd": 1e-7})
    d = info.value.to_dict()
    assert d["cheapest_model"] == NOVA and d["cheapest_cost_usd"] > 1e-7 and d["max_cost_usd"] == 1e-7


def test_nothing_fits_is_a_413_with_sizes(runtime):
    with pytest.raises(InputTooLarge) as info:
        route(runtime, question="Hi?", context=TOO_HUGE_CONTEXT)
    d = info.value.to_dict()
    assert d["estimated_input_tokens"] > 900_000
    assert set(d["max_input_tokens"]) == {HAIKU, NOVA, SONNET}
    assert d["max_input_tokens"][NOVA] > d["max_input_tokens"][HAIKU]


def test_the_budget_exclusion_is_in_the_reason_and_excluded(runtime):
    d = route(runtime, question="Prove the theorem.", options={"max_cost_usd": 0.003})
    assert SONNET in d.excluded and d.excluded[SONNET].startswith("budget")
    assert "excluded claude_sonnet: budget" in d.reason


def test_window_exclusions_are_explained(runtime):
    d = route(runtime, question="Summarise.", context=HUGE_CONTEXT)
    assert set(d.excluded) == {HAIKU}
    assert all(v.startswith("window") for v in d.excluded.values())


def test_domain_from_config_keywords(runtime):
    d = route(runtime, question="Is the liability clause in this contract enforceable?")
    assert d.domain == "legal" and "domain legal" in d.reason
    assert route(runtime, question="What is the weather like?").domain == "general"


def test_route_in_the_response_holds_the_decision(runtime, lambda_context):
    status, body = handler.handle({"chain": "qa", "input": {"question": "What is S3?"}}, lambda_context,
                                  runtime=runtime)
    assert status == 200, body
    r = body["route"]
    for key in ("model", "reason", "candidates", "estimated_input_tokens", "estimated_cost_usd", "domain"):
        assert key in r
    assert r["model"] == HAIKU and r["answered_by"] == HAIKU and body["model"].startswith("us.anthropic.claude-haiku-4-5")


def test_decide_is_the_same_decision_as_the_runnable(runtime):
    chain = get_chain("qa", runtime)
    request = chain.parse({"question": "Explain step by step."})
    from chains.attachments import build_messages

    d = decide(chain, request, build_messages(chain, request))
    assert d.to_dict() == route(runtime, question="Explain step by step.").to_dict()


def test_the_router_is_a_runnable_in_a_pipeline(runtime):
    from langchain_core.runnables import RunnableLambda

    pipeline = Router(get_chain("qa", runtime)) | RunnableLambda(lambda d: d.model)
    assert pipeline.invoke({"question": "Prove the theorem."}) == SONNET


# --- configured variations ------------------------------------------------------------------------------------


def _runtime(clean_env, mutate, prompts_dir=None):
    data = load_config(env={}).model_dump()
    data["router"]["mode"] = "rules"
    mutate(data)
    if prompts_dir is not None:
        data["prompts_dir"] = str(prompts_dir)
    return build_runtime(data, backend="local", notice=False)


def test_thresholds_live_in_config(clean_env):
    def lower(data):
        data["router"]["difficulty"]["hard_at"] = 1

    rt = _runtime(clean_env, lower)
    assert route(rt, question="Why is the sky blue?").model == SONNET


def test_keyword_lists_live_in_config(clean_env):
    def add(data):
        data["router"]["difficulty"]["keywords"]["poetry"] = {"weight": 5, "words": ["sonnet", "haiku"]}

    rt = _runtime(clean_env, add)
    d = route(rt, question="Write a haiku about autumn.")
    assert d.model == SONNET and "poetry ('haiku')" in d.reason


def test_default_preference_from_config(clean_env):
    def cost(data):
        data["router"]["prefer"] = "cost"

    rt = _runtime(clean_env, cost)
    d = route(rt, question="Prove the theorem.")
    assert d.model == NOVA and d.prefer == "cost"


def test_a_bad_router_section_is_a_config_error_naming_the_key(clean_env):
    def bad(data):
        data["router"]["difficulty"]["hard_att"] = 1

    rt = _runtime(clean_env, bad)
    with pytest.raises(ConfigError) as info:
        route(rt, question="Hi?")
    assert "router.difficulty.hard_att" in info.value.message


def test_images_need_vision(clean_env, emulator=None):
    def blind_haiku(data):
        data["models"][HAIKU]["capabilities"]["vision"] = False

    rt = _runtime(clean_env, blind_haiku)
    d = route(rt, question="What is in the picture?", images=[{"mime_type": "image/png", "data": PNG}])
    assert d.model == NOVA and HAIKU in d.excluded and "vision" in d.excluded[HAIKU]
    assert "no eligible fast model" in d.reason
    assert d.estimated_input_tokens > 1600  # an image counts ~1,600 tokens
    with pytest.raises(PinnedModelUnsuitable):
        route(rt, question="What is in it?", images=[{"mime_type": "image/png", "data": PNG}],
              options={"model": HAIKU})


def test_no_model_reads_documents(clean_env):
    def no_docs(data):
        for m in data["models"].values():
            m["capabilities"]["documents"] = False

    rt = _runtime(clean_env, no_docs)
    with pytest.raises(UnsupportedAttachment) as info:
        route(rt, question="Summarise it.", documents=[{"mime_type": "text/plain", "name": "notes", "data": PNG}])
    assert info.value.status == 400 and "documents" in info.value.message


def test_the_image_reaches_the_model(runtime, emulator):
    out = get_chain("qa", runtime).invoke(
        {"question": "What is in the picture?", "images": [{"mime_type": "image/png", "data": PNG}]}
    )
    assert "1 image" in out["output"]
    sent = emulator.calls[-1].body["messages"][-1]["content"]
    # Attachments before the prompt's text (the stable part first: chains.attachments); a small image gets no
    # cache checkpoint (below every model's minimum).
    assert [list(b)[0] for b in sent] == ["image", "text"]


def test_the_prompt_files_tier_makes_every_request_hard(clean_env, tmp_path):
    for name in ("qa", "summarize"):
        text = (Path("prompts") / f"{name}.yaml").read_text()
        if name == "qa":
            text = text.replace("  task: qa\n", "  task: qa\n  tier: strong\n")
        (tmp_path / f"{name}.yaml").write_text(text)
    rt = _runtime(clean_env, lambda data: None, prompts_dir=tmp_path)
    d = route(rt, question="Hi?")
    assert d.model == SONNET and "tier strong" in d.reason


def test_the_fallback_strategy_keeps_the_configured_order(runtime, emulator):
    d = route(runtime, chain="qa_fallback", question="Prove the theorem step by step.")
    assert d.candidates == [HAIKU, NOVA, SONNET] and d.mode == "ordered"
    assert "configured order" in d.reason
    d = route(runtime, chain="qa_fallback", question="Summarise.", context=HUGE_CONTEXT)
    assert d.candidates == [NOVA, SONNET]  # still only models that can take the request (configured order)


def test_a_chains_model_list_limits_the_candidates(clean_env):
    def two(data):
        data["chains"]["qa"]["models"] = [SONNET, NOVA]

    rt = _runtime(clean_env, two)
    d = route(rt, question="Hi?")
    assert d.candidates == [NOVA, SONNET] and "no eligible fast model" in d.reason
    # a pinned model outside the chain's list is still honoured
    assert route(rt, question="Hi?", options={"model": HAIKU}).candidates == [HAIKU, NOVA, SONNET]


def test_eligible_is_reusable(runtime):
    settings = runtime.settings
    e = eligible(settings, [HAIKU, NOVA, SONNET], 220_000, 512)
    assert e.fitting == [NOVA, SONNET] and set(e.excluded) == {HAIKU}
    e.require_any(settings)  # something fits: no error
    with pytest.raises(InputTooLarge):
        eligible(settings, [HAIKU], 220_000, 512).require_any(settings)
    assert eligible(settings, [HAIKU], 1000, needs={"vision"}).fitting == [HAIKU]


def test_domain_preamble_from_the_prompt_file(clean_env, tmp_path, ):
    for name in ("qa", "summarize"):
        text = (Path("prompts") / f"{name}.yaml").read_text()
        if name == "qa":
            text = text.replace("  task: qa\n", "  task: qa\n  domain_preambles:\n    legal: LEGAL-PREAMBLE-X\n")
        (tmp_path / f"{name}.yaml").write_text(text)
    rt = _runtime(clean_env, lambda data: None, prompts_dir=tmp_path)
    emu = rt.factory.emulator
    out = get_chain("qa", rt).invoke({"question": "Is this contract clause valid?"})
    assert out["route"]["domain"] == "legal"
    system = " ".join(b.get("text", "") for b in emu.calls[-1].body.get("system", []))
    assert "LEGAL-PREAMBLE-X" in system
    get_chain("qa", rt).invoke({"question": "What is the weather?"})
    system = " ".join(b.get("text", "") for b in emu.calls[-1].body.get("system", []))
    assert "LEGAL-PREAMBLE-X" not in system


# --- router: llm -------------------------------------------------------------------------------------------------


def _llm_runtime(clean_env):
    def llm(data):
        data["router"]["mode"] = "llm"

    return _runtime(clean_env, llm)


def test_llm_mode_asks_the_classifier_with_structured_output(clean_env):
    rt = _llm_runtime(clean_env)
    emu = rt.factory.emulator
    out = get_chain("qa", rt).invoke({"question": "Fix this python function: def f(x): return x[0]"})
    route_ = out["route"]
    # The rules would say hard (code); the classifier (bedrock_local answers the schema's first enum values)
    # says easy, domain legal: the classifier decides.
    assert route_["mode"] == "llm" and route_["difficulty"] == "easy" and route_["domain"] == "legal"
    assert route_["classifier"]["ok"] is True and route_["classifier"]["model"] == HAIKU
    assert route_["model"] == HAIKU and "classifier claude_haiku" in route_["reason"]
    classifier_call, answer_call = emu.calls
    assert classifier_call.body["toolConfig"]["toolChoice"] == {"tool": {"name": "RouteClassification"}}
    assert "toolConfig" not in answer_call.body
    # The classifier's tokens are part of the request's usage.
    assert out["usage"]["input_tokens"] == classifier_call.input_tokens + answer_call.input_tokens


def test_llm_mode_falls_back_to_the_rules_when_the_classifier_fails(clean_env):
    rt = _llm_runtime(clean_env)
    emu = rt.factory.emulator
    emu.add_fault(HAIKU, error="ThrottlingException")
    d = route(rt, question="Fix this python function: def f(x): return x[0]")
    assert d.mode == "rules" and d.model == SONNET  # the rules: code -> hard -> strong tier
    assert d.classifier["ok"] is False and d.classifier["error"] == "throttled"
    assert "classifier unavailable" in d.reason
    assert len(emu.calls_for(HAIKU)) == 1
    # The throttled classifier model is cooling down: the next decision does not even ask it.
    d = route(rt, question="Prove the theorem.")
    assert d.mode == "rules" and "cooling down" in d.classifier["error"]
    assert len(emu.calls_for(HAIKU)) == 1


def test_llm_mode_skips_the_classifier_for_a_pinned_model(clean_env):
    rt = _llm_runtime(clean_env)
    d = route(rt, question="Hi?", options={"model": NOVA})
    assert d.mode == "pinned" and d.classifier is None
    assert rt.factory.emulator.calls == []


def test_agreement_with_the_labelled_prompts(runtime, emulator):
    """tests/data/routing_labels.jsonl: the defaults in config.yaml keep easy prompts on the fast tier and
    send most hard ones to the strong tier (benchmarks/routing_eval.py reports the costs)."""
    import json

    rows = [json.loads(x) for x in (Path(__file__).parents[2] / "data" / "routing_labels.jsonl").read_text().splitlines()]
    strong = {a for a, m in runtime.settings.models.items() if m.tier == "strong"}
    hits = {"easy": 0, "hard": 0}
    for row in rows:
        d = route(runtime, question=row["question"])
        hits[row["label"]] += (d.model in strong) == (row["label"] == "hard")
    n = {k: sum(r["label"] == k for r in rows) for k in hits}
    assert hits["easy"] >= 0.95 * n["easy"], hits
    assert hits["hard"] >= 0.6 * n["hard"], hits
    assert emulator.calls == []


def test_attachments_count_at_each_models_own_figures(clean_env):
    """An image costs Claude tokens by its size and Nova a constant (the catalogue's figures, the ones the
    emulator bills and the cache placement counts): the router's window and cost estimates use the same."""
    from chains.attachments import attachment_blocks
    from chains.caching.media import media_tokens
    from chains.routing.settings import router_settings
    from chains.routing.signals import attachment_tokens

    rt = _runtime(clean_env, lambda data: None)
    inputs = {"images": [{"mime_type": "image/png", "data": PNG}]}
    rs = router_settings(rt.settings)
    per_model = {}
    for alias in (HAIKU, NOVA):
        model_id = rt.settings.model(alias).model_id
        expected = sum(media_tokens(b, model_id) for b in attachment_blocks(inputs))
        per_model[alias] = attachment_tokens(inputs, rs, model_id)
        assert per_model[alias] == expected > 0
    assert per_model[HAIKU] != per_model[NOVA]  # not one flat figure for every model
    assert attachment_tokens(inputs, rs, "some.model-the-catalogue-does-not-know") == rs.image_tokens
    d = route(rt, question="What is in the picture?", **inputs)
    text_only = route(rt, question="What is in the picture?")
    assert d.estimated_input_tokens - text_only.estimated_input_tokens == per_model[d.model]
