"""options.reasoning on bedrock_local: a 400 naming the models that reason for a pinned one that does not; the
router keeps only capable models; Claude's thinking field is sent (no temperature, maxTokens above the
budget); reasoning tokens are output tokens; the text is returned only when asked."""

from __future__ import annotations

import handler

HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def ask(runtime, question="What is Amazon S3?", **options):
    return handler.handle({"chain": "qa", "input": {"question": question}, "options": options}, None,
                          runtime=runtime)


def test_a_pinned_model_that_does_not_reason_is_a_400_naming_those_that_do(runtime, emulator):
    status, body = ask(runtime, model="nova_pro", reasoning=2048)
    assert status == 400 and body["error"]["type"] == "BadRequest"
    msg = body["error"]["message"]
    assert "nova_pro" in msg and "claude_haiku" in msg and "claude_sonnet" in msg
    assert emulator.calls == []
    status, body = ask(runtime, reasoning=100)
    assert status == 400 and "1024" in body["error"]["message"]


def test_routed_reasoning_keeps_capable_models_and_sends_thinking(runtime, emulator):
    status, body = ask(runtime, reasoning=2048, temperature=0.2)
    assert status == 200, body
    route = body["route"]
    assert "nova_pro" not in route["candidates"]
    assert "reason" in route["excluded"]["nova_pro"]
    sent = emulator.calls[-1].body
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in sent.get("inferenceConfig", {})
    assert sent["inferenceConfig"]["maxTokens"] > 2048
    assert "reasoning" not in body  # only when asked


def test_reasoning_text_only_when_asked_and_its_tokens_are_output(runtime, emulator):
    _, plain = ask(runtime, model="claude_haiku")
    status, body = ask(runtime, model="claude_haiku", reasoning=2048, return_reasoning=True)
    assert status == 200 and body["model"] == HAIKU
    assert body["reasoning"] and "What is Amazon S3?" in body["reasoning"]
    assert body["reasoning"] not in body["output"]
    assert body["usage"]["output_tokens"] > plain["usage"]["output_tokens"]
    assert body["cost_usd"] > plain["cost_usd"]
