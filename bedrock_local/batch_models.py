"""Which models take batch inference jobs, their record limits and batch prices.

The model catalogue (``bedrock_local.catalogue``) is the one owner of "does this model take batch jobs"
(``capabilities.batch``) and of its batch prices (``price.batch_input`` / ``batch_output``; half the
on-demand price where no batch price is recorded).  This module only adds the per-job record quotas.

Sources: "Supported Regions and models for batch inference"
(https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-supported.html); record quotas
("Minimum number of records per batch inference job", 100 by default; "Records per batch inference job",
50,000) from https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html and the Bedrock
quotas page.  Batch is about half the on-demand price (FACTS.md, Bedrock pricing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_RECORDS = 100
MAX_RECORDS = 50_000


@dataclass(frozen=True)
class BatchTerms:
    """What a batch job for one model may hold and costs (USD per 1K tokens, at batch prices)."""
    min_records: int = MIN_RECORDS
    max_records: int = MAX_RECORDS
    input_per_1k: float = 0.0
    output_per_1k: float = 0.0


# Base model id -> terms that differ from the catalogue's (per-account quota overrides; tests lower them).
_TABLE: dict[str, BatchTerms] = {}


def batch_terms(entry: Any) -> BatchTerms | None:
    """The terms of a catalogue ``ModelEntry``, or None when it does not support batch inference."""
    if entry is None or not entry.capabilities.batch:
        return None
    if entry.id in _TABLE:
        return _TABLE[entry.id]
    price = entry.price
    return BatchTerms(
        input_per_1k=price.batch_input if price.batch_input is not None else price.input / 2,
        output_per_1k=price.batch_output if price.batch_output is not None else price.output / 2,
    )


def batch_cost(terms: BatchTerms | None, input_tokens: int, output_tokens: int) -> float:
    if terms is None:
        return 0.0
    return round(input_tokens / 1000 * terms.input_per_1k + output_tokens / 1000 * terms.output_per_1k, 10)
