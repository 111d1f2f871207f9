"""Bulk runs, pure pieces (no emulator, no S3): record lines, batch record ids, and Bedrock's per-record batch
error codes read through chains.errors into the on-demand error types."""

from __future__ import annotations

import pytest

from chains.bulk.plan import batch_record_id, index_of
from chains.bulk.records import parse_record, read_records


def test_record_lines():
    ok = parse_record('{"record_id": 7, "input": {"question": "q"}, "options": {"max_tokens": 5}}', 0)
    assert (ok.record_id, ok.input, ok.options, ok.problem) == ("7", {"question": "q"}, {"max_tokens": 5}, None)
    assert ok.payload({"prefer": "cost", "max_tokens": 9}) == {"question": "q",
                                                               "options": {"prefer": "cost", "max_tokens": 5}}
    assert parse_record({"input": {}}, 4).record_id == "5"  # default: the line number
    assert "not valid JSON" in parse_record("{nope", 0).problem.message
    assert "unknown key(s) inputs" in parse_record({"inputs": {}}, 0).problem.message
    assert "'input' must be an object" in parse_record({"input": "text"}, 0).problem.message
    long = parse_record({"input": {}, "x" * 500: 1}, 0).problem.message
    assert len(long) < 400  # echoed values are bounded
    assert [r.record_id for r in read_records(['{"input": {}}', "", '{"input": {}}'])] == ["1", "2"]


def test_record_ids_round_trip():
    assert batch_record_id(42) == "R0000000042" and index_of("R0000000042") == 42
    assert index_of("something-else") is None and index_of(None) is None


@pytest.mark.parametrize("error, kind, status", [
    ({"errorCode": 400, "errorMessage": "bad request"}, "ModelClientError", 400),
    ({"errorCode": 429, "errorMessage": "Too many requests"}, "Throttled", 429),
    ({"errorCode": 400, "errorMessage": "Input is too long for requested model."}, "ContextOverflow", 413),
    ({"errorCode": 424, "errorMessage": "model error"}, "ModelUnavailable", 503),
    ({"errorCode": 408, "errorMessage": "timed out"}, "ModelUnavailable", 503),
    ({"errorCode": 404, "errorMessage": "This model version has reached the end of its life."}, "ModelUnusable", 502),
    ({"errorMessage": "no code"}, "ModelUnavailable", 503),
])
def test_batch_record_errors_map_like_on_demand_errors(error, kind, status):
    from chains.errors import batch_record_error

    err = batch_record_error(error, "m")
    assert (err.type, err.status, err.model) == (kind, status, "m")
