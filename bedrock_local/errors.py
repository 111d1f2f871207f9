"""Bedrock error codes, their HTTP status, and default messages.

Errors travel as HTTP status + ``x-amzn-ErrorType`` header + ``{"message": ...}``
body, which is what botocore's rest-json parser turns into ``ClientError`` codes.
Inside an event stream they travel as ``:message-type: exception`` frames with a
lower-camel ``:exception-type`` (see eventstream.py).
"""
from __future__ import annotations

STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "ServiceQuotaExceededException": 400,
    "ModelErrorException": 424,
    "ModelStreamErrorException": 424,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}

DEFAULT_MESSAGES = {
    "ValidationException": "Malformed input request, please reformat your input and try again.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "ResourceNotFoundException": "The requested resource could not be found.",
    "ModelTimeoutException": "Model has timed out in processing the request. Try your request again.",
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ModelNotReadyException": "Model is not ready for inference. Wait and try your request again.",
    "ServiceQuotaExceededException": "Your request exceeds the service quota for your account.",
    "ModelErrorException": "The system encountered an unexpected error during processing. Try your request again.",
    "ModelStreamErrorException": "The model encountered an error while streaming the response.",
    "InternalServerException": "The system encountered an unexpected error during processing. Try your request again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
}

# Exceptions that ConverseStream / InvokeModelWithResponseStream may carry mid-stream.
STREAMABLE = {
    "InternalServerException", "ModelStreamErrorException", "ValidationException",
    "ThrottlingException", "ServiceUnavailableException", "ModelTimeoutException",
}


class BedrockError(Exception):
    """An error answer; raised anywhere in request handling, rendered by the router."""

    def __init__(self, code: str, message: str | None = None, status: int | None = None):
        if code not in STATUS and status is None:
            raise ValueError(f"unknown Bedrock error code {code!r}; known: {sorted(STATUS)}")
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, code)
        self.status = status or STATUS[code]
        super().__init__(f"{code} ({self.status}): {self.message}")


class MissingAuthorization(BedrockError):
    """A request with no Authorization header.  Bedrock answers 403 with a capital-M body,
    {"Message": "Authorization header is missing"} (issue 16 / FACTS.md); the error type
    header is our best guess."""

    body_key = "Message"

    def __init__(self) -> None:
        super().__init__("AccessDeniedException", "Authorization header is missing")


def validation(message: str) -> BedrockError:
    return BedrockError("ValidationException", message)


def lower_camel(code: str) -> str:
    return code[:1].lower() + code[1:]
