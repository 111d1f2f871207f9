"""A copy of every comparison in S3, when ``S3_BUCKET_NAME`` is set.

Key: ``comparisons/{YYYY-MM-DD}/{request_id}.json`` (UTC date). The document is the whole comparison: the
request (chain, prompt name, inputs, options), every model's entry, the judge, the summary and the usage of
all calls so far. Writing is best effort by design: a failure is logged and reported in the response's
``storage`` section, and the answer is returned all the same.

The S3 client is built once per runtime, on the first write, with short timeouts and two tries, and the
write (client building included) is bounded by the time left before the request's deadline: a bucket that
never answers costs at most that, and the answer carries ``storage.error`` (``Timeout``).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import threading
import uuid
from typing import Any, Dict, Mapping, Optional

from langchain_core.callbacks import BaseCallbackManager, UsageMetadataCallbackHandler

import chains.deadline as deadline
from chains.calls.bounded import CallAbandoned, run_bounded
from chains.echo import clip

logger = logging.getLogger(__name__)

BUCKET_ENV = "S3_BUCKET_NAME"
PREFIX = "comparisons"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class ComparisonStore:
    """Writes JSON documents to S3 with one lazily built client."""

    def __init__(self, region: Optional[str] = None) -> None:
        self.region = region
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3",
                    region_name=self.region,
                    config=Config(connect_timeout=2, read_timeout=5,
                                  retries={"mode": "standard", "total_max_attempts": 2}),
                )
            return self._client

    def put_json(self, bucket: str, key: str, document: Mapping[str, Any]) -> None:
        body = json.dumps(document, ensure_ascii=False, default=str).encode("utf-8")
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def store_for(runtime: Any) -> ComparisonStore:
    """The runtime's store (one per runtime, so one S3 client per warm Lambda container)."""
    store = runtime.comparison_store
    if store is None:
        with runtime.lock:
            if runtime.comparison_store is None:
                runtime.comparison_store = ComparisonStore(runtime.settings.region)
            store = runtime.comparison_store
    return store


def comparison_key(request_id: str, when: Optional[_dt.datetime] = None) -> str:
    when = when or _dt.datetime.now(_dt.timezone.utc)
    safe = _UNSAFE.sub("_", request_id)[:128] or "request"
    return f"{PREFIX}/{when:%Y-%m-%d}/{safe}.json"


def store_comparison(chain: Any, request: Any, config: Mapping[str, Any], result: Mapping[str, Any]) -> Dict[str, Any]:
    """Write the comparison to ``s3://$S3_BUCKET_NAME/...``; returns the response's ``storage`` section."""
    bucket = os.environ.get(BUCKET_ENV, "").strip()
    metadata = (config or {}).get("metadata") or {}
    request_id = str(metadata.get("request_id") or uuid.uuid4())
    now = _dt.datetime.now(_dt.timezone.utc)
    key = comparison_key(request_id, now)
    document: Dict[str, Any] = {
        "request_id": request_id,
        "created_at": now.isoformat(timespec="seconds"),
        "chain": chain.name,
        "prompt": request.prompt.name,
        "inputs": request.inputs,
        "options": request.options.model_dump(exclude_unset=True),
        **{k: v for k, v in result.items() if k != "storage"},
    }
    collector = _usage_collector(config)
    if collector is not None:
        from chains.usage import summarise

        document.update(summarise(chain.settings, collector.usage_metadata))
    section: Dict[str, Any] = {"bucket": bucket, "key": key}
    # The copy gets what is left of the request's deadline (chains.deadline), client building included:
    # a bucket that never answers must not hold the answer past it. No time left: not attempted.
    left = deadline.remaining_s(request.deadline) if request.deadline is not None else None
    try:
        if left is not None and left <= 0:
            raise CallAbandoned("no time left before the request's deadline")
        run_bounded(lambda: store_for(chain.runtime).put_json(bucket, key, document), left, name="s3-copy")
    except Exception as exc:  # best effort: never lose the answer over its copy
        code = "Timeout" if isinstance(exc, CallAbandoned) else _error_code(exc)
        # The log has the details (with the request id); the body says what happened, without the
        # endpoint URL or anything botocore put in its message.
        logger.warning("comparison not stored in S3: %s", clip(str(exc) or type(exc).__name__, 500),
                       extra={"bucket": bucket, "key": key, "error_type": code, "request_id": request_id})
        section.update(ok=False, error={"type": code, "message": _public_message(code)})
        return section
    section.update(ok=True, uri=f"s3://{bucket}/{key}")
    return section


def _usage_collector(config: Optional[Mapping[str, Any]]) -> Optional[UsageMetadataCallbackHandler]:
    """The chain's usage collector among the config's callbacks (so the stored usage includes the judge)."""
    callbacks = (config or {}).get("callbacks")
    handlers = callbacks.handlers if isinstance(callbacks, BaseCallbackManager) else list(callbacks or [])
    found = [h for h in handlers if isinstance(h, UsageMetadataCallbackHandler)]
    return found[-1] if found else None


def _error_code(exc: BaseException) -> str:
    from chains.errors import error_code

    return error_code(exc) or type(exc).__name__


def _public_message(code: str) -> str:
    if code == "Timeout":
        return "not stored: the request's deadline left no time for the copy"
    return f"not stored: S3 answered {code}; the details are in the log under this request id"
