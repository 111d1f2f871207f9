"""EMF metrics: one CloudWatch Embedded Metric Format document per blob, written to the log stream.

The document is built here directly, in the shape Powertools' ``AmazonCloudWatchEMFProvider`` serializes
(``_aws.CloudWatchMetrics[0]`` with Namespace, Dimensions and Metrics; dimension, metadata and metric values at
the top level, each metric's values a list of floats). Going through the provider cost ~100 us per request
(unit and resolution look-ups, a defaultdict and a debug log call per value) for a document whose metric names
and units are fixed by ``chains.observability.scope``. The format:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Dict, List

from chains.observability.redaction import redact_obj

# The CloudWatch units our metrics use (the EMF specification's list has more); a unit outside it is a bug.
UNITS = frozenset({"Count", "Milliseconds", "Seconds", "None", "Percent", "Bytes"})
# EMF limits (the specification): at most 100 metrics per document and 30 dimensions per set.
MAX_METRICS, MAX_DIMENSIONS = 100, 30

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, default=str).encode


def emf_document(namespace: str, blob: Dict[str, Any], timestamp_ms: int) -> Dict[str, Any]:
    """The EMF document of one blob ({dimensions, dimension_sets, metrics: {name: (unit, value or [values])},
    metadata}); metadata is masked (``redact_obj``) once per blob."""
    dimensions = {str(k): str(v) for k, v in blob["dimensions"].items()}
    dimension_arrays = [list(dimensions)]
    document_dims = dict(dimensions)
    for extra in blob.get("dimension_sets") or ():
        extra = {str(k): str(v) for k, v in extra.items()}
        document_dims.update(extra)
        dimension_arrays.append(list(extra))
    if any(len(d) > MAX_DIMENSIONS for d in dimension_arrays):
        raise ValueError(f"an EMF dimension set has more than {MAX_DIMENSIONS} dimensions")
    metrics = blob["metrics"]
    if not metrics or len(metrics) > MAX_METRICS:
        raise ValueError(f"an EMF document needs 1 to {MAX_METRICS} metrics, got {len(metrics)}")
    definitions = []
    values: Dict[str, List[float]] = {}
    for name, (unit, value) in metrics.items():
        if unit not in UNITS:
            raise ValueError(f"metric {name}: unit {unit!r} is not one of {sorted(UNITS)}")
        definitions.append({"Name": name, "Unit": unit})
        values[name] = [float(v) for v in value] if isinstance(value, list) else [float(value)]
    return {
        "_aws": {"Timestamp": timestamp_ms,
                 "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": dimension_arrays,
                                        "Metrics": definitions}]},
        **document_dims,
        **redact_obj(blob.get("metadata") or {}),
        **values,
    }


def emit_metrics(obs: Any, blobs: List[Dict[str, Any]]) -> None:
    """Write one EMF document per blob to the observability stream (stdout in Lambda)."""
    if not obs.metrics_enabled or not blobs:
        return
    timestamp_ms = int(time.time() * 1000)
    text = "".join(_dumps(emf_document(obs.namespace, blob, timestamp_ms)) + "\n" for blob in blobs)
    getattr(sys, obs.stream).write(text)
