"""Shared fixtures: a clean AWS environment, a runtime on the in-process emulator, a fake Lambda context."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
for _path in (ROOT, TESTS):  # the project (chains, handler) and tests/helpers (as ``helpers``)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

# Variables that would let a test reach real AWS or change which backend is chosen.
AWS_ENV = [
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_REGION", "AWS_DEFAULT_REGION", "CHAINS_BACKEND", "CHAINS_CONFIG",
    "AMAZON_NOVA_PRO_MODEL_ID", "ANTHROPIC_CLAUDE_HAIKU_MODEL_ID", "ANTHROPIC_CLAUDE_SONNET_MODEL_ID",
    "S3_BUCKET_NAME", "BEDROCK_LOCAL_FAULTS", "LOG_PROMPTS",
]


@pytest.fixture(autouse=True)
def _reset_observability():
    """handler.handle() installs the service's log handler on the ``bedrock_chains`` logger (with a level);
    every test starts and ends without it, so caplog in one test never depends on another's request."""
    yield
    from chains import observability

    observability.reset()


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No AWS credentials, no endpoint override, no shared config files: the offline default applies."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from chains import reset_default_runtime

    reset_default_runtime()
    yield monkeypatch
    reset_default_runtime()


@pytest.fixture
def runtime(clean_env):
    """A runtime on the default config.yaml, backed by its own in-process bedrock_local emulator."""
    from chains import build_runtime

    rt = build_runtime(backend="local", notice=False)
    return rt


@pytest.fixture
def emulator(runtime):
    return runtime.factory.emulator


class FakeLambdaContext:
    """The attributes of a Lambda context object that the handler reads (as Powertools' tests do)."""

    function_name = "bedrock-chains"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bedrock-chains"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/bedrock-chains"
    log_stream_name = "2026/11/25/[$LATEST]abcdef"

    def __init__(self, request_id: str = "req-0001", remaining_ms: int = 300_000) -> None:
        self.aws_request_id = request_id
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


@pytest.fixture
def lambda_context():
    return FakeLambdaContext()
