"""Fallbacks against bedrock_local fault injection: which model answered, how many HTTP calls each model got,
what ``attempts`` says; client errors that must not fall over; cooldown; every model down."""

from __future__ import annotations

import threading

import pytest

import handler
from chains import build_runtime, get_chain, load_config
from chains.errors import AllModelsFailed, ContentFiltered, ModelClientError
from chains.calls.cooldown import Cooldown
from chains.calls.fallback import call_with_fallbacks

HAIKU, NOVA, SONNET = "claude_haiku", "nova_pro", "claude_sonnet"
NOVA_ID = "us.amazon.nova-pro-v1:0"
EASY = {"question": "What is Amazon S3?"}  # the router's order: haiku, nova_pro, sonnet


def ask(runtime, **options):
    return handler.handle({"chain": "qa", "input": dict(EASY), "options": options or None}, None, runtime=runtime)


def calls(emulator):
    return {m: len(emulator.calls_for(m)) for m in (HAIKU, NOVA, SONNET)}


# Each fault on the first model, the class it must be recorded as, and the code botocore reports.
FALLS_OVER = [
    ({"error": "ThrottlingException"}, "throttled", "ThrottlingException"),
    ({"error": "ModelNotReadyException"}, "throttled", "ModelNotReadyException"),
    ({"error": "ServiceQuotaExceededException"}, "throttled", "ServiceQuotaExceededException"),
    ({"error": "ServiceUnavailableException"}, "unavailable", "ServiceUnavailableException"),
    ({"error": "InternalServerException"}, "unavailable", "InternalServerException"),
    ({"error": "ModelTimeoutException"}, "unavailable", "ModelTimeoutException"),
    ({"error": "ModelErrorException"}, "unavailable", "ModelErrorException"),
    ({"malformed": True}, "unavailable", "MalformedResponse"),
    ({"error": "AccessDeniedException"}, "model_unusable", "AccessDeniedException"),
    ({"error": "ResourceNotFoundException"}, "model_unusable", "ResourceNotFoundException"),
    ({"error": "ValidationException", "message": "The provided model identifier is invalid."}, "model_unusable",
     "ValidationException"),
    ({"error": "ValidationException", "message": "This model version has reached the end of its life."},
     "model_unusable", "ValidationException"),
    ({"error": "ValidationException", "message": "Input is too long for requested model."}, "context_overflow",
     "ValidationException"),
    ({"error": "ValidationException", "message": "The request was blocked by the guardrail."},
     "content_filtered", "ValidationException"),
]


@pytest.mark.parametrize("fault, error_class, code", FALLS_OVER, ids=[f[1] + ":" + f[2] for f in FALLS_OVER])
def test_each_fallback_class_falls_over_to_the_next_model(runtime, emulator, fault, error_class, code):
    emulator.add_fault(HAIKU, **fault)
    status, body = ask(runtime)
    assert status == 200, body
    assert body["model"] == NOVA_ID and body["route"]["model"] == HAIKU and body["route"]["answered_by"] == NOVA
    # One HTTP call to the failing model (one try: no botocore retry), one to the fallback, none further.
    assert calls(emulator) == {HAIKU: 1, NOVA: 1, SONNET: 0}
    [attempt] = body["attempts"]
    assert attempt["alias"] == HAIKU and attempt["error_class"] == error_class and attempt["code"] == code
    assert attempt["ms"] >= 0 and "skipped" not in attempt
    # Usage counts only what was billed: the failed call has no tokens.
    assert set(body["usage_by_model"]) == {NOVA_ID}


@pytest.mark.parametrize("message", [
    "Malformed input request, please reformat your input and try again.",
    "The maximum tokens you requested exceeds the model limit of 4096.",
])
def test_a_client_error_is_returned_at_once_without_fallback(runtime, emulator, message):
    emulator.add_fault(HAIKU, error="ValidationException", message=message)
    status, body = ask(runtime)
    assert status == 400, body
    assert body["error"]["type"] == "ModelClientError" and body["error"]["error_class"] == "client_error"
    assert body["error"]["message"] == message
    # It reached the emulator exactly once and nothing else was called.
    assert len(emulator.calls) == 1 and calls(emulator) == {HAIKU: 1, NOVA: 0, SONNET: 0}
    assert [a["error_class"] for a in body["error"]["attempts"]] == ["client_error"]
    assert body["error"]["route"]["model"] == HAIKU  # the decision is kept for debugging


def test_a_client_error_does_not_cool_the_model_down(runtime, emulator):
    emulator.add_fault(HAIKU, error="ValidationException", first_n=1)
    assert ask(runtime)[0] == 400
    status, body = ask(runtime)
    assert status == 200 and body["route"]["answered_by"] == HAIKU and body["attempts"] == []


