"""EMF documents are built directly (not through Powertools' provider, for the hot path's sake): they must be
what Powertools' ``AmazonCloudWatchEMFProvider`` would have serialized for the same blob."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from chains.observability.metrics import emf_document, emf_line

BLOB = {
    "dimensions": {"chain": "qa", "model": "anthropic.claude-3-haiku-20240307-v1:0"},
    "dimension_sets": [{"chain": "qa"}],
    "metrics": {"InputTokens": ("Count", 81), "CostUSD": ("None", 5.65e-05), "ModelLatency": ("Milliseconds", [4.3, 12]),
                "Requests": ("Count", 1)},
    "metadata": {"request_id": "req-1", "status": 200},
}


def powertools_document(blob, timestamp_ms):
    provider = AmazonCloudWatchEMFProvider(namespace="BedrockChains", service="", metric_set={}, dimension_set={},
                                           metadata_set={}, default_dimensions={})
    provider.set_timestamp(timestamp_ms)
    for name, value in blob["dimensions"].items():
        provider.add_dimension(name=name, value=str(value))
    for extra in blob.get("dimension_sets", []):
        provider.add_dimensions(**extra)
    for name, (unit, values) in blob["metrics"].items():
        for v in values if isinstance(values, list) else [values]:
            provider.add_metric(name=name, unit=unit, value=v)
    for key, value in blob["metadata"].items():
        provider.add_metadata(key=key, value=value)
    return json.loads(json.dumps(provider.serialize_metric_set()))


def test_the_document_is_what_powertools_serializes():
    ours = emf_document("BedrockChains", BLOB, 1796126035319)
    assert ours == powertools_document(BLOB, 1796126035319)
    assert list(ours) == list(powertools_document(BLOB, 1796126035319))  # same field order too
    assert json.loads(emf_line("BedrockChains", BLOB, 1)) == emf_document("BedrockChains", BLOB, 1)


def test_credentials_in_metadata_are_masked_and_bad_units_refused():
    blob = {**BLOB, "metadata": {"note": "aws_secret_access_key=abcdefgh12345678"}}
    assert emf_document("NS", blob, 1)["note"] == "aws_secret_access_key=[REDACTED]"
    with pytest.raises(ValueError, match="unit 'Parsecs'"):
        emf_line("NS", {**BLOB, "metrics": {"Distance": ("Parsecs", 1)}}, 1)
