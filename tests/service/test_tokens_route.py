"""chains.tokenroute without the router: cheapest model whose window and budget fit, then calls in that
order with fallbacks (what map_reduce and chat use when chains/router.py or chains/resilience.py is absent)."""

import pytest

from chains import AllModelsFailed, BudgetExceeded, InputTooLarge, get_chain
from chains.tokenroute import call_in_order, cheapest_fitting
from token_fixtures import small_runtime


@pytest.fixture
def rt(clean_env):
    return small_runtime()


def parsed(rt, text, **options):
    chain = get_chain("summarize", rt)
    request = chain.parse({"text": text, "options": options} if options else {"text": text})
    return chain, request, request.prompt.format_messages(request.inputs)


def test_the_cheapest_model_whose_window_fits_is_chosen(rt):
    chain, request, messages = parsed(rt, "Rivers flow to the sea. " * 10)
    route = cheapest_fitting(chain, request, messages)
    assert route.candidates == ["lite", "haiku"] and route.alias == "lite"
    assert route.details["estimate_method"] == "local" and route.details["estimated_cost_usd"] > 0

    # ~900 tokens: too many for lite (780 input tokens next to 300 output), fine for haiku
    chain, request, messages = parsed(rt, "Rivers flow to the sea. " * 150)
    route = cheapest_fitting(chain, request, messages)
    assert route.candidates == ["haiku"] and "left out: lite" in route.reason


def test_nothing_fits_is_a_413_and_a_budget_miss_a_400(rt):
    chain, request, messages = parsed(rt, "Rivers flow to the sea. " * 400)
    with pytest.raises(InputTooLarge, match="~1500 input tokens"):
        cheapest_fitting(chain, request, messages)
    chain, request, messages = parsed(rt, "Rivers flow to the sea. " * 10, max_cost_usd=1e-9)
    with pytest.raises(BudgetExceeded, match="lite") as err:
        cheapest_fitting(chain, request, messages)
    assert err.value.details["estimated_cost_usd"] > 1e-9


def test_a_pinned_model_goes_first(rt):
    chain, request, messages = parsed(rt, "Rivers flow to the sea.", model="haiku")
    assert cheapest_fitting(chain, request, messages).candidates == ["haiku", "lite"]


def test_calls_fall_over_in_order_and_record_the_attempts(rt):
    chain, request, messages = parsed(rt, "Rivers flow to the sea. " * 10)
    rt.factory.emulator.add_fault("lite", error="ThrottlingException", first_n=1)
    outcome, attempts = call_in_order(chain, request, ["lite", "haiku"], messages, {})
    assert outcome.alias == "haiku" and [a["alias"] for a in attempts] == ["lite"]
    assert attempts[0]["error_class"] == "throttled"

    rt.factory.emulator.add_fault("*", error="ServiceUnavailableException")
    with pytest.raises(AllModelsFailed) as err:
        call_in_order(chain, request, ["lite", "haiku"], messages, {})
    assert [a["alias"] for a in err.value.attempts] == ["lite", "haiku"]