def test_context_overflow_skips_to_a_larger_window(runtime, emulator):
    # Pinned nova_pro (300K), then by cost: haiku (200K, no larger than nova's) and sonnet (1M) (catalogue windows).
    emulator.add_fault(NOVA, error="ValidationException", message="Input is too long for requested model.")
    status, body = ask(runtime, model=NOVA, prefer="cost")
    assert status == 200, body
    assert body["route"]["candidates"] == [NOVA, HAIKU, SONNET] and body["route"]["answered_by"] == SONNET
    assert calls(emulator) == {HAIKU: 0, NOVA: 1, SONNET: 1}
    overflow, skip = body["attempts"]
    assert overflow["error_class"] == "context_overflow" and overflow["alias"] == NOVA
    assert skip["alias"] == HAIKU and skip["skipped"] is True and skip["error_class"] == "context_overflow"
    assert "not larger" in skip["message"]


def test_content_filtered_can_be_configured_not_to_fall_over(clean_env):
    data = load_config(env={}).model_dump()
    data["resilience"]["fall_back_on"] = ["throttled", "unavailable", "model_unusable", "context_overflow"]
    rt = build_runtime(data, backend="local", notice=False)
    emu = rt.factory.emulator
    emu.add_fault(HAIKU, error="ValidationException", message="Blocked by the content filter.")
    status, body = ask(rt)
    assert status == 422 and body["error"]["type"] == "ContentFiltered"
    assert calls(emu) == {HAIKU: 1, NOVA: 0, SONNET: 0}


# --- cooldown ----------------------------------------------------------------------------------------------------


def test_the_second_request_after_a_throttle_goes_straight_to_the_healthy_model(runtime, emulator):
    emulator.add_fault(HAIKU, error="ThrottlingException")
    assert ask(runtime)[1]["route"]["answered_by"] == NOVA
    assert calls(emulator) == {HAIKU: 1, NOVA: 1, SONNET: 0}
    status, body = ask(runtime)
    assert status == 200 and body["route"]["answered_by"] == NOVA
    assert calls(emulator) == {HAIKU: 1, NOVA: 2, SONNET: 0}  # haiku was not called again
    [skip] = body["attempts"]
    assert skip["alias"] == HAIKU and skip["skipped"] is True and skip["error_class"] == "cooling_down"
    assert 0 < skip["cooldown_remaining_ms"] <= 10_000 and "throttled" in skip["message"]


def test_a_cooled_model_is_tried_again_when_its_time_is_up(runtime, emulator):
    now = [1000.0]
    runtime.cooldown = Cooldown(clock=lambda: now[0])
    emulator.add_fault(HAIKU, error="ServiceUnavailableException", first_n=1)
    assert ask(runtime)[1]["route"]["answered_by"] == NOVA
    now[0] += 29.0  # unavailable cools for 30 s (config.yaml)
    assert ask(runtime)[1]["route"]["answered_by"] == NOVA
    now[0] += 2.0
    status, body = ask(runtime)
    assert body["route"]["answered_by"] == HAIKU and body["attempts"] == []
    assert calls(emulator) == {HAIKU: 2, NOVA: 2, SONNET: 0}


def test_cooling_models_are_moved_behind_not_dropped(runtime, emulator):
    cooldown = runtime.cooldown
    cooldown.trip(HAIKU, "throttled", 60)
    cooldown.trip(NOVA, "unavailable", 60)
    status, body = ask(runtime)
    assert body["route"]["answered_by"] == SONNET  # the only healthy one
    assert [(a["alias"], a.get("skipped")) for a in body["attempts"]] == [(HAIKU, True), (NOVA, True)]
    emulator.add_fault(SONNET, error="ThrottlingException")
    status, body = ask(runtime)
    # Sonnet fails; the cooling ones are still tried, in their order, and haiku answers.
    assert status == 200 and body["route"]["answered_by"] == HAIKU
    assert [(a["alias"], a["error_class"]) for a in body["attempts"]] == [
        (HAIKU, "cooling_down"), (NOVA, "cooling_down"), (SONNET, "throttled")]


def test_when_every_model_is_cooling_they_are_tried_in_order(runtime, emulator):
    cooldown = runtime.cooldown
    for m in (HAIKU, NOVA, SONNET):
        cooldown.trip(m, "throttled", 60)
    status, body = ask(runtime)
    assert status == 200 and body["route"]["answered_by"] == HAIKU and body["attempts"] == []
    assert cooldown.status(HAIKU) is None  # answering closes the breaker
    assert cooldown.status(NOVA) is not None


def test_cooldown_seconds_per_class_come_from_config(clean_env):
    data = load_config(env={}).model_dump()
    data["resilience"]["cooldown_s"] = {"unavailable": 30}  # throttled: no cooldown
    rt = build_runtime(data, backend="local", notice=False)
    emu = rt.factory.emulator
    emu.add_fault(HAIKU, error="ThrottlingException")
    ask(rt)
    ask(rt)
    assert calls(emu) == {HAIKU: 2, NOVA: 2, SONNET: 0}


