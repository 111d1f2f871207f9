"""AWS event-stream binary framing (application/vnd.amazon.eventstream), encoder side.

botocore ships only the decoder (botocore.eventstream), which checks both CRCs, so
frames built here are verified by the real client code.

    total length (u32) | headers length (u32) | prelude CRC32 (u32)
    headers: name len (u8) name, type (u8, 7 = string), value len (u16) value
    payload | message CRC32 (u32) over everything before it
"""
from __future__ import annotations

import json
import struct
import zlib
from typing import Any, Mapping

_STRING = 7


def _headers(headers: Mapping[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        n, v = name.encode("utf-8"), value.encode("utf-8")
        out += struct.pack(">B", len(n)) + n + struct.pack(">BH", _STRING, len(v)) + v
    return bytes(out)


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    hdr = _headers(headers)
    total = 12 + len(hdr) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hdr))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + hdr + payload
    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_event(event_type: str, payload: Any, raw: bool = False) -> bytes:
    """An event frame; ``payload`` is JSON-encoded unless ``raw`` (used for malformed faults)."""
    data = payload if raw else json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return encode_message(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        data,
    )


def encode_exception(exception_type: str, message: str) -> bytes:
    """A mid-stream error frame; botocore raises EventStreamError with this (lower-camel) code."""
    return encode_message(
        {":exception-type": exception_type, ":content-type": "application/json",
         ":message-type": "exception"},
        json.dumps({"message": message}).encode("utf-8"),
    )
