"""Building blocks: event-stream framing, profiles, the token estimator, schema values."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import jsonschema
import pytest
from bl_helpers import HAIKU, NOVA, SONNET
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from bedrock_local import DEFAULT_PROFILES, ModelProfile, count_input_tokens, estimate_tokens, load_profiles
from bedrock_local.eventstream import encode_event, encode_exception
from bedrock_local.profiles import resolve
from bedrock_local.schema import Hints, generate

ROOT = Path(__file__).resolve().parents[2]


def _decode(data: bytes):
    buf = EventStreamBuffer()
    buf.add_data(data)
    return list(buf)


def test_event_frames_decode_with_botocore_and_crcs_are_checked():
    frame = encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "héllo"}})
    (msg,) = _decode(frame)
    assert msg.headers == {":event-type": "contentBlockDelta", ":content-type": "application/json",
                           ":message-type": "event"}
    assert json.loads(msg.payload) == {"contentBlockIndex": 0, "delta": {"text": "héllo"}}
    total, headers_len = struct.unpack(">II", frame[:8])
    assert total == len(frame) and headers_len > 0
    corrupt = bytearray(frame)
    corrupt[-6] ^= 0xFF  # flip a payload byte: the message CRC no longer matches
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(corrupt))
    corrupt = bytearray(frame)
    corrupt[9] ^= 0xFF  # break the prelude CRC
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(corrupt))
    (exc,) = _decode(encode_exception("throttlingException", "slow down"))
    assert exc.headers[":message-type"] == "exception"
    assert exc.headers[":exception-type"] == "throttlingException"


def test_profiles_from_config_match_defaults():
    from_file = load_profiles(ROOT / "config.yaml")
    assert [p.alias for p in from_file.values()] == [p.alias for p in DEFAULT_PROFILES.values()]
    haiku = "us.anthropic.claude-haiku-4-5-20251001-v1:0"  # config.yaml names the id; the figures are the catalogue's
    assert from_file[haiku] == ModelProfile("claude_haiku", haiku, 200_000, 64_000, True, True, True, 300, 5)
    assert load_profiles() == DEFAULT_PROFILES and load_profiles() is not DEFAULT_PROFILES


def test_profiles_from_dict_ignore_unknown_keys():
    cfg = {"region": "x", "models": {"tiny": {
        "model_id": "amazon.nova-micro-v1:0", "context_window": 1000, "max_output_tokens": 10,
        "capabilities": {"vision": False, "tools": False}, "latency": {"first_token_ms": 1},
        "price": {"input_per_1k": 1}, "params": {}}}}
    p = load_profiles(cfg)["amazon.nova-micro-v1:0"]
    # Given keys win; the others are the catalogue's (Nova Micro: text only, 3 ms per output token).
    assert (p.alias, p.context_window, p.vision, p.tools, p.documents, p.first_token_ms, p.per_token_ms) == (
        "tiny", 1000, False, False, False, 1.0, 3.0)
    with pytest.raises(ValueError):
        load_profiles({"models": {}})


@pytest.mark.parametrize("model_id, base", [
    (HAIKU, HAIKU), (f"us.{HAIKU}", HAIKU), (f"eu.{NOVA}", NOVA), (f"apac.{SONNET}", SONNET),
    (f"global.{HAIKU}", HAIKU), ("anthropic.claude-3-haiku-20240307-v1%3A0", HAIKU),
    (f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}", NOVA),
    (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU}", HAIKU),
])
def test_resolve_ids(model_id, base):
    assert resolve(model_id, DEFAULT_PROFILES).model_id == base


def test_resolve_unknown():
    assert resolve("anthropic.claude-v2", DEFAULT_PROFILES) is None
    assert resolve(f"xx.{HAIKU}", DEFAULT_PROFILES) is None


def test_token_estimator_is_documented_formula():
    assert estimate_tokens("") == 0
    assert [estimate_tokens("x" * n) for n in (1, 4, 5, 8, 9)] == [1, 1, 2, 2, 3]
    tool = {"name": "t", "inputSchema": {"json": {"type": "object"}}}
    request = {
        "system": [{"text": "abcd"}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {"role": "user", "content": [{"text": "abcdefgh"}, {"image": {"format": "png", "source": {}}}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "1", "name": "t", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "1", "content": [
                {"text": "abc"}, {"json": {"b": 1, "a": 2}}]}}]},
        ],
        "toolConfig": {"tools": [{"toolSpec": tool}]},
    }
    expected = (1 + 2 + 3 * 3 + 1 + estimate_tokens(json.dumps({"a": 2, "b": 1}))
                + estimate_tokens(json.dumps(tool, sort_keys=True)))
    assert count_input_tokens(request) == expected


def test_schema_generation_covers_types():
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string", "minLength": 40}, "i": {"type": "integer", "exclusiveMinimum": 5},
            "n": {"type": "number", "maximum": 2}, "b": {"type": "boolean"}, "e": {"enum": ["x", "y"]},
            "c": {"const": 3}, "a": {"type": "array", "items": {"type": "integer"}, "minItems": 3,
                                     "uniqueItems": True},
            "o": {"type": "object", "properties": {"d": {"type": "string", "format": "date-time"}},
                  "required": ["d"]},
            "u": {"type": ["null", "string"], "format": "email"}, "opt": {"type": "string"},
            "all": {"allOf": [{"$ref": "#/definitions/X"}]},
        },
        "required": ["s", "i", "n", "b", "e", "c", "a", "o", "u", "all"],
        "definitions": {"X": {"type": "object", "properties": {"k": {"type": "integer"}}, "required": ["k"]}},
    }
    value = generate(schema, Hints("use 'Zoë' and 1.5"))
    jsonschema.validate(value, schema)
    assert value["s"].startswith("Zoë") and "opt" not in value
    assert value["i"] == 6  # the hint 1.5 is below exclusiveMinimum 5 → clamped to 6
    assert generate({"type": "object"}, Hints("")) == {}


def test_import_is_light_and_offline():
    """bedrock_local needs only stdlib + botocore at runtime: no langchain, no chains, no yaml."""
    import subprocess
    import sys

    code = ("import sys, socket\n"
            "socket.socket.connect = lambda *a, **k: (_ for _ in ()).throw(AssertionError('network'))\n"
            "import bedrock_local\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langchain_core', 'langchain_aws', "
            "'chains', 'yaml', 'boto3')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