def test_the_cooldown_is_thread_safe():
    cd = Cooldown()
    errors = []

    def work(i):
        try:
            for n in range(300):
                cd.trip(f"m{n % 7}", "throttled", 0.001 * (i + 1))
                cd.partition([f"m{k}" for k in range(7)])
                cd.snapshot()
                if n % 50 == 0:
                    cd.clear(f"m{n % 7}")
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_pinned_model_falls_back_like_any_other(runtime, emulator):
    emulator.add_fault(SONNET, error="ThrottlingException")
    status, body = ask(runtime, model=SONNET)
    assert status == 200 and body["route"]["answered_by"] == HAIKU
    assert body["route"]["candidates"] == [SONNET, HAIKU, NOVA]


def test_fallbacks_false_tries_only_the_pinned_model(runtime, emulator):
    emulator.add_fault(SONNET, error="ThrottlingException")
    status, body = ask(runtime, model=SONNET, fallbacks=False)
    assert status == 429 and body["error"]["type"] == "AllModelsFailed"
    assert calls(emulator) == {HAIKU: 0, NOVA: 0, SONNET: 1}
    assert len(body["error"]["attempts"]) == 1


# --- every model down -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults, status",
    [
        ({HAIKU: "ThrottlingException", NOVA: "ThrottlingException", SONNET: "ThrottlingException"}, 429),
        ({HAIKU: "ServiceUnavailableException", NOVA: "InternalServerException",
          SONNET: "ServiceUnavailableException"}, 503),
        ({HAIKU: "ThrottlingException", NOVA: "ServiceUnavailableException", SONNET: "ThrottlingException"}, 503),
        ({HAIKU: "AccessDeniedException", NOVA: "ResourceNotFoundException", SONNET: "AccessDeniedException"}, 502),
    ],
    ids=["all-throttled", "all-unavailable", "mixed", "all-unusable"],
)
def test_all_models_down_is_one_error_listing_each_attempt(runtime, emulator, faults, status):
    for model, code in faults.items():
        emulator.add_fault(model, error=code)
    got, body = ask(runtime)
    assert got == status, body
    err = body["error"]
    assert err["type"] == "AllModelsFailed" and err["status"] == status
    assert [(a["alias"], a["code"]) for a in err["attempts"]] == [(m, faults[m]) for m in (HAIKU, NOVA, SONNET)]
    assert calls(emulator) == {HAIKU: 1, NOVA: 1, SONNET: 1}
    for m in (HAIKU, NOVA, SONNET):
        assert m in err["message"]
    assert err["usage"]["total_tokens"] == 0  # nothing was billed


def test_all_models_down_twice_tries_every_cooling_model_again_in_order(runtime, emulator):
    emulator.add_fault("*", error="ThrottlingException")
    ask(runtime)
    status, body = ask(runtime)  # every model cooling: tried in order again, all throttled
    assert status == 429
    assert [a["alias"] for a in body["error"]["attempts"]] == [HAIKU, NOVA, SONNET]


def test_call_with_fallbacks_public_api(runtime, emulator):
    chain = get_chain("qa", runtime)
    request = chain.parse(dict(EASY))
    messages = request.prompt.format_messages(request.inputs)
    emulator.add_fault(NOVA, error="ThrottlingException")
    outcome, attempts = call_with_fallbacks(chain, request, [NOVA, SONNET], messages, None, max_tokens=64)
    assert outcome.alias == SONNET and outcome.text and outcome.usage["output_tokens"] <= 64
    assert [a["alias"] for a in attempts] == [NOVA]
    emulator.add_fault(SONNET, error="ValidationException")
    with pytest.raises(ModelClientError) as info:
        call_with_fallbacks(chain, request, [SONNET, HAIKU], messages, None)
    assert info.value.details["attempts"][0]["alias"] == SONNET
    emulator.clear_faults()
    emulator.add_fault("*", error="ServiceUnavailableException")
    with pytest.raises(AllModelsFailed) as info:
        call_with_fallbacks(chain, request, [HAIKU], messages, None)
    assert info.value.status == 503 and len(info.value.attempts) == 1


def test_the_fallback_chain_follows_its_configured_order(runtime, emulator):
    emulator.add_fault(HAIKU, error="ThrottlingException")
    emulator.add_fault(NOVA, error="ServiceUnavailableException")
    status, body = handler.handle({"chain": "qa_fallback", "input": {"question": "Prove it step by step."}}, None,
                                  runtime=runtime)
    assert status == 200 and body["route"]["answered_by"] == SONNET
    assert [a["alias"] for a in body["attempts"]] == [HAIKU, NOVA]


def test_content_filtered_error_type(runtime, emulator):
    emulator.add_fault("*", error="ValidationException", message="Blocked by the guardrail.")
    status, body = ask(runtime)
    assert status == 422 and body["error"]["type"] == "AllModelsFailed"
    assert {a["error_class"] for a in body["error"]["attempts"]} == {"content_filtered"}
    assert ContentFiltered.status == 422
