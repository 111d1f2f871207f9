"""Estimated input tokens of an attached image or document, and of tool definitions, per model.

The figures are the emulator's (``bedrock_local.tokens.overhead_tokens`` with the model's catalogue
``overheads``: Claude images by size, Nova images a constant, binary documents per page, text documents as
their text; the tool-use system prompt and per-tool cost), so a prefix placement estimates is the prefix
bedrock_local counts. One owner of those numbers: this module only reshapes a block into the Converse form
that function reads.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, Mapping, Optional, Sequence

# LangChain standard ``file`` block mime type -> Converse document format (what the token count looks at:
# text formats count as their text, the others per page).
_DOC_FORMATS = {"text/plain": "txt", "text/markdown": "md", "text/csv": "csv", "text/html": "html",
                "application/pdf": "pdf"}


def _entry(model_id: str) -> Any:
    from chains.catalogue import entry

    return entry(model_id) if model_id else None


def _converse_block(block: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """A LangChain standard image / file block (or a Converse one) in the Converse shape; None: not media."""
    if "image" in block or "document" in block:
        return dict(block)
    kind = block.get("type")
    data = block.get("base64") or block.get("data")
    if kind == "image" and data is not None:
        return {"image": {"source": {"bytes": data}}}
    if kind == "file" and data is not None:
        fmt = _DOC_FORMATS.get(str(block.get("mime_type")), "docx")
        return {"document": {"format": fmt, "source": {"bytes": data}}}
    return None


def known_model(model_id: str) -> bool:
    """Whether the catalogue has the figures ``media_tokens`` needs for ``model_id``."""
    return _entry(model_id) is not None


def media_tokens(block: Any, model_id: str) -> int:
    """Input tokens ``model_id`` bills for an image / document content block (0 for anything else, or for a
    model the catalogue does not know)."""
    if not isinstance(block, dict):
        return 0
    converse = _converse_block(block)
    entry = _entry(model_id) if converse is not None else None
    if entry is None:
        return 0
    from bedrock_local.tokens import overhead_tokens

    return overhead_tokens({"messages": [{"role": "user", "content": [converse]}]}, entry.overheads)


def tool_tokens(model_id: str, tool_specs: Sequence[Mapping[str, Any]], mode: str = "auto") -> int:
    """Input tokens of the tool definitions (Converse ``toolSpec`` objects) on ``model_id``: their JSON, the
    per-tool cost and the tool-use system prompt the model adds when tools are offered."""
    if not tool_specs:
        return 0
    return _tool_tokens(model_id, json.dumps([dict(t) for t in tool_specs], sort_keys=True), mode)


@functools.lru_cache(maxsize=64)
def _tool_tokens(model_id: str, specs_json: str, mode: str) -> int:
    from bedrock_local.tokens import count_input_tokens

    tools = [{"toolSpec": t} for t in json.loads(specs_json)]
    request = {"toolConfig": {"tools": tools, "toolChoice": {mode: {}}}}
    return count_input_tokens(request, _entry(model_id))
