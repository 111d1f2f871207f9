"""In-process transport: answer boto3 requests from a botocore ``before-send`` hook.

botocore emits ``before-send.<service>.<Operation>`` (bedrock-runtime or bedrock) after it has serialised and
SigV4-signed the request and just before it would open a socket; the first non-None
handler result is used as the HTTP response.  So the request bytes are the real wire
bytes, and the response still goes through botocore's parsing, error mapping, event
stream decoding and retry handling.
"""
from __future__ import annotations

import urllib.parse
from typing import Any, Iterator

from botocore.awsrequest import AWSResponse


class _RawBody:
    """The minimal urllib3-response surface botocore reads (stream/read/close)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._closed = False

    def stream(self, amt: int | None = None, decode_content: bool = True) -> Iterator[bytes]:
        for chunk in self._chunks:
            if self._closed:
                return
            yield chunk

    def read(self, amt: int | None = None, decode_content: bool = True) -> bytes:
        # Non-streaming bodies are a single chunk; reading all of it is what callers do.
        return b"".join(self.stream())

    def close(self) -> None:
        self._closed = True
        close = getattr(self._chunks, "close", None)
        if close:
            close()


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if hasattr(body, "read"):
        data = body.read()
        if hasattr(body, "seek"):
            body.seek(0)  # botocore may rewind and resend on retry
        return data if isinstance(data, bytes) else data.encode("utf-8")
    return bytes(body)


def attach(emulator: Any, client: Any) -> Any:
    def before_send(request: Any, **_: Any) -> AWSResponse:
        path = urllib.parse.urlsplit(request.url)
        target = path.path + (f"?{path.query}" if path.query else "")
        # botocore keeps some header values as bytes (e.g. the signed Authorization).
        headers = {k: v.decode("latin-1") if isinstance(v, bytes) else v
                   for k, v in request.headers.items()}
        reply = emulator.handle(request.method, target, headers, _body_bytes(request.body))
        return AWSResponse(request.url, reply.status, reply.headers, _RawBody(reply.chunks()))

    # A bedrock-runtime client (model calls) or a bedrock client (control plane): the event
    # name carries the client's own service id.  unique_id makes attach() idempotent.
    service = client.meta.service_model.service_id.hyphenize()
    if service not in ("bedrock-runtime", "bedrock"):
        raise ValueError(f"attach() takes a bedrock-runtime or bedrock client, not {service!r}")
    client.meta.events.register(f"before-send.{service}", before_send,
                                unique_id=f"bedrock_local-{id(emulator)}")
    return client
