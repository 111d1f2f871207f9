"""A runtime on the in-process emulator whose batch jobs read and write a real S3 API server on loopback.

S3 is moto in server mode (``s3_server`` in tests/conftest.py); the service and the emulator both reach it through
boto3's usual configuration (``AWS_ENDPOINT_URL_S3``), as a deployment would reach S3.
"""

from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def bulk_env(clean_env, s3_server):
    """(runtime, s3 client, "s3://bucket/runs"): a fresh bucket; jobs run fast (time scale 0.02 s a phase)."""
    import logging

    import boto3

    # moto's server logs every S3 request (werkzeug, INFO): thousands of lines per run, none of them useful here.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    clean_env.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clean_env.setenv("AWS_REGION", "us-east-1")
    clean_env.setenv("BEDROCK_LOCAL_BATCH_SECONDS", "0.02")
    from chains import build_runtime

    runtime = build_runtime(backend="local", notice=False)
    s3 = boto3.session.Session().client("s3", region_name="us-east-1")
    bucket = f"bulk-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    return runtime, s3, f"s3://{bucket}/runs"


def questions(n: int, start: int = 0, **extra):
    """n easy questions as bulk records (the router sends them to the fast tier: claude_haiku)."""
    return [{"record_id": f"q{i}", "input": {"question": f"What is the capital of country number {i}?"}, **extra}
            for i in range(start, start + n)]


def create_calls(runtime) -> int:
    """Jobs the emulator has created (ListModelInvocationJobs: the calls log is bounded, the job list is not)."""
    from chains.bulk.store import bedrock_client

    client = bedrock_client(runtime)
    jobs = client.list_model_invocation_jobs(maxResults=1000).get("invocationJobSummaries", [])
    return len(jobs)


def dump(obj) -> str:
    return json.dumps(obj, indent=1, default=str)[:3000]


def runtime_with(bulk_section: dict, top: dict = None, **model_overrides):
    """A runtime on config.yaml with a ``bulk:`` section (e.g. a small max_records_per_job to get several jobs)."""
    from pathlib import Path

    import yaml

    from chains import build_runtime

    root = Path(__file__).resolve().parents[3]
    data = yaml.safe_load((root / "config.yaml").read_text())
    data["bulk"] = bulk_section
    data["prompts_dir"] = str(root / "prompts")
    data.update(top or {})
    for alias, fields in model_overrides.items():
        data["models"][alias].update(fields)
    return build_runtime(data, backend="local", notice=False)
