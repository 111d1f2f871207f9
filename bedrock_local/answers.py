"""Deterministic answers derived from a (Converse-shaped) request.

Text answers are extractive: the sentences of the supplied text (system prompt and
conversation) that share the most words with the last user question, or the lead
sentences when the user asks for a summary.  Every answer starts with a marker naming
the emulator and the model, so nobody mistakes it for a real model's output.
When tools are offered, the answer is a toolUse whose input validates against the
tool's schema; after a toolResult it is text again.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import schema as schema_gen
from .media import decode_bytes
from .tokens import estimate_tokens, tools_of

DEFAULT_ANSWER_TOKENS = 80  # keep answers short: tests stay fast, demos stay readable
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.M)
_WORD = re.compile(r"\w+", re.U)
_SUMMARY = re.compile(r"\b(summari[sz]e|summary|tl;?dr|key points|gist)\b", re.I)
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being "
    "it its this that these those what which who whom whose when where why how do does did "
    "can could should would will shall may might must i you he she we they me my your our "
    "their them his her not no yes please tell give me about use using answer question "
    "based context text following above below there here than then so such".split()
)


@dataclass
class Completion:
    blocks: list[dict[str, Any]]  # Converse content blocks: {"text"} or {"toolUse"}
    stop_reason: str
    output_tokens: int
    stop_sequence: str | None = None
    text_pieces: list[str] = field(default_factory=list)  # streaming deltas of the text block


def _texts(content: list[Mapping[str, Any]]) -> list[str]:
    # guardContent wraps text the guardrail is to check; to the model it is text all the same.
    return [b["text"] if isinstance(b.get("text"), str) else b["guardContent"]["text"]["text"]
            for b in content if isinstance(b.get("text"), str)
            or isinstance(((b.get("guardContent") or {}).get("text") or {}).get("text"), str)]


def _words(text: str) -> set[str]:
    return {w for w in (m.group(0).lower() for m in _WORD.finditer(text))
            if w not in _STOPWORDS and len(w) > 1}


def _sentences(text: str) -> list[str]:
    # A short line ending in ":" ("Context:", "Question:") frames a prompt template; it is not content.
    return [s.strip() for s in _SENTENCE.findall(text)
            if s.strip() and not (s.strip().endswith(":") and len(s.strip()) <= 40)]


def _attachment_note(blocks: list[Mapping[str, Any]]) -> str:
    """'I received 1 image(s) (png 16x9).' and the like: proof the attachment arrived."""
    images, docs = [], []
    for b in blocks:
        if "image" in b:
            img = b["image"]
            desc = img.get("format", "image")
            raw = decode_bytes((img.get("source") or {}).get("bytes"))
            if raw and raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
                w, h = struct.unpack(">II", raw[16:24])
                desc += f" {w}x{h}"
            images.append(desc)
        elif "document" in b:
            doc = b["document"]
            docs.append(f"{doc.get('format', 'document')} '{doc.get('name', '')}'")
    note = f"I received {len(images)} image(s) ({', '.join(images)}). " if images else ""
    if docs:
        note += f"I received {len(docs)} document(s) ({', '.join(docs)}). "
    return note


_TEXT_DOCS = {"txt", "md", "csv", "html"}


def _document_texts(blocks: list[Mapping[str, Any]]) -> list[str]:
    """Text of plain-text document blocks, usable as context (PDF/DOCX are not parsed)."""
    out = []
    for b in blocks:
        doc = b.get("document") or {}
        src = doc.get("source") or {}
        if isinstance(src.get("text"), str):  # DocumentSource.text / .content: text given as text
            out.append(src["text"])
        elif isinstance(src.get("content"), list):
            out += [str(c.get("text") or "") for c in src["content"] if isinstance(c, Mapping)]
        elif doc.get("format") in _TEXT_DOCS:
            raw = decode_bytes((doc.get("source") or {}).get("bytes"))
            if raw:
                out.append(raw.decode("utf-8", "replace"))
    return out


def _echo(question: str) -> str:
    q = " ".join(question.split())
    return f'You said: "{q[:120]}"' if q else "Hello from the local emulator."


def _extract(question: str, context: list[str], external: bool) -> str:
    """``external``: context came from outside the question (system, history, tools)."""
    sentences = [s for text in context for s in _sentences(text)]
    if not sentences:
        return _echo(question)
    if _SUMMARY.search(question):
        longest = max(context, key=len)
        # The instruction itself ("Summarise the following text.") is not part of the summary.
        content = [s for s in _sentences(longest) if not _SUMMARY.search(s)] or _sentences(longest)
        return " ".join(content[:3])
    qwords = _words(question)
    scored = [(len(qwords & _words(s)), -i, s) for i, s in enumerate(sentences)]
    best = sorted((t for t in scored if t[0] > 0), reverse=True)[:2]
    if not best:
        # Small talk ("Hi! How are you?") is not a question about a text.
        return "The supplied text does not answer this question." if external else _echo(question)
    return " ".join(s for _, _, s in sorted(best, key=lambda t: -t[1]))


def _truncate_words(text: str, max_tokens: int) -> str:
    limit = max_tokens * 4
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _pieces(text: str, words_per_piece: int = 3) -> list[str]:
    words = re.findall(r"\S+\s*|\s+", text)
    return ["".join(words[i:i + words_per_piece]) for i in range(0, len(words), words_per_piece)] or [""]


def _tool_use_id(request: Mapping[str, Any], name: str) -> str:
    digest = hashlib.sha256(json.dumps(request.get("messages"), sort_keys=True, default=str)
                            .encode() + name.encode()).digest()
    return "tooluse_" + base64.urlsafe_b64encode(digest).decode()[:22].replace("-", "a").replace("_", "b")


def _choose_tool(tools: list[Mapping[str, Any]], choice: Mapping[str, Any], question: str):
    if "tool" in choice:
        wanted = choice["tool"].get("name")
        return next(t for t in tools if t.get("name") == wanted)
    qwords = _words(question)

    def score(t: Mapping[str, Any]) -> int:
        name_hit = 3 if t.get("name", "").lower() in question.lower() else 0
        return name_hit + len(qwords & _words(t.get("name", "").replace("_", " ") + " "
                                              + t.get("description", "")))

    return max(tools, key=lambda t: (score(t), -tools.index(t)))


def _schema_in_text(texts: list[str]) -> Mapping[str, Any] | None:
    """The JSON schema a prompt-prefill system prompt embeds (after 'Response Schema:')."""
    decoder = json.JSONDecoder()
    for text in texts:
        start = text.find("Response Schema:")
        start = text.find("{", start if start >= 0 else 0)
        while start >= 0:
            try:
                value, _ = decoder.raw_decode(text, start)
            except ValueError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict) and ("properties" in value or "type" in value):
                return value
            start = text.find("{", start + 1)
    return None


def _json_answer(request: Mapping[str, Any], question: str) -> str | None:
    """JSON text for native structured output (outputConfig) or a ```json prefill, else None."""
    fmt = ((request.get("outputConfig") or {}).get("textFormat") or {})
    if fmt.get("type") == "json_schema":
        raw = ((fmt.get("structure") or {}).get("jsonSchema") or {}).get("schema") or "{}"
        schema = json.loads(raw) if isinstance(raw, str) else raw
        return json.dumps(schema_gen.generate(schema, schema_gen.Hints(question)), ensure_ascii=False)
    messages = request.get("messages") or []
    if messages and messages[-1].get("role") == "assistant":
        prefill = "".join(_texts(messages[-1].get("content") or [])).rstrip()
        if prefill.endswith("```json"):
            system = [b["text"] for b in request.get("system") or [] if "text" in b]
            schema = _schema_in_text(system) or {"type": "object"}
            value = schema_gen.generate(schema, schema_gen.Hints(question))
            return "\n" + json.dumps(value, indent=2, ensure_ascii=False) + "\n```"
    return None


