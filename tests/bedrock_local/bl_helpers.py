"""Shared constants and helpers for the bedrock_local tests (imported by conftest and tests)."""
from __future__ import annotations

import struct
import zlib

import boto3
from botocore.config import Config

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"
NOVA = "amazon.nova-pro-v1:0"
REGION = "us-east-1"
# One session: its loader caches the service model, so each client costs ~ms, not ~50 ms.
_SESSION = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                         region_name=REGION)
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def make_client(endpoint_url=None, config=NO_RETRY):
    return _SESSION.client("bedrock-runtime", endpoint_url=endpoint_url, config=config)


def png_bytes(width: int = 8, height: int = 8) -> bytes:
    """A tiny valid RGB PNG, built with the stdlib (no network, no Pillow)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def user(text):
    return [{"role": "user", "content": [{"text": text}]}]
