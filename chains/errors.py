"""The project's exception tree, and the one place that reads botocore errors.

    ChainsError                      every error this package raises on purpose; .status, .type, .to_dict()
    ├── ConfigError                  config.yaml or configuration passed in code is invalid (500 in the handler)
    ├── PromptError                  a prompt file is missing, unsafe to name, or inconsistent
    ├── BadRequest (400)             the request itself: event shape, fields, options, template variables
    │   ├── MissingVariables
    │   └── UnknownModel             an alias that is not configured (lists the configured ones)
    ├── UnknownChain (404)           lists the available chains
    ├── BudgetExceeded (400)         no model fits options.max_cost_usd
    ├── InputTooLarge (413)          no model's window fits the input
    ├── DeadlineExceeded (504)       no time left for another attempt
    └── ModelCallError               one Bedrock call failed; .error_class says how (see classify())
        ├── Throttled (429)          ThrottlingException, ModelNotReady, throttlingException in a stream
        ├── Unavailable (503)        500/503, ServiceUnavailable, InternalServer, timeouts, connection errors
        ├── ModelUnusable (502)      access not granted, not found, end-of-life model id
        ├── ContextOverflow (413)    "Input is too long" and the langchain-aws overflow error
        ├── ContentFiltered (422)    guardrail or content-policy stop
        ├── ModelClientError (400)   any other validation error: our bug or bad input; never falls back
        └── AllModelsFailed          every candidate failed; .attempts lists them (429 if all throttled, else 503)

Match Bedrock errors on the error code, never on ``client.exceptions.X``: those classes differ between
boto3 sessions.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence


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
            f"unknown model '{name}'; configured models: {', '.join(available)}", available=list(available)
        )


class UnknownChain(ChainsError):
    status = 404
    type = "UnknownChain"

    def __init__(self, name: str, available: Sequence[str]) -> None:
        super().__init__(f"unknown chain '{name}'; available: {', '.join(available)}", available=list(available))


class BudgetExceeded(ChainsError):
    status = 400
    type = "BudgetExceeded"


class InputTooLarge(ChainsError):
    status = 413
    type = "InputTooLarge"


class DeadlineExceeded(ChainsError):
    status = 504
    type = "DeadlineExceeded"


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

_OVERFLOW_MARKERS = ("input is too long", "input tokens exceeded", "too many input tokens", "prompt is too long")
_UNUSABLE_MARKERS = (
    "the provided model identifier is invalid",
    "end of its life",
    "end-of-life",
    "has reached the end",
    "is not supported on-demand",
    "legacy",
    "you don't have access to the model",
)
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


class AllModelsFailed(ModelCallError):
    type, error_class = "AllModelsFailed", "all_failed"

    def __init__(self, attempts: List[Dict[str, Any]]) -> None:
        classes = {a.get("error_class") for a in attempts if a.get("error_class")}
        tried = ", ".join(f"{a.get('model')} ({a.get('code') or a.get('error_class')})" for a in attempts)
        super().__init__(f"every candidate model failed: {tried}", attempts=attempts)
        self.attempts = attempts
        self.status = 429 if classes == {THROTTLED} else 503


def classify(exc: BaseException) -> tuple[str, Optional[str]]:
    """Return ``(error_class, code)`` for any exception raised by a Bedrock call."""
    if isinstance(exc, ModelCallError):
        return exc.error_class, exc.code
    message = str(exc).lower()
    code = _error_code(exc)
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
            # An unknown service error code: treat 5xx as unavailable, the rest as the caller's problem.
            status = _http_status(exc)
            cls = UNAVAILABLE if status is None or status >= 500 else CLIENT_ERROR
        return cls, code
    try:
        from langchain_core.exceptions import ContextOverflowError

        if isinstance(exc, ContextOverflowError):
            return CONTEXT_OVERFLOW, None
    except ImportError:  # pragma: no cover - langchain-core always ships it in our pins
        pass
    # botocore's transport errors (timeouts, connection failures, a stream cut short) are not ClientErrors.
    from botocore.exceptions import BotoCoreError

    if isinstance(exc, (BotoCoreError, ConnectionError, TimeoutError)):
        return UNAVAILABLE, type(exc).__name__
    return CLIENT_ERROR, None


def to_model_error(exc: BaseException, model: Optional[str] = None) -> ModelCallError:
    """Translate a low-level exception from a model call into the project's typed error."""
    if isinstance(exc, ModelCallError):
        return exc
    error_class, code = classify(exc)
    cls = _CLASS_TYPES.get(error_class, ModelClientError)
    return cls(_clean_message(exc), code=code, model=model)


def _error_code(exc: BaseException) -> Optional[str]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
    # Mid-stream errors: botocore's EventStreamError is a ClientError with a lower-camel code.
    code = getattr(exc, "code", None)
    return str(code) if isinstance(code, str) and code else None


def _http_status(exc: BaseException) -> Optional[int]:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return None


def _clean_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        msg = (response.get("Error") or {}).get("Message")
        if msg:
            return str(msg)
    return str(exc) or type(exc).__name__