def _finish(text: str, cfg: Mapping[str, Any]) -> Completion:
    """Apply stop sequences, then maxTokens, the way generation would have stopped."""
    stop_reason, stop_seq = "end_turn", None
    hits = [(text.find(s), s) for s in cfg.get("stopSequences") or [] if s and s in text]
    if hits:
        pos, stop_seq = min(hits)
        text, stop_reason = text[:pos], "stop_sequence"
    max_tokens = cfg.get("maxTokens")
    if max_tokens is not None and estimate_tokens(text) > max_tokens:
        text, stop_reason, stop_seq = text[: max_tokens * 4], "max_tokens", None
    return Completion([{"text": text}], stop_reason, estimate_tokens(text), stop_seq, _pieces(text))


_MARKER = re.compile(r"\[bedrock_local · [^\]\n]{0,200}\]\s*")


def respond(request: Mapping[str, Any], model_id: str) -> Completion:
    """The model's answer to a validated Converse-shaped request."""
    messages = request.get("messages") or []
    # An assistant message at the end is a prefill: the question is the user turn before it.
    users = [m for m in messages if m.get("role") == "user"]
    last = users[-1] if users else {"content": []}
    last_content = last.get("content") or []
    question = "\n".join(_texts(last_content))
    tools = list(tools_of(request))
    after_tool = any("toolResult" in b for b in last_content)
    cfg = request.get("inferenceConfig") or {}

    if tools and not after_tool:
        tool = _choose_tool(tools, (request.get("toolConfig") or {}).get("toolChoice") or {}, question)
        spec = (tool.get("inputSchema") or {}).get("json") or {"type": "object"}
        args = schema_gen.generate(spec, schema_gen.Hints(question))
        use = {"toolUseId": _tool_use_id(request, tool["name"]), "name": tool["name"], "input": args}
        tokens = estimate_tokens(tool["name"]) + estimate_tokens(json.dumps(args))
        return Completion([{"toolUse": use}], "tool_use", tokens)

    as_json = _json_answer(request, question)
    if as_json is not None:
        # Structured answers carry no marker: it would make them invalid JSON.
        return _finish(as_json, cfg)

    context = [b["text"] for b in request.get("system") or [] if isinstance(b.get("text"), str)]
    for msg in messages:
        if msg is not last:
            context += _texts(msg.get("content") or [])
        context += _document_texts(msg.get("content") or [])
    if after_tool:
        for b in last_content:
            for item in b.get("toolResult", {}).get("content") or []:
                context.append(item["text"] if "text" in item else json.dumps(item.get("json")))
    # Earlier answers of the emulator quoted back (a map-reduce's partial summaries, a chat history) keep
    # their marker out of the new answer: one marker per answer, and its model id never sentence-split.
    question = _MARKER.sub("", question)
    context = [_MARKER.sub("", c) for c in context]
    external = any(c.strip() for c in context)
    # A long last message usually carries its own context ("Context: ... Question: ...").
    own = _sentences(question)
    question_for_match = question
    if len(own) > 1:
        asks = [s for s in own if s.endswith("?")]
        q = asks[-1] if asks else own[-1]
        context.append(" ".join(s for s in own if s is not q))
        if not _SUMMARY.search(question):
            question_for_match = q
    if after_tool and not own:
        body = "The tool returned: " + " ".join(context[-1:])
    else:
        body = _extract(question_for_match, [c for c in context if c.strip()], external)
    text = f"[bedrock_local · {model_id}] " + _attachment_note(last_content) + body
    return _finish(_truncate_words(text, DEFAULT_ANSWER_TOKENS), cfg)
