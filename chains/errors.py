"""The project's exception tree, and the one place that reads botocore errors.

    ChainsError                      every error this package raises on purpose; .status, .type, .to_dict()
    ├── ConfigError                  config.yaml or configuration passed in code is invalid (500 in the handler)
    ├── PromptError                  a prompt file is missing, unsafe to name, or inconsistent
    ├── BadRequest (400)             the request itself: event shape, fields, options, template variables
    │   ├── MissingVariables
    │   ├── UnknownModel             an alias that is not configured (lists the configured ones)
    │   ├── PinnedModelUnsuitable    options.model cannot take this request (window, attachments, budget)
    │   └── UnsupportedAttachment    no configured model can read the attached images / documents
    ├── UnknownChain (404)           lists the available chains
    ├── BudgetExceeded (400)         no model fits options.max_cost_usd
    ├── InputTooLarge (413)          no model's window fits the input
    ├── DeadlineExceeded (504)       no time left for another attempt
    ├── BulkUnsupported (400)        a strategy that cannot run as a bulk (batch inference) run
    ├── UnknownRun (404)             no bulk run manifest at that S3 location
    ├── RunNotReady (409)            a bulk run's jobs are still running (collect without wait)
    └── ModelCallError               one Bedrock call failed; .error_class says how (see classify())
        ├── Throttled (429)          ThrottlingException, ModelNotReady, throttlingException in a stream
        ├── Unavailable (503)        500/503, ServiceUnavailable, InternalServer, timeouts, connection errors
        ├── ModelUnusable (502)      access not granted, not found, end-of-life model id
        ├── ContextOverflow (413)    "Input is too long" and the langchain-aws overflow error
        ├── ContentFiltered (422)    guardrail or content-policy stop
        ├── ModelClientError (400)   any other validation error: our bug or bad input; never falls back
        ├── StreamInterrupted (502)  a stream failed after its first chunk (too late to fall over)
        └── AllModelsFailed          every candidate failed; .attempts lists them (429 if all throttled,
                                     413 all context overflow, 422 all filtered, 502 all unusable, else 503)

Match Bedrock errors on the error code, never on ``client.exceptions.X``: those classes differ between
boto3 sessions.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from chains.echo import clip


class ChainsError(Exception):
    status: int = 500
    type: str = "InternalError"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> Dict[str, Any]:
        return {"type": self.type, "message": self.message, **self.details}


class ConfigError(ChainsError):
    type = "ConfigError"


class PromptError(ChainsError):
    type = "PromptError"


class BadRequest(ChainsError):
    status = 400
    type = "BadRequest"


class MissingVariables(BadRequest):
    type = "MissingVariables"

    def __init__(self, prompt: str, missing: Sequence[str], expected: Sequence[str]) -> None:
        super().__init__(
            f"prompt '{prompt}' needs {', '.join(sorted(missing))} (it takes: {', '.join(sorted(expected))})",
            missing=sorted(missing),
            expected=sorted(expected),
        )


class UnknownModel(BadRequest):
    type = "UnknownModel"

    def __init__(self, name: str, available: Sequence[str]) -> None:
        super().__init__(
            f"unknown model '{clip(name)}'; configured models: {', '.join(available)}", available=list(available)
        )


class PinnedModelUnsuitable(BadRequest):
    type = "PinnedModelUnsuitable"


class UnsupportedAttachment(BadRequest):
    type = "UnsupportedAttachment"


class UnknownChain(ChainsError):
    status = 404
    type = "UnknownChain"

    def __init__(self, name: str, available: Sequence[str]) -> None:
        super().__init__(f"unknown chain '{clip(name)}'; available: {', '.join(available)}",
                         available=list(available))


class BudgetExceeded(ChainsError):
    status = 400
    type = "BudgetExceeded"


class InputTooLarge(ChainsError):
    status = 413
    type = "InputTooLarge"


class DeadlineExceeded(ChainsError):
    status = 504
    type = "DeadlineExceeded"


class BulkUnsupported(BadRequest):
    type = "BulkUnsupported"


class UnknownRun(ChainsError):
    status = 404
    type = "UnknownRun"


class RunNotReady(ChainsError):
    status = 409
    type = "RunNotReady"


# --- Bedrock call failures -------------------------------------------------------------------------------

THROTTLED = "throttled"
UNAVAILABLE = "unavailable"
MODEL_UNUSABLE = "model_unusable"
CONTEXT_OVERFLOW = "context_overflow"
CONTENT_FILTERED = "content_filtered"
CLIENT_ERROR = "client_error"

# Classes another model may succeed on.
FALLBACK_CLASSES = frozenset({THROTTLED, UNAVAILABLE, MODEL_UNUSABLE, CONTEXT_OVERFLOW, CONTENT_FILTERED})

_CODE_CLASSES = {
    "throttlingexception": THROTTLED,
    "modelnotreadyexception": THROTTLED,
    "toomanyrequestsexception": THROTTLED,
    # An account quota (tokens per day ...) is per model: another model may still have room.
    "servicequotaexceededexception": THROTTLED,
    "serviceunavailableexception": UNAVAILABLE,
    "internalserverexception": UNAVAILABLE,
    "modeltimeoutexception": UNAVAILABLE,
    "modelstreamerrorexception": UNAVAILABLE,
    "modelerrorexception": UNAVAILABLE,
    "accessdeniedexception": MODEL_UNUSABLE,
    "resourcenotfoundexception": MODEL_UNUSABLE,
    "unrecognizedclientexception": MODEL_UNUSABLE,
    "expiredtokenexception": MODEL_UNUSABLE,
    "validationexception": CLIENT_ERROR,
}

_OVERFLOW_MARKERS = (
    "input is too long",
    "input tokens exceeded",
    "too many input tokens",
    "prompt is too long",
    "maximum context length",
    "exceeds the context window",
)
_UNUSABLE_MARKERS = (
    # What a retired model answers (a ValidationException, not a ResourceNotFound): another model can serve.
    "the provided model identifier is invalid",
    "end of its life",
    "end of life",
    "end-of-life",
    "has reached the end",
    "has been deprecated",
    "is no longer available",
    "no longer supported",
    "legacy",
    # A model that needs an inference profile: "Invocation of model ID ... with on-demand throughput isn't
    # supported. Retry your request with the ID or ARN of an inference profile ..."
    "with on-demand throughput",
    "is not supported on-demand",
    "you don't have access to the model",
)
# A body Bedrock (or a proxy) cut short: langchain-aws raises a plain ValueError about the missing key.
_MALFORMED_MARKERS = ("no 'output' key found in the response",)
# botocore errors that are our own configuration or our own bug, not the service failing.
_CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                      "NoRegionError", "NoAuthTokenError", "TokenRetrievalError", "SSOTokenLoadError")
_FILTER_MARKERS = ("guardrail", "content filter", "content policy", "blocked by")


class ModelCallError(ChainsError):
    status = 502
    type = "ModelCallError"
    error_class = "unknown"

    def __init__(self, message: str, *, code: Optional[str] = None, model: Optional[str] = None, **details: Any):
        super().__init__(message, code=code, model=model, error_class=self.error_class, **details)
        self.code = code
        self.model = model


class Throttled(ModelCallError):
    status, type, error_class = 429, "Throttled", THROTTLED


class Unavailable(ModelCallError):
    status, type, error_class = 503, "ModelUnavailable", UNAVAILABLE


class ModelUnusable(ModelCallError):
    status, type, error_class = 502, "ModelUnusable", MODEL_UNUSABLE


class ContextOverflow(ModelCallError):
    status, type, error_class = 413, "ContextOverflow", CONTEXT_OVERFLOW


class ContentFiltered(ModelCallError):
    status, type, error_class = 422, "ContentFiltered", CONTENT_FILTERED


class ModelClientError(ModelCallError):
    status, type, error_class = 400, "ModelClientError", CLIENT_ERROR


_CLASS_TYPES = {
    cls.error_class: cls
    for cls in (Throttled, Unavailable, ModelUnusable, ContextOverflow, ContentFiltered, ModelClientError)
}


class StreamInterrupted(ModelCallError):
    """A stream failed after its first chunk: the text already sent cannot be taken back, so no fallback.

    ``error_class``/``code`` are those of the underlying failure; ``chars_sent`` says how much text got out.
    """

    status, type = 502, "StreamInterrupted"

    def __init__(self, cause: ModelCallError, chars_sent: int, **details: Any) -> None:
        self.error_class = cause.error_class
        super().__init__(
            f"the stream from {cause.model} failed after {chars_sent} characters: {cause.message}",
            code=cause.code, model=cause.model, chars_sent=chars_sent, **details,
        )
        self.cause = cause


# When every candidate failed, the status says what they had in common.
_ALL_FAILED_STATUS = {THROTTLED: 429, CONTEXT_OVERFLOW: 413, CONTENT_FILTERED: 422, MODEL_UNUSABLE: 502}


class AllModelsFailed(ModelCallError):
    type, error_class = "AllModelsFailed", "all_failed"

    def __init__(self, attempts: List[Dict[str, Any]]) -> None:
        # Skips (a model cooling down, a window too small after an overflow) are listed, but the status is
        # decided by the calls that were really made.
        tried_calls = [a for a in attempts if not a.get("skipped")]
        classes = {a.get("error_class") for a in tried_calls if a.get("error_class")}
        tried = ", ".join(
            f"{a.get('alias') or a.get('model')} ({'skipped: ' if a.get('skipped') else ''}"
            f"{a.get('code') or a.get('error_class')})"
            for a in attempts
        )
        super().__init__(f"every candidate model failed: {tried}", attempts=attempts)
        self.attempts = attempts
        only = next(iter(classes)) if len(classes) == 1 else None
        self.status = _ALL_FAILED_STATUS.get(only, 503)


def classify(exc: BaseException) -> tuple[str, Optional[str]]:
    """Return ``(error_class, code)`` for any exception raised by a Bedrock call."""
    if isinstance(exc, ModelCallError):
        return exc.error_class, exc.code
    message = str(exc).lower()
    code = error_code(exc)
    # langchain-aws re-raises "Input is too long" as a ValidationException that is also a
    # ContextOverflowError: the class is the most reliable signal, whatever the wording.
    try:
        from langchain_core.exceptions import ContextOverflowError

        if isinstance(exc, ContextOverflowError):
            return CONTEXT_OVERFLOW, code
    except ImportError:  # pragma: no cover - langchain-core always ships it in our pins
        pass
    if code is not None:
        cls = _CODE_CLASSES.get(code.lower(), None)
        if code.lower() == "validationexception" or cls is None:
            if any(m in message for m in _OVERFLOW_MARKERS):
                return CONTEXT_OVERFLOW, code
            if any(m in message for m in _UNUSABLE_MARKERS):
                return MODEL_UNUSABLE, code
            if any(m in message for m in _FILTER_MARKERS):
                return CONTENT_FILTERED, code
        if cls is None:
            # An unknown service error code: 429 is throttling, 5xx unavailable, the rest the caller's problem.
            status = _http_status(exc)
            if status == 429:
                cls = THROTTLED
            else:
                cls = UNAVAILABLE if status is None or status >= 500 else CLIENT_ERROR
        return cls, code
    name = type(exc).__name__
    # botocore's transport errors (timeouts, connection failures, a stream cut short) are not ClientErrors.
    from botocore.exceptions import BotoCoreError, ParamValidationError

    if isinstance(exc, ParamValidationError):
        return CLIENT_ERROR, name  # we built a request botocore refuses: our bug, another model won't help
    if name in _CREDENTIAL_ERRORS:
        return MODEL_UNUSABLE, name
    if isinstance(exc, (BotoCoreError, ConnectionError, TimeoutError)) or name == "ResponseParserError":
        return UNAVAILABLE, name
    if any(m in message for m in _MALFORMED_MARKERS):
        return UNAVAILABLE, "MalformedResponse"
    return CLIENT_ERROR, None


def to_model_error(exc: BaseException, model: Optional[str] = None) -> ModelCallError:
    """Translate a low-level exception from a model call into the project's typed error."""
    if isinstance(exc, ModelCallError):
        return exc
    error_class, code = classify(exc)
    cls = _CLASS_TYPES.get(error_class, ModelClientError)
    return cls(without_urls(error_message(exc)), code=code, model=model)


