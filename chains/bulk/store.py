"""Where a run lives in S3, and the clients that reach S3 and the Bedrock control plane.

    s3://BUCKET/PREFIX/RUN_ID/
        manifest.json                  the run's state (chains/bulk/manifest.py): the one object a collector needs
        records.jsonl                  the input records as given (chain input, record_id, options)
        jobs/JOB_NAME/input.jsonl      one batch job's input: {"recordId", "modelInput"} per line
        jobs/JOB_NAME/routes.jsonl     the router's decision per record of that job
        jobs/JOB_NAME/output/          where Bedrock writes JOB_ID/input.jsonl.out and manifest.json.out
        results/PART.jsonl             collected results, one object per part (a job, on-demand, rejected, retry)

S3 is reached through boto3's usual configuration (credentials chain, ``AWS_ENDPOINT_URL_S3``); offline (the
bedrock_local backend) with dummy credentials, like the emulator's own clients.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from typing import IO, Any, Dict, Iterator, Tuple

from chains.bulk._deps import BadRequest, UnknownRun, bulk_state

_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?$")
_LOCAL_CREDENTIALS = {"aws_access_key_id": "bedrock-local", "aws_secret_access_key": "bedrock-local"}
_lock = threading.Lock()


def split_s3(uri: str, what: str = "s3 prefix") -> Tuple[str, str]:
    """``s3://bucket/a/b/`` -> ("bucket", "a/b"); BadRequest (400) for anything else."""
    m = _S3_URI.match(uri or "") if isinstance(uri, str) else None
    if not m:
        shown = str(uri)[:200]
        raise BadRequest(f"{what} must look like s3://bucket/prefix, got {shown!r}", field="s3")
    return m.group(1), (m.group(2) or "").strip("/")


def s3_client(runtime: Any) -> Any:
    cache = bulk_state(runtime)
    with _lock:
        if "s3" not in cache:
            import boto3
            from botocore.config import Config

            kwargs: Dict[str, Any] = {
                "region_name": runtime.settings.region,
                "config": Config(retries={"mode": "standard", "total_max_attempts": 5}, max_pool_connections=20),
            }
            if runtime.factory.backend == "local":
                kwargs.update(_LOCAL_CREDENTIALS)
            cache["s3"] = boto3.session.Session().client("s3", **kwargs)
        return cache["s3"]


def bedrock_client(runtime: Any) -> Any:
    """The ``bedrock`` control-plane client (model invocation jobs); the emulator answers it offline."""
    cache = bulk_state(runtime)
    with _lock:
        if "bedrock" not in cache:
            import boto3
            from botocore.config import Config

            factory = runtime.factory
            region = runtime.settings.region
            kwargs: Dict[str, Any] = {
                "region_name": region, "config": Config(retries={"mode": "standard", "total_max_attempts": 5}),
            }
            if factory.backend == "local":
                kwargs.update(_LOCAL_CREDENTIALS)
                kwargs["endpoint_url"] = f"https://bedrock.{region}.amazonaws.com"
            client = boto3.session.Session().client("bedrock", **kwargs)
            if factory.backend == "local":
                from bedrock_local.batch import attach_control_plane

                attach_control_plane(factory.emulator, client)
            cache["bedrock"] = client
        return cache["bedrock"]


class RunStore:
    """The objects of one run under ``s3://bucket/key``."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.s3 = client
        self.bucket = bucket
        self.key = key.strip("/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def k(self, *parts: str) -> str:
        return "/".join([self.key, *parts])

    def put_json(self, name: str, obj: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=self.k(name), ContentType="application/json",
                           Body=json.dumps(obj, separators=(",", ":"), default=str).encode("utf-8"))

    def get_json(self, name: str) -> Any:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.k(name))["Body"].read()
        except Exception as exc:
            code = (getattr(exc, "response", {}) or {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404", "NoSuchBucket"):
                raise UnknownRun(f"no bulk run at {self.uri} (no {name}; {code})", run=self.uri) from None
            raise
        return json.loads(body)

    def put_lines(self, name: str, lines: Iterator[str]) -> int:
        """Upload JSON lines streamed through a spooled temporary file (memory stays bounded); returns bytes."""
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as tmp:
            for line in lines:
                tmp.write(line.encode("utf-8"))
                tmp.write(b"\n")
            size = tmp.tell()
            tmp.seek(0)
            self.upload(name, tmp)
        return size

    def upload(self, name: str, fh: IO[bytes]) -> None:
        self.s3.upload_fileobj(fh, self.bucket, self.k(name))

    def iter_lines(self, key: str, absolute: bool = False) -> Iterator[bytes]:
        """The lines of an object, streamed (never the whole object in memory)."""
        obj = self.s3.get_object(Bucket=self.bucket, Key=key if absolute else self.k(key))
        for line in obj["Body"].iter_lines(chunk_size=256 * 1024):
            if line.strip():
                yield line

    def exists(self, name: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self.k(name))
            return True
        except Exception:
            return False

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.k(prefix)):
            for item in page.get("Contents", []) or []:
                yield item["Key"]


def open_run(runtime: Any, run: Any) -> RunStore:
    """A RunStore for a run given as its S3 URI, a ``Run`` or a manifest-like mapping."""
    uri = getattr(run, "uri", None) or (run.get("run") if isinstance(run, dict) else run)
    bucket, key = split_s3(uri, "run")
    if not key:
        raise BadRequest("a run is s3://bucket/prefix/RUN_ID (the 'run' printed by bulk submit)", field="run")
    return RunStore(s3_client(runtime), bucket, key)


