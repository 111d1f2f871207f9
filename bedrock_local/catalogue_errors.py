"""Typed errors for model addressing and lifecycle, in Bedrock's own words.

They subclass BedrockError, so the emulator renders them unchanged (status, x-amzn-ErrorType,
message) and the service can tell "this model is gone" from "this request is wrong" by class.
"""
from __future__ import annotations

from .errors import BedrockError

INVALID_MODEL = "The provided model identifier is invalid."
# Model card for Claude 3 Haiku (https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-3-haiku.html):
# "requests now fail with ResourceNotFoundException: This model version has reached the end of its life."
# Full text as recorded in langchain-aws PR 1245 and litellm PR 26721.
END_OF_LIFE = ("This model version has reached the end of its life. "
               "Please refer to the AWS documentation for more details.")
# awslabs/llmeter issue 35 (recorded response, 404 ResourceNotFoundException).
LEGACY_INACTIVE = ("Access denied. This Model is marked by provider as Legacy and you have not been "
                   "actively using the model in the last 30 days. Please upgrade to an active model on "
                   "Amazon Bedrock")
# cline issue 2482; zenn.dev/ncdc/articles/f879246337551b; qiita.com/k5ki/items/7c4f4567043482bb4521.
ON_DEMAND = ("Invocation of model ID {id} with on-demand throughput isn't supported. Retry your request "
             "with the ID or ARN of an inference profile that contains this model.")


class ModelUnavailable(BedrockError):
    """The model cannot serve this caller (gone, legacy-locked, or wrongly addressed)."""


class InvalidModelIdentifier(ModelUnavailable):
    def __init__(self) -> None:
        super().__init__("ValidationException", INVALID_MODEL)


class EndOfLife(ModelUnavailable):
    def __init__(self) -> None:
        super().__init__("ResourceNotFoundException", END_OF_LIFE)


class LegacyInactive(ModelUnavailable):
    def __init__(self) -> None:
        super().__init__("ResourceNotFoundException", LEGACY_INACTIVE)


class OnDemandNotSupported(ModelUnavailable):
    def __init__(self, model_id: str) -> None:
        super().__init__("ValidationException", ON_DEMAND.format(id=model_id[:200]))
