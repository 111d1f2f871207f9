"""Attachments: ``images`` and ``documents`` in a request's input, checked and put in the prompt's messages.

    "images":    [{"mime_type": "image/png", "data": "<base64>"}]                  (png, jpeg, gif, webp)
    "documents": [{"mime_type": "application/pdf", "name": "report", "data": "<base64>"}]

They go first in the last human message (before the question) as LangChain standard content blocks; the router only considers
models whose ``capabilities`` have ``vision`` / ``documents`` (``chains.routing.signals``).
"""

from __future__ import annotations

import base64
import binascii
import collections.abc as abc  # isinstance against typing.Mapping is ~10x slower
import re
from typing import Any, Dict, List, Mapping

from langchain_core.messages import HumanMessage

from chains.errors import BadRequest

ATTACHMENT_INPUTS = ("images", "documents")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DOCUMENT_TYPES = (
    "application/pdf", "text/csv", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/html", "text/plain", "text/markdown",
)
# Bedrock's limits per request (Converse): 20 images, 5 documents; names: letters, digits, single spaces,
# hyphens, parentheses and square brackets.
MAX_IMAGES, MAX_DOCUMENTS = 20, 5
_DOC_NAME = re.compile(r"^[A-Za-z0-9\-\(\)\[\]]+( [A-Za-z0-9\-\(\)\[\]]+)*$")


def build_messages(chain: Any, request: Any) -> List[Any]:
    """The prompt's messages with the request's attachments put first in the last human message.

    Attachments come before the prompt's text (Bedrock takes document and image blocks before text; the
    Converse user guide's document example puts the document first): they are the stable part, the question
    varies. With caching on, a candidate cachePoint follows them, so ten questions about one attached PDF read
    it from the cache; ``chains.caching.placement`` keeps it only on a model that caches, when the prefix
    (counted with the model's image / page figures) reaches the model's minimum.
    """
    cache = getattr(request, "cache", False)
    messages = request.prompt.format_messages(request.inputs, cache=cache)
    blocks = attachment_blocks(request.inputs)
    if blocks:
        if cache:
            from chains.caching.marks import cache_point

            blocks.append(cache_point(cache if isinstance(cache, str) else "5m"))
        for i in range(len(messages) - 1, -1, -1):
            if isinstance(messages[i], HumanMessage):
                content = messages[i].content
                text = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
                messages[i] = HumanMessage(content=blocks + text)
                break
        else:
            messages.append(HumanMessage(content=blocks))
    return messages


def attachment_blocks(inputs: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """LangChain standard content blocks for ``images`` / ``documents``; BadRequest (400) names the problem."""
    blocks: List[Dict[str, Any]] = []
    for key, types, limit in (("images", IMAGE_TYPES, MAX_IMAGES), ("documents", DOCUMENT_TYPES, MAX_DOCUMENTS)):
        items = inputs.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise BadRequest(f"input '{key}' must be a list of objects", field=key)
        if len(items) > limit:
            raise BadRequest(f"input '{key}' has {len(items)} items; Bedrock takes at most {limit}", field=key)
        for n, item in enumerate(items):
            where = f"{key}[{n}]"
            if not isinstance(item, abc.Mapping):
                raise BadRequest(f"{where} must be an object with mime_type and data", field=where)
            unknown = set(item) - {"mime_type", "data", "name"}
            if unknown:
                raise BadRequest(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (takes: mime_type, data, "
                                 f"name)", field=where)
            mime = item.get("mime_type")
            if mime not in types:
                raise BadRequest(f"{where}.mime_type must be one of {', '.join(types)}", field=where)
            data = item.get("data")
            if not isinstance(data, str) or not data:
                raise BadRequest(f"{where}.data must be a base64 string", field=where)
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"{where}.data is not valid base64", field=where) from None
            if key == "images":
                blocks.append({"type": "image", "base64": data, "mime_type": mime})
                continue
            name = item.get("name")
            if not isinstance(name, str) or not _DOC_NAME.match(name) or len(name) > 200:
                raise BadRequest(
                    f"{where}.name is required: letters, digits, single spaces, hyphens, parentheses, brackets",
                    field=where,
                )
            blocks.append({"type": "file", "base64": data, "mime_type": mime, "name": name})
    return blocks
