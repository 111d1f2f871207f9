"""Citations: answers that quote documents with ``citations: {enabled: true}`` cite the spans.

The emulator's answers are extractive (whole sentences of the supplied text), so every answer
sentence taken from a cited document has an exact character span in it.  The answer's text
block is split: quoted sentences become ``citationsContent`` blocks, the rest stays text.

Shapes (botocore bedrock-runtime service-2.json: CitationsContentBlock, Citation,
CitationLocation, DocumentCharLocation, DocumentChunkLocation, CitationsDelta; and
https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-call.html#citations)::

    {"citationsContent": {
        "content": [{"text": "<quoted sentence>"}],
        "citations": [{"title": "<document name>",
                       "sourceContent": [{"text": "<quoted sentence>"}],
                       "location": {"documentChar": {"documentIndex": 0, "start": 12, "end": 57}}}]}}

``documentIndex`` counts the request's document blocks in order.  Plain-text documents (bytes
of txt/md/csv/html, or ``source.text``) are cited by ``documentChar``; documents given as
``source.content`` chunks by ``documentChunk``.  PDFs are not parsed offline, so nothing in them
is quoted or cited.  In a stream the quoted text arrives as text deltas and then one
``delta.citation`` (a CitationsDelta) per citation, in the same content block.
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any, Mapping

_TEXT_FORMATS = {"txt", "md", "csv", "html"}
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.M)


@dataclass(frozen=True)
class Source:
    index: int
    title: str
    chunks: tuple[str, ...]   # one element for char-addressed documents
    chunked: bool


def _decode(raw: Any) -> str | None:
    if isinstance(raw, (bytes, bytearray)):
        return bytes(raw).decode("utf-8", "replace")
    if isinstance(raw, str):
        try:
            return base64.b64decode(raw).decode("utf-8", "replace")
        except ValueError:
            return None
    return None


def sources(request: Mapping[str, Any]) -> list[Source]:
    """Documents with citations enabled, with the index Bedrock gives them."""
    out, index = [], 0
    for msg in request.get("messages") or []:
        for block in msg.get("content") or []:
            doc = block.get("document") if isinstance(block, Mapping) else None
            if not isinstance(doc, Mapping):
                continue
            if (doc.get("citations") or {}).get("enabled"):
                src = doc.get("source") or {}
                title = str(doc.get("name") or f"document {index}")
                if isinstance(src.get("content"), list):
                    chunks = tuple(str(c.get("text") or "") for c in src["content"])
                    out.append(Source(index, title, chunks, True))
                elif isinstance(src.get("text"), str):
                    out.append(Source(index, title, (src["text"],), False))
                elif doc.get("format") in _TEXT_FORMATS:
                    text = _decode(src.get("bytes"))
                    if text:
                        out.append(Source(index, title, (text,), False))
            index += 1
    return out


def _quotable(docs: list[Source]) -> list[tuple[str, dict[str, Any]]]:
    """(sentence, citation) for every sentence of the cited documents, longest first."""
    out = []
    for d in docs:
        for n, chunk in enumerate(d.chunks):
            for m in _SENTENCE.finditer(chunk):
                sentence = m.group(0).strip()
                if len(sentence) < 8:
                    continue
                at = m.start() + (len(m.group(0)) - len(m.group(0).lstrip()))
                if d.chunked:
                    loc = {"documentChunk": {"documentIndex": d.index, "start": n, "end": n + 1}}
                else:
                    loc = {"documentChar": {"documentIndex": d.index, "start": at,
                                            "end": at + len(sentence)}}
                out.append((sentence, {"title": d.title, "sourceContent": [{"text": sentence}],
                                       "location": loc}))
    return sorted(out, key=lambda t: -len(t[0]))


def _text_block(text: str) -> list[dict[str, Any]]:
    # Whitespace-only blocks would come back blank in the next turn's history, which
    # Bedrock refuses ("The text field in the ContentBlock object ... is blank").
    return [{"text": text}] if text.strip() else []


def cite(blocks: list[dict[str, Any]], request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``blocks`` with quoted sentences of cited documents turned into citationsContent blocks."""
    docs = sources(request)
    if not docs:
        return blocks
    quotable = _quotable(docs)
    out: list[dict[str, Any]] = []
    for block in blocks:
        text = block.get("text") if set(block) == {"text"} else None
        if not isinstance(text, str):
            out.append(block)
            continue
        spans: list[tuple[int, int, dict[str, Any]]] = []
        for sentence, citation in quotable:
            at = text.find(sentence)
            while at >= 0:
                end = at + len(sentence)
                if all(end <= s or at >= e for s, e, _ in spans):
                    spans.append((at, end, citation))
                    break
                at = text.find(sentence, at + 1)
        pos = 0
        for start, end, citation in sorted(spans, key=lambda t: t[0]):
            out += _text_block(text[pos:start])
            out.append({"citationsContent": {"content": [{"text": text[start:end]}],
                                             "citations": [citation]}})
            pos = end
        out += _text_block(text[pos:])
    return out
