"""The redaction fast paths (no regex engine) answer exactly what the regexes they replace would.

A fast path that says "nothing here" where its regex finds something would let a credential through
unmasked; one that says "something" where there is nothing only costs time. Both directions are checked, on
hand-picked edges and on seeded random text drawn from the characters that matter.
"""

from __future__ import annotations

import random

import pytest

from chains.observability import redaction
from chains.observability.redaction import has_keyed_hint, has_shape_run, redact

EDGES = [
    "", "a" * 19, "a" * 20, "x" * 19 + "é" + "x" * 19, "AKIA" + "Z" * 16, "ab/+=" * 4, "ab/+=" * 4 + "-",
    "key=1", "key =1", "key\t:1", "key\"=1", "key'  : x", "keys=1", "key_=1", "apikey=1", "monkey: 1",
    "my key", "token", "token=", "input_tokens: 3", "SessionToken\": \"x", "bearer_token_bedrock=x",
    "password\u00a0= x", "key\u3000=x", "keyé=1", "key\u0661=1", "secret'\"=x", "secret''=x", "x\x00key=\x00",
    "\udcff" * 25, "token\n=\n", "passwordpassword=", "BEDROCK:", "bedrock :",
]
ALPHABET = "aZ09/+=_-:= \t\n\"'é\u00a0\u0661" + "keytokensecretpasswordbedrock"


def random_texts(n=3000, seed=14):
    rng = random.Random(seed)
    for _ in range(n):
        yield "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 60)))
        yield "".join(rng.choice(["key", "token", "=", ":", " ", "'", '"', "_", "x", "A" * 7, "/+", "é"])
                      for _ in range(rng.randint(0, 12)))


@pytest.mark.parametrize("text", EDGES)
def test_the_fast_paths_agree_with_the_regexes_on_edges(text):
    assert has_shape_run(text) == (redaction._SHAPE_RUN.search(text) is not None)
    lowered = text.lower()
    assert has_keyed_hint(lowered) == (redaction._KEYED_HINT.search(lowered) is not None)


def test_the_fast_paths_agree_with_the_regexes_on_random_text():
    for text in random_texts():
        assert has_shape_run(text) == (redaction._SHAPE_RUN.search(text) is not None), repr(text)
        lowered = text.lower()
        assert has_keyed_hint(lowered) == (redaction._KEYED_HINT.search(lowered) is not None), repr(text)


def test_credentials_behind_the_fast_paths_are_still_masked():
    assert redact("aws_secret_access_key = abc/DEF+ghi") == "aws_secret_access_key = [REDACTED]"
    assert redact("id AKIAABCDEFGHIJKLMNOP here") == "id [REDACTED] here"
    assert "[REDACTED]" in redact("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY is the key")


# --- prescanned fields: masked once, not scanned again; everything else on the line still is --------------------

def _filtered(**extra):
    import logging

    record = logging.getLogger("chains.test").makeRecord("chains.test", logging.INFO, __file__, 1, "line", (), None,
                                                          extra=extra)
    redaction.RedactionFilter().filter(record)
    return record


def test_a_prescanned_field_is_trusted_as_it_is_and_the_others_are_scanned():
    key = "AKIA" + "Q" * 16
    # prescanned is a promise that the object was masked already: the filter takes it at its word (so a
    # structure the result line carries is scanned once, by ``finish``, not twice). Shown here by breaking it.
    vouched = {"reason": f"leaked {key}"}
    with redaction.prescanned(vouched):
        record = _filtered(route=vouched, chain="qa")
        dirty = _filtered(route={"reason": "ok"}, chain=f"qa {key}")
    assert record.route is vouched and key in record.route["reason"]
    assert key not in dirty.chain  # a field nobody vouched for is still masked


def test_prescanned_only_holds_inside_its_block():
    key = "AKIA" + "R" * 16
    value = {"reason": key}
    with redaction.prescanned(value):
        pass
    record = _filtered(route=value)
    assert key not in str(record.route)
