"""``python -m bedrock_local``: URL on the first line, AWS_ENDPOINT_URL_BEDROCK_RUNTIME, flags."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bl_helpers import HAIKU, NOVA, user
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli():
    procs = []

    def start(*args, env=None):
        proc = subprocess.Popen([sys.executable, "-m", "bedrock_local", "--port", "0", *args],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, **(env or {})})
        procs.append(proc)
        return proc.stdout.readline().strip()

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def test_cli_serves_and_boto3_uses_endpoint_env(cli, monkeypatch):
    url = cli("--latency-scale", "0", "--config", str(ROOT / "config.yaml"))
    assert url.startswith("http://127.0.0.1:")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    import boto3

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    assert client.meta.endpoint_url == url
    r = client.converse(modelId=HAIKU, messages=user("hello"))
    assert r["output"]["message"]["content"][0]["text"].startswith(f"[bedrock_local · {HAIKU}]")


def test_cli_faults_flag_and_env(cli):
    from bl_helpers import make_client

    url = cli("--latency-scale", "0", "--faults", json.dumps([{"model": "nova", "error": "ThrottlingException"}]))
    c = make_client(url)
    with pytest.raises(ClientError) as info:
        c.converse(modelId=NOVA, messages=user("hi"))
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert c.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"
    url = cli("--latency-scale", "0", env={"BEDROCK_LOCAL_FAULTS": json.dumps(
        [{"model": "haiku", "error": "ModelTimeoutException", "first_n": 1}])})
    c = make_client(url)
    with pytest.raises(ClientError) as info:
        c.converse(modelId=HAIKU, messages=user("hi"))
    assert info.value.response["Error"]["Code"] == "ModelTimeoutException"
    assert c.converse(modelId=HAIKU, messages=user("hi"))["stopReason"] == "end_turn"


def test_cli_default_latency_is_real(cli):
    """The HTTP server defaults to latency_scale 1.0: profile latency is slept."""
    import time

    from bl_helpers import make_client

    url = cli()
    c = make_client(url)
    t0 = time.perf_counter()
    r = c.converse(modelId=HAIKU, messages=user("hi"))
    assert time.perf_counter() - t0 >= r["metrics"]["latencyMs"] / 1000 * 0.9
