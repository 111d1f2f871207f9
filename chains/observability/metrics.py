"""EMF metrics (Powertools' CloudWatch EMF provider): one document per blob, written to the log stream."""

from __future__ import annotations

from typing import Any, Dict, List

from chains.observability.redaction import redact_obj


def emit_metrics(obs: Any, blobs: List[Dict[str, Any]]) -> None:
    """Write one EMF document per blob ({dimensions, metrics: {name: (unit, value or [values])}, metadata})."""
    if not obs.metrics_enabled or not blobs:
        return
    import json
    import sys

    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    for blob in blobs:
        # A provider of our own (Metrics' class-level store is shared with any Metrics the user's code has),
        # used directly: the Metrics wrapper only delegates to it.
        provider = AmazonCloudWatchEMFProvider(namespace=obs.namespace, service="", metric_set={}, dimension_set={},
                                               metadata_set={}, default_dimensions={})
        for name, value in blob["dimensions"].items():
            provider.add_dimension(name=name, value=str(value))
        for extra_set in blob.get("dimension_sets", []):
            provider.add_dimensions(**extra_set)
        for name, (unit, values) in blob["metrics"].items():
            for v in values if isinstance(values, list) else [values]:
                provider.add_metric(name=name, unit=unit, value=v)
        for key, value in redact_obj(blob.get("metadata") or {}).items():  # one redaction pass per blob
            provider.add_metadata(key=key, value=value)
        document = json.dumps(provider.serialize_metric_set(), separators=(",", ":"))
        getattr(sys, obs.stream).write(document + "\n")
