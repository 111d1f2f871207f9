"""langchain-aws against the emulator, unchanged: ChatBedrockConverse and ChatBedrock (Claude)."""
from __future__ import annotations

import base64

import pytest
from bl_helpers import HAIKU, NOVA, png_bytes
from langchain_aws import ChatBedrock, ChatBedrockConverse
from langchain_core.exceptions import ContextOverflowError
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field


@tool
def get_weather(city: str, days: int) -> str:
    """Weather forecast for a city over a number of days."""
    return f"Sunny in {city} for {days} days."


class Answer(BaseModel):
    """An answer with a confidence score."""

    text: str = Field(description="the answer")
    confidence: int = Field(ge=0, le=100)
    sources: list[str]


@pytest.fixture
def lc_client(client):
    return client


@pytest.mark.parametrize("model_id", [HAIKU, NOVA])
def test_converse_invoke_stream_usage(lc_client, emu, model_id):
    llm = ChatBedrockConverse(model=model_id, client=lc_client, region_name="us-east-1")
    msg = llm.invoke("Context: Lambda runs the service. Boto3 talks to Bedrock. Question: who talks to Bedrock?")
    assert "Boto3 talks to Bedrock." in msg.text
    assert msg.usage_metadata["input_tokens"] == emu.calls[-1].input_tokens
    assert msg.response_metadata["stopReason"] == "end_turn"
    chunks = list(llm.stream("Hello"))
    assert len(chunks) > 2
    full = chunks[0]
    for ch in chunks[1:]:
        full += ch
    assert full.text.startswith(f"[bedrock_local · {model_id}]")
    assert full.usage_metadata["output_tokens"] == emu.calls[-1].output_tokens
    assert isinstance(full.response_metadata["metrics"]["latencyMs"], int)


@pytest.mark.parametrize("model_id", [HAIKU, NOVA])
def test_converse_tool_calling_agent_round_trip(lc_client, model_id):
    llm = ChatBedrockConverse(model=model_id, client=lc_client, region_name="us-east-1").bind_tools([get_weather])
    question = HumanMessage("What's the weather in 'Lima' for 4 days?")
    ai = llm.invoke([question])
    assert ai.tool_calls[0]["name"] == "get_weather"
    assert ai.tool_calls[0]["args"] == {"city": "Lima", "days": 4}
    result = get_weather.invoke(ai.tool_calls[0])
    final = llm.invoke([question, ai, result])
    assert not final.tool_calls and "Sunny in Lima for 4 days." in final.text


@pytest.mark.parametrize("model_id", [HAIKU, NOVA])
@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_structured_output(lc_client, model_id, method):
    llm = ChatBedrockConverse(model=model_id, client=lc_client, region_name="us-east-1")
    out = llm.with_structured_output(Answer, method=method).invoke("Answer with confidence 70.")
    assert isinstance(out, Answer) and out.confidence == 70 and len(out.sources) == 1


def test_structured_output_prompt_prefill_nova(lc_client):
    llm = ChatBedrockConverse(model=NOVA, client=lc_client, region_name="us-east-1")
    out = llm.with_structured_output(Answer, method="prompt_prefill").invoke("Confidence 12, text 'fine'.")
    assert isinstance(out, Answer) and out.confidence == 12 and out.text == "fine"


@pytest.mark.parametrize("model_id", [HAIKU, NOVA])
def test_converse_image_input(lc_client, emu, model_id):
    """Local replacement for the standard suite's test_image_inputs (which needs the internet)."""
    llm = ChatBedrockConverse(model=model_id, client=lc_client, region_name="us-east-1")
    data = base64.b64encode(png_bytes(16, 9)).decode()
    for block in ({"type": "image", "base64": data, "mime_type": "image/png"},
                  {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}):
        msg = llm.invoke([HumanMessage(content=[{"type": "text", "text": "Describe the picture."}, block])])
        assert "1 image(s) (png 16x9)" in msg.text
        assert "image" in emu.calls[-1].body["messages"][0]["content"][1]


def test_context_overflow_is_langchain_context_overflow(lc_client):
    llm = ChatBedrockConverse(model=HAIKU, client=lc_client, region_name="us-east-1")
    with pytest.raises(ContextOverflowError):
        llm.invoke("word " * 170_000)


