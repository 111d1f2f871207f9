"""The S3 copy of a comparison (S3_BUCKET_NAME), against moto's S3."""

import datetime as dt
import json
import logging

import boto3
import pytest
from moto import mock_aws

import handler
from chains.strategies.compare.storage import store_for

EVENT = {"chain": "compare", "input": {"question": "Which family is Amazon Nova?"},
         "options": {"models": ["claude_haiku", "nova_pro"]}}
# moto also knows the bedrock-runtime endpoint; let those calls through to the in-process emulator's hook.
MOTO = {"core": {"passthrough": {"services": ["bedrockruntime"]}}}


@pytest.fixture
def s3(clean_env):
    with mock_aws(config=MOTO):
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="comparisons-test")
        yield client


def test_the_comparison_is_written_to_s3_and_its_key_returned(s3, runtime, lambda_context, clean_env):
    clean_env.setenv("S3_BUCKET_NAME", "comparisons-test")
    status, body = handler.handle(EVENT, lambda_context, runtime=runtime)
    assert status == 200 and body["ok"] is True
    today = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    key = f"comparisons/{today}/{lambda_context.aws_request_id}.json"
    assert body["storage"] == {"bucket": "comparisons-test", "key": key, "ok": True,
                               "uri": f"s3://comparisons-test/{key}"}
    stored = json.loads(s3.get_object(Bucket="comparisons-test", Key=key)["Body"].read())
    assert stored["request_id"] == lambda_context.aws_request_id and stored["chain"] == "compare"
    assert stored["inputs"] == EVENT["input"] and stored["prompt"] == "qa"
    assert stored["options"]["models"] == ["claude_haiku", "nova_pro"]
    assert stored["results"] == body["results"] and stored["judge"] == body["judge"]
    assert stored["summary"] == body["summary"] and stored["output"] == body["output"]
    # The usage of every call, the judge's included, as the response reports it.
    assert stored["cost_usd"] == pytest.approx(body["cost_usd"]) and stored["usage"] == body["usage"]
    assert "storage" not in stored


def test_a_failed_write_is_reported_and_the_answer_kept(s3, runtime, lambda_context, clean_env, caplog):
    clean_env.setenv("S3_BUCKET_NAME", "no-such-bucket")
    with caplog.at_level(logging.WARNING, logger="chains.strategies.compare.storage"):
        status, body = handler.handle(EVENT, lambda_context, runtime=runtime)
    assert status == 200 and body["ok"] is True
    assert body["output"] and [e["status"] for e in body["results"]] == ["ok", "ok"]
    storage = body["storage"]
    assert storage["ok"] is False and storage["bucket"] == "no-such-bucket"
    assert storage["key"].endswith(f"/{lambda_context.aws_request_id}.json")
    assert storage["error"]["type"] == "NoSuchBucket"
    record = next(r for r in caplog.records if r.name == "chains.strategies.compare.storage")
    assert record.levelno == logging.WARNING and record.bucket == "no-such-bucket"
    assert record.error_type == "NoSuchBucket"


def test_without_credentials_the_write_fails_cleanly(runtime, lambda_context, clean_env):
    # No moto, no credentials: botocore cannot sign. Reported, not raised.
    clean_env.setenv("S3_BUCKET_NAME", "comparisons-test")
    status, body = handler.handle(EVENT, lambda_context, runtime=runtime)
    assert status == 200 and body["storage"]["ok"] is False
    assert body["storage"]["error"]["type"] == "NoCredentialsError"


def test_no_bucket_variable_means_no_copy(runtime, lambda_context, clean_env):
    status, body = handler.handle(EVENT, lambda_context, runtime=runtime)
    assert status == 200 and "storage" not in body
    assert store_for(runtime)._client is None  # never built


def test_the_s3_client_is_built_once_and_lazily(s3, runtime, lambda_context, clean_env):
    clean_env.setenv("S3_BUCKET_NAME", "comparisons-test")
    store = store_for(runtime)
    assert store._client is None
    handler.handle(EVENT, lambda_context, runtime=runtime)
    first = store._client
    handler.handle(EVENT, lambda_context, runtime=runtime)
    assert first is not None and store._client is first and store_for(runtime) is store


def test_request_ids_are_made_safe_for_the_key():
    from chains.strategies.compare.storage import comparison_key

    when = dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    assert comparison_key("../../etc/passwd", when) == "comparisons/2026-01-02/.._.._etc_passwd.json"
    assert comparison_key("abc-123", when) == "comparisons/2026-01-02/abc-123.json"
