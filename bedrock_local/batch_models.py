"""Which models take batch inference jobs, their record limits and batch prices.

TODO(bedrock_local.catalogue): the model catalogue (per-model ``batch`` capability and batch prices)
replaces this table once it lands; keep ``batch_terms`` as the one function the batch engine calls.

Sources: "Supported Regions and models for batch inference"
(https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-supported.html) lists Nova Pro
and the Anthropic models below; record quotas ("Minimum number of records per batch inference job",
100 by default; "Records per batch inference job", 50,000) from
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html and the Bedrock quotas
page.  Batch is about half the on-demand price (FACTS.md, Bedrock pricing).
Claude 3 Sonnet is left out on purpose: it reached end of life (retired 2025-07-21, FACTS.md), so
it is the default profile set's model *without* batch support.
"""
from __future__ import annotations

from dataclasses import dataclass

from .profiles import ModelProfile

MIN_RECORDS = 100
MAX_RECORDS = 50_000


@dataclass(frozen=True)
class BatchTerms:
    """What a batch job for one model may hold and costs (USD per 1K tokens, at batch prices)."""
    min_records: int = MIN_RECORDS
    max_records: int = MAX_RECORDS
    input_per_1k: float = 0.0
    output_per_1k: float = 0.0


# Foundation-model id -> terms.  Prices: half the on-demand us-east-1 price per 1K tokens.
_TABLE: dict[str, BatchTerms] = {
    "amazon.nova-pro-v1:0": BatchTerms(input_per_1k=0.0004, output_per_1k=0.0016),
    "anthropic.claude-3-haiku-20240307-v1:0": BatchTerms(input_per_1k=0.000125, output_per_1k=0.000625),
    "anthropic.claude-haiku-4-5-20251001-v1:0": BatchTerms(input_per_1k=0.0005, output_per_1k=0.0025),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": BatchTerms(input_per_1k=0.0015, output_per_1k=0.0075),
    "anthropic.claude-sonnet-4-6": BatchTerms(input_per_1k=0.0015, output_per_1k=0.0075),
}


def batch_terms(profile: ModelProfile) -> BatchTerms | None:
    """The model's batch terms, or None when it does not support batch inference."""
    return _TABLE.get(profile.model_id)


def batch_cost(terms: BatchTerms | None, input_tokens: int, output_tokens: int) -> float:
    if terms is None:
        return 0.0
    return round(input_tokens / 1000 * terms.input_per_1k + output_tokens / 1000 * terms.output_per_1k, 10)
