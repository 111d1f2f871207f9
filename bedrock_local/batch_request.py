"""CreateModelInvocationJob request checks, with the wording AWS services use.

The constraints are botocore's service model for ``bedrock`` 2023-04-20 (patterns, lengths, enums of
CreateModelInvocationJobRequest).  botocore checks required members and types on the client side
but not patterns or ranges; the service answers a ValidationException in the standard AWS form
"1 validation error detected: Value 'x' at 'roleArn' failed to satisfy constraint: Member must satisfy
regular expression pattern: ..." (several failures joined with "; ").  Echoed values are cut to 200
characters.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from .errors import BedrockError

JOB_NAME = r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}"
ROLE_ARN = r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+"
S3_URI = r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
TOKEN = r"[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}"
INVOCATION_TYPES = ("InvokeModel", "Converse")
STATUSES = ("Submitted", "InProgress", "Completed", "Failed", "Stopping", "Stopped", "PartiallyCompleted",
            "Expired", "Validating", "Scheduled")
ECHO = 200


def echo(value: Any) -> str:
    text = str(value)
    return text if len(text) <= ECHO else f"{text[:ECHO]}... ({len(text)} characters)"


class Problems:
    """Collects constraint failures; ``raise_if_any`` raises them as one ValidationException."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, value: Any, constraint: str) -> None:
        shown = "null" if value is None else f"'{echo(value)}'"
        self.items.append(f"Value {shown} at '{where}' failed to satisfy constraint: {constraint}")

    def pattern(self, where: str, value: Any, pattern: str, max_len: int) -> None:
        if value is None:
            self.add(where, None, "Member must not be null")
        elif not isinstance(value, str) or not re.fullmatch(pattern, value):
            self.add(where, value, f"Member must satisfy regular expression pattern: {pattern}")
        elif len(value) > max_len:
            self.add(where, value, f"Member must have length less than or equal to {max_len}")

    def raise_if_any(self) -> None:
        if self.items:
            n = len(self.items)
            raise BedrockError("ValidationException",
                               f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(self.items))


def s3_uri(config: Any, member: str) -> Any:
    """The s3Uri inside inputDataConfig.s3InputDataConfig / outputDataConfig.s3OutputDataConfig."""
    if not isinstance(config, Mapping):
        return None
    inner = config.get(member)
    return inner.get("s3Uri") if isinstance(inner, Mapping) else None


def check_create(body: Mapping[str, Any]) -> None:
    p = Problems()
    p.pattern("jobName", body.get("jobName"), JOB_NAME, 63)
    p.pattern("roleArn", body.get("roleArn"), ROLE_ARN, 2048)
    if body.get("modelId") in (None, ""):
        p.add("modelId", body.get("modelId"), "Member must not be null")
    p.pattern("inputDataConfig.s3InputDataConfig.s3Uri",
              s3_uri(body.get("inputDataConfig"), "s3InputDataConfig"), S3_URI, 1024)
    p.pattern("outputDataConfig.s3OutputDataConfig.s3Uri",
              s3_uri(body.get("outputDataConfig"), "s3OutputDataConfig"), S3_URI, 1024)
    token = body.get("clientRequestToken")
    if token is not None:
        p.pattern("clientRequestToken", token, TOKEN, 256)
    hours = body.get("timeoutDurationInHours")
    if hours is not None and (not isinstance(hours, int) or isinstance(hours, bool)
                              or not 24 <= hours <= 168):
        p.add("timeoutDurationInHours", hours,
              "Member must have value greater than or equal to 24 and less than or equal to 168")
    kind = body.get("modelInvocationType")
    if kind is not None and kind not in INVOCATION_TYPES:
        p.add("modelInvocationType", kind, f"Member must satisfy enum value set: [{', '.join(INVOCATION_TYPES)}]")
    fmt = ((body.get("inputDataConfig") or {}).get("s3InputDataConfig") or {}).get("s3InputFormat") \
        if isinstance(body.get("inputDataConfig"), Mapping) else None
    if fmt is not None and fmt != "JSONL":
        p.add("inputDataConfig.s3InputDataConfig.s3InputFormat", fmt, "Member must satisfy enum value set: [JSONL]")
    p.raise_if_any()


def split_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/a/b -> ("bucket", "a/b")."""
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key
