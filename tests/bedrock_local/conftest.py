"""Fixtures for the bedrock_local tests: fake credentials, real boto3 clients in both modes.

This directory has no __init__.py (rootdir-relative "prepend" import mode), so test
module names carry a ``test_bl_`` prefix to stay unique across tests/.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bedrock_local import Emulator  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from bl_helpers import NO_RETRY, REGION, make_client  # noqa: E402

# Standard-suite tests that download their picture or PDF from the internet, which CI
# cannot reach. Covered locally in test_bl_langchain.py with files generated on the fly:
# test_converse_image_input, test_image_in_tool_message, test_pdf_and_text_documents.
DESELECT = ("test_image_inputs", "test_image_tool_message", "test_pdf_inputs")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    keep, dropped = [], []
    for item in items:
        in_here = here in Path(str(item.fspath)).parents
        if in_here and item.originalname in DESELECT:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(autouse=True)
def aws_env(monkeypatch, tmp_path):
    """Fake credentials and region only; nothing that could reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK",
                 "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "BEDROCK_LOCAL_FAULTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # These suites predate the catalogue and call Claude 3 Haiku / Sonnet in us-east-1, where
    # both are at end of life now; they test everything but lifecycle, so it is off for them.
    # Lifecycle itself (on by default, as on Bedrock) is tested in test_bl_lifecycle.py and
    # test_bl_catalogue.py, which build their emulators with lifecycle=True.
    monkeypatch.setenv("BEDROCK_LOCAL_LIFECYCLE", "0")


@pytest.fixture
def emu():
    return Emulator(seed=0)


@pytest.fixture(params=["inprocess", "http"])
def mode(request):
    return request.param


@pytest.fixture
def connect(emu, mode):
    """connect(config=...) -> a boto3 client wired to ``emu`` in the current mode."""
    servers = []

    def _connect(config=NO_RETRY):
        if mode == "inprocess":
            return emu.attach(make_client(config=config))
        if not servers:
            servers.append(emu.serve())
        return make_client(servers[0].url, config=config)

    yield _connect
    for s in servers:
        s.shutdown()


@pytest.fixture
def client(connect):
    return connect()
