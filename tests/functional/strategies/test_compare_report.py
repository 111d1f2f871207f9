"""`python handler.py events/compare.json --format table`: the readable comparison."""

from pathlib import Path

import pytest

import handler
from chains.registry import default_runtime
from chains.strategies.compare.report import render_table

EVENT = str(Path(__file__).resolve().parents[3] / "events" / "compare.json")


@pytest.fixture
def cli(clean_env, capsys):
    clean_env.setenv("CHAINS_BACKEND", "local")
    clean_env.chdir(Path(EVENT).parent)  # no .env from the developer's checkout

    def run(*args):
        code = handler.main([EVENT, "--format", "table", *args])
        return code, capsys.readouterr().out

    return run


def rows_of(out):
    lines = out.splitlines()
    header = lines.index(next(l for l in lines if l.startswith("model ")))
    rows = []
    for line in lines[header + 2:]:
        if not line.strip():
            break
        rows.append(line)
    return lines[header], rows


def test_the_table_has_a_row_per_model_the_judge_and_the_summary(cli):
    default_runtime().factory.emulator.add_fault("nova_pro", error="ThrottlingException")
    code, out = cli()
    assert code == 0
    header, rows = rows_of(out)
    assert header.split() == ["model", "status", "latency_ms", "bedrock_ms", "in_tok", "out_tok", "cost_usd",
                              "score", "note"]
    assert [r.split()[0] for r in rows] == ["nova_pro", "claude_haiku", "claude_sonnet", "(judge)"]
    nova, haiku, sonnet, judge = rows
    assert nova.split()[1] == "error" and "throttled ThrottlingException" in nova
    assert haiku.split()[1] == "ok" and "/10 (" in haiku
    in_tok, out_tok, cost = int(haiku.split()[4]), int(haiku.split()[5]), float(haiku.split()[6])
    assert cost == round((in_tok * 0.001 + out_tok * 0.005) / 1000, 6)  # Claude Haiku 4.5, catalogue prices
    assert judge.split()[1:3] == ["claude_sonnet", "ok"]
    assert "fastest: " in out and "cheapest: claude_haiku" in out  # nova_pro (cheaper) failed and "best scored: " in out
    assert "answered 2, failed 1, skipped 0" in out
    assert "total cost: $" in out and "+ judge $" in out
    assert "judge: claude_sonnet, seed " in out and "(from request_id)" in out and "A=" in out
    assert "best answer: " in out and "[bedrock_local" in out  # the answer itself follows


def test_the_table_shows_a_failing_judge_and_judge_off(cli):
    emu = default_runtime().factory.emulator
    emu.add_fault("claude_sonnet", error="ServiceUnavailableException")
    code, out = cli()
    assert code == 0
    assert "judge failed: ModelUnavailable" in out
    assert "no judge scores (the judge failed)" in out


def test_a_comparison_where_every_model_failed_still_shows_each_model():
    body = {"ok": False, "error": {"type": "AllModelsFailed", "status": 503, "message": "every candidate failed",
                                   "results": [
                                       {"alias": "nova_pro", "status": "error", "latency_ms": 12.0,
                                        "error": {"error_class": "unavailable", "code": "InternalServerException",
                                                  "message": "boom"}},
                                       {"alias": "tiny", "status": "skipped", "skip_reason": "too small a window"},
                                   ]}}
    out = render_table(body)
    assert out.startswith("error 503 AllModelsFailed: every candidate failed")
    assert "unavailable InternalServerException: boom" in out and "skipped: too small a window" in out


def test_a_single_model_response_is_still_a_one_row_table():
    out = render_table({"ok": True, "model": "m", "latency_ms": 12.3, "usage": {"input_tokens": 1, "output_tokens": 2},
                        "cost_usd": 0.001, "output": "hello"})
    assert out.splitlines()[2].split() == ["m", "12", "1", "2", "0.001000"] and out.endswith("hello")