_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)


def without_urls(text: str) -> str:
    """``text`` with every URL replaced by ``<endpoint>``: botocore's "Could not connect to the endpoint URL:
    "https://host/bucket/key"" reaches a response body (``error.message``, ``attempts[].message``) as what the
    caller can act on; the URL itself (host, bucket, key) stays in the log line of the failed call."""
    return _URL.sub("<endpoint>", text)


# --- the only reader of botocore's ``response["Error"]`` ------------------------------------------------------


def service_error(exc: BaseException) -> Dict[str, Any]:
    """botocore's ``response["Error"]`` of a ClientError (``{}`` for anything else)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error")
        if isinstance(error, dict):
            return error
    return {}


def error_code(exc: BaseException) -> Optional[str]:
    """The service's error code (``ThrottlingException`` ...), or None when the exception has none."""
    code = service_error(exc).get("Code")
    if code:
        return str(code)
    # Mid-stream errors: botocore's EventStreamError is a ClientError with a lower-camel code.
    code = getattr(exc, "code", None)
    return str(code) if isinstance(code, str) and code else None


def error_message(exc: BaseException) -> str:
    """The service's own message when there is one, else the exception's text (or its class name)."""
    msg = service_error(exc).get("Message")
    if msg:
        return str(msg)
    return str(exc) or type(exc).__name__



def _http_status(exc: BaseException) -> Optional[int]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return None


# --- Bedrock batch inference: per-record errors ----------------------------------------------------------------

# A batch output line's ``error`` carries the HTTP status of the failed inference as ``errorCode`` and the
# text as ``errorMessage``: {"errorCode": 400, "errorMessage": "bad request"}
# (https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-results.html). The status stands for the
# Converse error code below (FACTS.md "Bedrock Runtime wire protocol"), so the same classes and statuses apply as
# on demand.
_BATCH_STATUS_CODES = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def batch_record_error(error: Any, model: Optional[str] = None) -> ModelCallError:
    """The typed error of one failed record in a batch job's output (``{"errorCode", "errorMessage"}``)."""
    from botocore.exceptions import ClientError

    error = error if isinstance(error, dict) else {"errorMessage": str(error)}
    raw = error.get("errorCode")
    try:
        status = int(raw)
    except (TypeError, ValueError):
        status = 500
    code = _BATCH_STATUS_CODES.get(status) or (str(raw) if isinstance(raw, str) and raw else "InternalServerException")
    message = str(error.get("errorMessage") or code)[:500]
    exc = ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                      "Converse")
    return to_model_error(exc, model)
