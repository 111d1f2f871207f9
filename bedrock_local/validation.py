"""Request validation with Bedrock's error messages.

Runs on the Converse-shaped request (InvokeModel bodies are translated first), so the
Converse and InvokeModel paths reject the same things in the same words.

``model`` is a catalogue ModelEntry (the emulator's path: capabilities, model-specific
request fields and token overheads from the catalogue) or a bare ModelProfile (the old,
text-only path, kept for callers that only have config.yaml).
"""
from __future__ import annotations

from typing import Any, Mapping

from .catalogue_errors import INVALID_MODEL
from .errors import BedrockError, validation
from .profiles import ModelProfile
from .request_fields import check_inference_bounds, check_model_fields
from .tokens import count_input_tokens, tools_of

TOO_LONG = "Input is too long for requested model."
_IMAGE_FORMATS = {"png", "jpeg", "gif", "webp"}
_DOC_FORMATS = {"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}


def _check_blocks(messages: list[Mapping[str, Any]], profile: ModelProfile, has_tools: bool) -> None:
    for i, msg in enumerate(messages):
        content = msg.get("content")
        if not content:
            raise validation(
                f"The content field in the Message object at messages.{i} is empty. "
                "Add a ContentBlock object to the content field and try again.")
        for j, block in enumerate(content):
            where = f"messages.{i}.content.{j}"
            if "text" in block and not str(block["text"]).strip():
                raise validation(
                    f"The text field in the ContentBlock object at {where} is blank. "
                    "Add text to the text field, and try again.")
            if "image" in block:
                if not profile.vision:
                    raise validation("This model doesn't support the image content block that "
                                     "you provided. Try again with a supported content block.")
                if block["image"].get("format") not in _IMAGE_FORMATS:
                    raise validation(f"The format of the image at {where} is not supported.")
            if "document" in block:
                if not profile.documents:
                    raise validation("This model doesn't support the document content block "
                                     "that you provided. Try again with a supported content block.")
                doc = block["document"]
                if not doc.get("name") or doc.get("format") not in _DOC_FORMATS:
                    raise validation(f"The document at {where} needs a name and one of the "
                                     f"formats {sorted(_DOC_FORMATS)}.")
            if ("toolUse" in block or "toolResult" in block) and not has_tools:
                raise validation("The toolConfig field must be defined when using toolUse and "
                                 "toolResult content blocks.")


def validate(request: Mapping[str, Any], model: Any, region: str = "us-east-1",
             guardrails: Any = ()) -> int:
    """Raise BedrockError(ValidationException) like Bedrock would; return input tokens."""
    entry = model if hasattr(model, "capabilities") else None
    profile = ModelProfile.from_entry(entry) if entry is not None else model
    check_inference_bounds(request)  # shape constraints come before conversation rules
    messages = request.get("messages")
    if not messages:
        raise validation("A conversation must start with a user message. "
                         "Try again with a conversation that starts with a user message.")
    if messages[0].get("role") != "user":
        raise validation("A conversation must start with a user message. "
                         "Try again with a conversation that starts with a user message.")
    for prev, cur in zip(messages, messages[1:]):
        if cur.get("role") not in ("user", "assistant") or cur.get("role") == prev.get("role"):
            raise validation("A conversation must alternate between user and assistant roles. "
                             "Make sure the conversation alternates between user and assistant "
                             "roles and try again.")
    tools = list(tools_of(request))
    if tools and not profile.tools:
        raise validation("This model doesn't support tool use.")
    choice = ((request.get("toolConfig") or {}).get("toolChoice") or {})
    if "tool" in choice and choice["tool"].get("name") not in {t.get("name") for t in tools}:
        raise validation("The tool specified in toolChoice is not defined in toolConfig.tools.")
    _check_blocks(messages, profile, bool(request.get("toolConfig")))
    if entry is not None:
        check_model_fields(request, entry, region, guardrails)
    max_tokens = (request.get("inferenceConfig") or {}).get("maxTokens")
    if max_tokens is not None and max_tokens > profile.max_output_tokens:
        raise validation(
            f"The maximum tokens you requested exceeds the model limit of "
            f"{profile.max_output_tokens}. Try again with a maximum tokens value that is lower "
            f"than {profile.max_output_tokens}.")
    input_tokens = count_input_tokens(request, entry)
    if input_tokens > profile.context_window:
        raise validation(TOO_LONG)
    return input_tokens


def unknown_model() -> BedrockError:
    return validation(INVALID_MODEL)
