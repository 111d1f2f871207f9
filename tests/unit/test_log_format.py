"""The JSON log formatter writes the line Powertools' own formatter writes (it only does the same work faster)."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chains.observability.log_format import RedactingJsonFormatter, json_message


def _record(msg, args=(), extra=None, exc_info=None):
    logger = logging.getLogger("chains.test_log_format")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 12, msg, args, exc_info, extra=extra)


def _exc_info():
    try:
        raise ValueError("boom")
    except ValueError:
        return sys.exc_info()


CASES = [
    ("result: 200 from %s in %s ms", ("claude_haiku", 12.5), {"event": "result", "usage": {"input_tokens": 3}}),
    ("a plain sentence", (), {"route": {"model": "nova_pro", "excluded": {}}, "status": 200}),
    ('{"already": "json"}', (), None),
    ({"a": "dict message"}, (), {"x": [1, 2]}),
    ("with an exception", (), {"event": "error"}),
]


@pytest.mark.parametrize("msg,args,extra", CASES)
def test_same_line_as_powertools(msg, args, extra):
    ours, theirs = RedactingJsonFormatter(service="svc"), LambdaPowertoolsFormatter(service="svc")
    for f in (ours, theirs):
        f.append_keys(request_id="req-1", chain="qa")
    exc = _exc_info() if msg == "with an exception" else None
    record_a, record_b = _record(msg, args, extra, exc), _record(msg, args, extra, exc)
    record_b.created, record_b.msecs = record_a.created, record_a.msecs
    assert json.loads(ours.format(record_a)) == json.loads(theirs.format(record_b))
    assert list(json.loads(ours.format(record_a))) == list(json.loads(theirs.format(record_b)))  # key order too


def test_a_sentence_is_not_parsed_and_json_still_is():
    with pytest.raises(ValueError):
        json_message("result: 200 from claude_haiku")
    assert json_message('{"a": 1}') == {"a": 1}
    assert json_message("[1, 2]") == [1, 2]