def test_chat_bedrock_claude_invoke_model_path(lc_client, emu):
    llm = ChatBedrock(model_id=HAIKU, client=lc_client, region_name="us-east-1",
                      model_kwargs={"max_tokens": 200})
    msg = llm.invoke("Context: Haiku is fast. Sonnet is smart. Question: which model is fast?")
    assert "Haiku is fast." in msg.content
    assert emu.calls[-1].operation == "InvokeModel"
    assert msg.usage_metadata["input_tokens"] == emu.calls[-1].input_tokens
    assert msg.usage_metadata["output_tokens"] == emu.calls[-1].output_tokens
    text = "".join(ch.content if isinstance(ch.content, str) else "" for ch in llm.stream("Hello"))
    assert text.startswith(f"[bedrock_local · {HAIKU}]")
    assert emu.calls[-1].operation == "InvokeModelWithResponseStream"


def test_chat_bedrock_claude_tools_and_structured_output(lc_client):
    llm = ChatBedrock(model_id=HAIKU, client=lc_client, region_name="us-east-1",
                      model_kwargs={"max_tokens": 200})
    ai = llm.bind_tools([get_weather]).invoke("Weather in 'Rome' for 2 days?")
    assert ai.tool_calls[0]["args"] == {"city": "Rome", "days": 2}
    out = llm.with_structured_output(Answer).invoke("confidence 5")
    assert isinstance(out, Answer) and out.confidence == 5
    streamed = None
    for ch in llm.bind_tools([get_weather]).stream("Weather in 'Rome' for 2 days?"):
        streamed = ch if streamed is None else streamed + ch
    assert streamed.tool_calls[0]["args"] == {"city": "Rome", "days": 2}


def test_stream_cut_raises_in_langchain(lc_client, emu):
    """A stream without messageStop is an error for langchain-aws, as on real Bedrock."""
    emu.add_fault("haiku", stream_cut_after=2)
    llm = ChatBedrockConverse(model=HAIKU, client=lc_client, region_name="us-east-1")
    with pytest.raises(ConnectionError):
        list(llm.stream("Hello"))


def test_image_in_tool_message(lc_client, emu):
    """Local replacement for the standard suite's test_image_tool_message (needs the internet)."""
    llm = ChatBedrockConverse(model=HAIKU, client=lc_client, region_name="us-east-1").bind_tools([get_weather])
    data = base64.b64encode(png_bytes(5, 5)).decode()
    messages = [
        HumanMessage("Show me the weather map for 'Oslo' for 1 day."),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo", "days": 1}, "id": "t1"}]),
        ToolMessage(content=[{"type": "image", "base64": data, "mime_type": "image/png"}], tool_call_id="t1"),
    ]
    msg = llm.invoke(messages)
    assert not msg.tool_calls and msg.text.startswith(f"[bedrock_local · {HAIKU}]")
    result = emu.calls[-1].body["messages"][-1]["content"][0]["toolResult"]
    assert result["toolUseId"] == "t1" and "image" in result["content"][0]


MINI_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>"
            b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.mark.parametrize("model_id", [HAIKU, NOVA])
def test_pdf_and_text_documents(lc_client, emu, model_id):
    """Local replacement for the standard suite's test_pdf_inputs (needs the internet)."""
    llm = ChatBedrockConverse(model=model_id, client=lc_client, region_name="us-east-1")
    pdf = base64.b64encode(MINI_PDF).decode()
    msg = llm.invoke([HumanMessage(content=[
        {"type": "text", "text": "Summarize this document."},
        # langchain-aws sends the filename as document.name; Bedrock refuses a "." in it
        # (request_fields.DOC_NAME), so the name carries no extension.
        {"type": "file", "base64": pdf, "mime_type": "application/pdf", "filename": "mini"}])])
    assert "1 document(s) (pdf" in msg.text
    doc = emu.calls[-1].body["messages"][0]["content"][1]["document"]
    assert doc["format"] == "pdf" and doc["name"]
    # Plain-text documents are read as context for the extractive answer.
    text_doc = {"document": {"format": "txt", "name": "notes", "source": {
        "bytes": b"The launch is on Friday. The budget is small."}}}
    r = lc_client.converse(modelId=model_id, messages=[{"role": "user", "content": [
        {"text": "When is the launch?"}, text_doc]}])
    assert "The launch is on Friday." in r["output"]["message"]["content"][0]["text"]
