"""Per model: may it run batch jobs, with how many records per job, at which prices.

The model catalogue (``bedrock_local/catalogue.py``: ``capabilities.batch`` and ``price.batch_input`` /
``batch_output``) is the source when it knows the model; otherwise batch is assumed supported at half the
configured on-demand price (Bedrock's batch pricing, FACTS.md). Record quotas come from the ``bulk:`` section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

from chains.bulk.settings import bulk_settings

BATCH_DISCOUNT = 0.5


@dataclass(frozen=True)
class Terms:
    alias: str
    model_id: str
    batch: bool
    why_not: Optional[str]  # why this model cannot run batch jobs
    min_records: int
    max_records: int
    max_bytes: int
    input_per_1k: float  # batch prices, USD per 1K tokens
    output_per_1k: float
    on_demand_input_per_1k: float
    on_demand_output_per_1k: float

    def batch_cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_1k + output_tokens * self.output_per_1k) / 1000.0

    def on_demand_cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.on_demand_input_per_1k + output_tokens * self.on_demand_output_per_1k) / 1000.0

    @property
    def ratio(self) -> float:
        """Batch over on-demand price (for estimates made at on-demand prices)."""
        od = self.on_demand_input_per_1k + self.on_demand_output_per_1k
        return (self.input_per_1k + self.output_per_1k) / od if od else BATCH_DISCOUNT


def _catalogue_entry(model_id: str) -> Any:
    try:
        from bedrock_local.catalogue import default_catalogue
    except ImportError:  # the catalogue is optional: config prices then
        return None
    try:
        return default_catalogue().base_of(model_id)
    except Exception:  # an id the catalogue cannot parse is simply unknown to it
        return None


_cache: Dict[Any, Any] = {}


def terms_for(settings: Any, alias: str) -> Terms:
    """The batch terms of ``alias`` in ``settings`` (computed once per settings object and alias)."""
    key = (id(settings), alias)
    hit = _cache.get(key)
    if hit is not None and hit[0] is settings:
        return hit[1]
    cfg = settings.model(alias)
    bs = bulk_settings(settings)
    price = cfg.price
    batch, why_not = True, None
    bin_, bout = price.input_per_1k * BATCH_DISCOUNT, price.output_per_1k * BATCH_DISCOUNT
    entry = _catalogue_entry(cfg.model_id)
    if entry is not None:
        caps = getattr(entry, "capabilities", None)
        if caps is not None and not getattr(caps, "batch", True):
            batch, why_not = False, f"{alias} ({cfg.model_id}) does not support batch inference"
        cp = getattr(entry, "price", None)
        # Catalogue batch prices are relative to its own on-demand prices: keep the ratio, apply it to the
        # configured price (config.yaml is what on-demand cost is computed with).
        if cp is not None and getattr(cp, "batch_input", None) is not None and cp.input:
            bin_ = price.input_per_1k * cp.batch_input / cp.input
        if cp is not None and getattr(cp, "batch_output", None) is not None and cp.output:
            bout = price.output_per_1k * cp.batch_output / cp.output
    terms = Terms(
        alias=alias, model_id=cfg.model_id, batch=batch, why_not=why_not,
        min_records=bs.min_records_per_job, max_records=bs.max_records_per_job, max_bytes=bs.max_bytes_per_file,
        input_per_1k=bin_, output_per_1k=bout,
        on_demand_input_per_1k=price.input_per_1k, on_demand_output_per_1k=price.output_per_1k,
    )
    if len(_cache) > 512:  # many configurations in one process (tests): keep it bounded
        _cache.clear()
    _cache[key] = (settings, terms)
    return terms
