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

from helpers.lambda_context import FakeLambdaContext  # noqa: E402,F401 - tests import it from conftest too

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
def _cold_prompt_prefixes():
    """The router's prefix LRU (chains.caching.placement) is per process; each test starts cold, like the
    emulator it builds, so one test's cached prefix never changes another's route estimate."""
    yield
    from chains.caching.placement import PREFIXES

    PREFIXES.clear()


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


@pytest.fixture
def lambda_context():
    return FakeLambdaContext()


# --- a real S3 API server on loopback -----------------------------------------------------------------------------
# moto in server mode (ThreadedMotoServer): boto3 talks HTTP to it exactly as to S3, so code under test makes its
# real S3 calls.  One server per session; each test that needs S3 takes ``s3_bucket`` (a fresh bucket) or
# ``s3_server`` (the endpoint URL, e.g. for AWS_ENDPOINT_URL_S3 in a child process).


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL (http://127.0.0.1:PORT) of a session-wide S3 API server on loopback."""
    import logging

    from moto.server import ThreadedMotoServer

    # werkzeug logs every request at INFO from the server's thread: keep it out of other tests' caplog.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client_for(endpoint_url: str):
    """A boto3 S3 client on the loopback server, with its own dummy credentials (no environment needed)."""
    import boto3

    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name="us-east-1").client("s3", endpoint_url=endpoint_url)


@pytest.fixture
def s3_bucket(s3_server):
    """(client, bucket): a fresh, empty bucket on the loopback S3 server, and a client for it."""
    import uuid

    client = s3_client_for(s3_server)
    name = f"test-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name)
    return client, name
