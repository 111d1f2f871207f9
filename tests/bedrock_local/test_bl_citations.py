"""Citations: documents with citations enabled get cited spans, in Converse, streams and LangChain."""
from __future__ import annotations

import pytest

from bedrock_local import Emulator
from bedrock_local.catalogue import default_catalogue
from bedrock_local.profiles import profiles_from_catalogue

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA_PRO = "amazon.nova-pro-v1:0"
DOC = ("The museum opens at nine. Tickets cost twelve euros for adults. "
       "Children under six enter free of charge.")


@pytest.fixture
def emu():
    return Emulator(profiles_from_catalogue(default_catalogue()), seed=0)


def turn(question, *, source=None, cite=True, fmt="txt"):
    doc = {"format": fmt, "name": "museum-guide",
           "source": source or {"bytes": DOC.encode()}}
    if cite:
        doc["citations"] = {"enabled": True}
    return [{"role": "user", "content": [{"document": doc}, {"text": question}]}]


def test_quoted_sentences_are_cited_by_character_span(client):
    out = client.converse(modelId=SONNET45, messages=turn("How much do tickets cost for adults?"))
    blocks = out["output"]["message"]["content"]
    cited = [b["citationsContent"] for b in blocks if "citationsContent" in b]
    assert cited, blocks
    quote = cited[0]["content"][0]["text"]
    citation = cited[0]["citations"][0]
    loc = citation["location"]["documentChar"]
    assert quote == "Tickets cost twelve euros for adults."
    assert DOC[loc["start"]:loc["end"]] == quote and loc["documentIndex"] == 0
    assert citation["title"] == "museum-guide" and citation["sourceContent"] == [{"text": quote}]
    # The marker that names the emulator stays plain text.
    assert blocks[0]["text"].startswith("[bedrock_local")


def test_without_citations_enabled_the_answer_is_plain_text(client):
    out = client.converse(modelId=SONNET45, messages=turn("How much do tickets cost?", cite=False))
    assert all(set(b) == {"text"} for b in out["output"]["message"]["content"])


def test_chunked_document_is_cited_by_chunk(client):
    source = {"content": [{"text": "The museum opens at nine."},
                          {"text": "Tickets cost twelve euros for adults."}]}
    out = client.converse(modelId=SONNET45, messages=turn("How much do tickets cost for adults?",
                                                          source=source))
    cited = [b["citationsContent"] for b in out["output"]["message"]["content"]
             if "citationsContent" in b]
    assert cited[0]["citations"][0]["location"] == {
        "documentChunk": {"documentIndex": 0, "start": 1, "end": 2}}


def test_models_without_citations_do_not_cite(client):
    out = client.converse(modelId=NOVA_PRO, messages=turn("How much do tickets cost for adults?"))
    assert not any("citationsContent" in b for b in out["output"]["message"]["content"])


def test_stream_sends_text_then_citation_delta(client):
    events = list(client.converse_stream(
        modelId=SONNET45, messages=turn("How much do tickets cost for adults?"))["stream"])
    deltas = [e["contentBlockDelta"]["delta"] for e in events if "contentBlockDelta" in e]
    citations = [d["citation"] for d in deltas if "citation" in d]
    assert citations[0]["location"]["documentChar"]["documentIndex"] == 0
    assert citations[0]["sourceContent"][0]["text"] == "Tickets cost twelve euros for adults."


@pytest.mark.parametrize("mode", ["http"])
@pytest.mark.parametrize("stream", [False, True])
def test_chat_bedrock_converse_keeps_citations(connect, mode, stream):
    from langchain_aws import ChatBedrockConverse
    from langchain_core.messages import HumanMessage

    llm = ChatBedrockConverse(model=SONNET45, region_name="us-east-1", client=connect(),
                              max_tokens=300)
    message = HumanMessage(content=[
        {"type": "document", "document": {"format": "txt", "name": "museum-guide",
                                          "source": {"text": DOC}, "citations": {"enabled": True}}},
        {"type": "text", "text": "How much do tickets cost for adults?"}])
    if stream:
        msg = None
        for chunk in llm.stream([message]):
            msg = chunk if msg is None else msg + chunk
    else:
        msg = llm.invoke([message])
    cited = [c for b in msg.content if isinstance(b, dict) for c in b.get("citations") or []]
    assert cited and cited[0]["source_content"][0]["text"] == "Tickets cost twelve euros for adults."
    assert "Tickets cost twelve euros" in msg.text
