"""The one error classifier: codes (not classes) to error classes, incl. event-stream codes and transport errors."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    EventStreamError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from chains.errors import FALLBACK_CLASSES, AllModelsFailed, ModelClientError, Throttled, classify, to_model_error


def client_error(code, message="", status=400):
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse")


def stream_error(code, message=""):
    return EventStreamError({"Error": {"Code": code, "Message": message}}, "ConverseStream")


def overflow_error():
    from langchain_aws.chat_models.bedrock_converse import BedrockContextOverflowError

    return BedrockContextOverflowError(
        {"Error": {"Code": "ValidationException", "Message": "a rewording without the usual markers"}}, "Converse")


CASES = [
    (client_error("ThrottlingException", status=429), "throttled"),
    (client_error("ModelNotReadyException", status=429), "throttled"),
    (client_error("ServiceQuotaExceededException"), "throttled"),
    (client_error("SomeNewThrottle", status=429), "throttled"),
    (client_error("ServiceUnavailableException", status=503), "unavailable"),
    (client_error("InternalServerException", status=500), "unavailable"),
    (client_error("ModelTimeoutException", status=408), "unavailable"),
    (client_error("ModelErrorException", status=424), "unavailable"),
    (client_error("SomethingNew", status=502), "unavailable"),
    (client_error("AccessDeniedException", status=403), "model_unusable"),
    (client_error("ResourceNotFoundException", status=404), "model_unusable"),
    (client_error("ValidationException", "The provided model identifier is invalid."), "model_unusable"),
    (client_error("ValidationException", "This model version has reached the end of its life."), "model_unusable"),
    (client_error("ValidationException", "Access denied. This Model is marked by provider as Legacy."),
     "model_unusable"),
    (client_error("ValidationException", "Invocation of model ID x with on-demand throughput isn’t supported."),
     "model_unusable"),
    (client_error("ValidationException", "Input is too long for requested model."), "context_overflow"),
    (client_error("ValidationException", "Input Tokens Exceeded: Number of input tokens exceeds maximum"),
     "context_overflow"),
    (client_error("ValidationException", "Request blocked by the guardrail."), "content_filtered"),
    (client_error("ValidationException", "Malformed input request."), "client_error"),
    (client_error("ValidationException", "The maximum tokens you requested exceeds the model limit of 4096."),
     "client_error"),
    (client_error("SomethingElse", status=400), "client_error"),
    # Event-stream errors mid-stream carry lower-camel codes.
    (stream_error("throttlingException"), "throttled"),
    (stream_error("serviceUnavailableException"), "unavailable"),
    (stream_error("modelStreamErrorException"), "unavailable"),
    (stream_error("internalServerException"), "unavailable"),
    (stream_error("validationException", "Input is too long for requested model."), "context_overflow"),
    (stream_error("validationException", "bad field"), "client_error"),
    # Transport errors are BotoCoreError, not ClientError.
    (ReadTimeoutError(endpoint_url="http://x"), "unavailable"),
    (ConnectTimeoutError(endpoint_url="http://x"), "unavailable"),
    (EndpointConnectionError(endpoint_url="http://x"), "unavailable"),
    (ConnectionError("Connection was closed before we received a valid response"), "unavailable"),
    (ValueError("No 'output' key found in the response from the Bedrock Converse API."), "unavailable"),
    (NoCredentialsError(), "model_unusable"),
    (ParamValidationError(report="bad"), "client_error"),
    (ValueError("mime_type key is required for base64 data."), "client_error"),
]


@pytest.mark.parametrize("exc, expected", CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)])
def test_classify(exc, expected):
    error_class, _ = classify(exc)
    assert error_class == expected
    assert to_model_error(exc, "m").error_class == expected
    assert (expected in FALLBACK_CLASSES) == (expected != "client_error")


def test_the_langchain_aws_overflow_subclass_is_an_overflow_whatever_its_message():
    assert classify(overflow_error())[0] == "context_overflow"


def test_typed_errors_keep_code_model_and_status():
    err = to_model_error(client_error("ThrottlingException", "slow down", 429), "model-x")
    assert isinstance(err, Throttled) and err.status == 429 and err.code == "ThrottlingException"
    assert err.to_dict()["model"] == "model-x" and err.message == "slow down"
    assert isinstance(to_model_error(client_error("ValidationException")), ModelClientError)


@pytest.mark.parametrize("classes, status", [
    (["throttled", "throttled"], 429),
    (["throttled", "unavailable"], 503),
    (["context_overflow"], 413),
    (["content_filtered", "content_filtered"], 422),
    (["model_unusable"], 502),
    (["unavailable"], 503),
])
def test_all_models_failed_status(classes, status):
    attempts = [{"alias": f"m{i}", "error_class": c, "code": None} for i, c in enumerate(classes)]
    # A skip (cooling down) is listed but does not change the status.
    attempts.insert(0, {"alias": "cool", "error_class": "cooling_down", "skipped": True})
    err = AllModelsFailed(attempts)
    assert err.status == status and err.attempts == attempts and "cool (skipped" in err.message
