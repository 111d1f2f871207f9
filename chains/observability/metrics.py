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
from typing import Any, Dict, List, Tuple

from chains.observability.redaction import redact_obj

# The CloudWatch units our metrics use (the EMF specification's list has more); a unit outside it is a bug.
UNITS = frozenset({"Count", "Milliseconds", "Seconds", "None", "Percent", "Bytes"})
# EMF limits (the specification): at most 100 metrics per document and 30 dimensions per set.
MAX_METRICS, MAX_DIMENSIONS = 100, 30

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, default=str).encode


def emf_document(namespace: str, blob: Dict[str, Any], timestamp_ms: int) -> Dict[str, Any]:
    """The EMF document of one blob ({dimensions, dimension_sets, metrics: {name: (unit, value or [values])},
    metadata}), as a dict (``json.loads(emf_line(...))``)."""
    return json.loads(emf_line(namespace, blob, timestamp_ms))


# The static part of a document (its CloudWatchMetrics directive) as JSON text, per (namespace, dimension sets,
# metric names and units): a request writes the same few shapes over and over.
_DIRECTIVES: Dict[Tuple[Any, ...], str] = {}
_MAX_DIRECTIVES = 256


def _directive(namespace: str, dimension_arrays: List[List[str]], metrics: Dict[str, Any]) -> str:
    key = (namespace, tuple(map(tuple, dimension_arrays)), tuple((name, unit) for name, (unit, _) in metrics.items()))
    text = _DIRECTIVES.get(key)
    if text is None:
        if any(len(d) > MAX_DIMENSIONS for d in dimension_arrays):
            raise ValueError(f"an EMF dimension set has more than {MAX_DIMENSIONS} dimensions")
        if not metrics or len(metrics) > MAX_METRICS:
            raise ValueError(f"an EMF document needs 1 to {MAX_METRICS} metrics, got {len(metrics)}")
        for name, (unit, _) in metrics.items():
            if unit not in UNITS:
                raise ValueError(f"metric {name}: unit {unit!r} is not one of {sorted(UNITS)}")
        text = _dumps([{"Namespace": namespace, "Dimensions": dimension_arrays,
                        "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()]}])
        if len(_DIRECTIVES) >= _MAX_DIRECTIVES:
            _DIRECTIVES.clear()
        _DIRECTIVES[key] = text
    return text


def emf_line(namespace: str, blob: Dict[str, Any], timestamp_ms: int) -> str:
    """One EMF document as a JSON line (no newline); metadata is masked (``redact_obj``) once per blob."""
    dimensions = {str(k): str(v) for k, v in blob["dimensions"].items()}
    dimension_arrays = [list(dimensions)]
    fields: Dict[str, Any] = dict(dimensions)
    for extra in blob.get("dimension_sets") or ():
        extra = {str(k): str(v) for k, v in extra.items()}
        fields.update(extra)
        dimension_arrays.append(list(extra))
    metrics = blob["metrics"]
    directive = _directive(namespace, dimension_arrays, metrics)
    fields.update(redact_obj(blob.get("metadata") or {}))
    for name, (_, value) in metrics.items():
        fields[name] = [float(v) for v in value] if isinstance(value, list) else [float(value)]
    # {"_aws": ..., then the dimension, metadata and metric fields}: the fields' JSON object, opened up.
    return f'{{"_aws":{{"Timestamp":{int(timestamp_ms)},"CloudWatchMetrics":{directive}}},{_dumps(fields)[1:]}'


def emit_metrics(obs: Any, blobs: List[Dict[str, Any]]) -> None:
    """Write one EMF document per blob to the observability stream (stdout in Lambda)."""
    if not obs.metrics_enabled or not blobs:
        return
    timestamp_ms = int(time.time() * 1000)
    text = "".join(emf_line(obs.namespace, blob, timestamp_ms) + "\n" for blob in blobs)
    getattr(sys, obs.stream).write(text)
