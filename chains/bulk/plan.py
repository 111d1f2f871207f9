"""The plan of a bulk run: per record, the model the router chooses (as on demand), then which records go to
batch jobs, which run on demand, and why.

Per record the chain's own parsing and the routing package's ``decide`` run exactly as for an on-demand call
(pins, windows, budgets, preference, content); nothing is re-decided here. Then:
- records are grouped by the chosen model;
- a group of a model without batch support, or smaller than the per-job minimum, runs on demand (with the
  chain's fallbacks) and the reason is recorded;
- a larger group is split into jobs within the per-job record and byte limits, as evenly as possible (so no
  split leaves a job under the minimum).
A record the chain refuses (missing variables, over its own ``max_cost_usd``, too large for every window ...)
is ``rejected``: it gets that typed error as its result and is never sent anywhere.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional

import chains.bulk._deps as _deps
from chains.bulk.converse import model_input
from chains.bulk.records import Record, dumps
from chains.bulk.terms import Terms, terms_for

BATCH, ON_DEMAND, REJECTED = "batch", "on_demand", "rejected"


def batch_record_id(index: int) -> str:
    """The ``recordId`` in the batch files: 11 alphanumeric characters, as in Bedrock's examples."""
    return f"R{index:010d}"


def index_of(record_id: str) -> Optional[int]:
    if isinstance(record_id, str) and len(record_id) == 11 and record_id[0] == "R" and record_id[1:].isdigit():
        return int(record_id[1:])
    return None


@dataclass
class Planned:
    index: int
    record_id: str
    mode: str  # batch | on_demand | rejected
    alias: Optional[str] = None
    reason: str = ""
    route: Optional[Dict[str, Any]] = None
    line: Optional[str] = None  # the batch input line (batch records)
    estimate_usd: float = 0.0  # at on-demand prices
    error: Optional[Dict[str, Any]] = None  # rejected: the typed error


@dataclass
class JobPlan:
    alias: str
    model_id: str
    indices: List[int]
    lines: List[str]
    tag: str = ""  # in the job name (compare: "a", the answer pass)

    @property
    def size(self) -> int:
        return sum(len(line.encode("utf-8")) + 1 for line in self.lines)


@dataclass
class Plan:
    records: int
    planned: List[Planned]
    jobs: List[JobPlan] = field(default_factory=list)
    on_demand: List[int] = field(default_factory=list)
    rejected: List[int] = field(default_factory=list)
    reasons: Dict[str, str] = field(default_factory=dict)  # alias -> why its records run on demand
    estimate_usd: float = 0.0  # what the run should cost (batch prices for batch records)
    on_demand_estimate_usd: float = 0.0  # the same records all on demand
    compare: Dict[str, Any] = field(default_factory=dict)  # a compare run: models, judge, on-demand per model

    def summary(self) -> Dict[str, Any]:
        by_model: Dict[str, Dict[str, int]] = {}
        for p in self.planned:
            if p.alias:
                entry = by_model.setdefault(p.alias, {BATCH: 0, ON_DEMAND: 0})
                entry[p.mode] = entry.get(p.mode, 0) + 1
        return {
            "records": self.records, BATCH: self.records - len(self.on_demand) - len(self.rejected),
            ON_DEMAND: len(self.on_demand), REJECTED: len(self.rejected), "jobs": len(self.jobs),
            "by_model": by_model, "on_demand_reasons": dict(self.reasons),
            "estimated_cost_usd": round(self.estimate_usd, 6),
            "estimated_on_demand_cost_usd": round(self.on_demand_estimate_usd, 6),
        }


def check_strategy(chain: Any) -> None:
    """BulkUnsupported (400) unless the chain's strategy declares how a bulk run plans it (``StrategySpec.bulk``)."""
    if bulk_mode(chain) is not None:
        return
    capable: Dict[str, str] = {}
    for name in sorted(chain.settings.chains):
        try:
            other = chain.runtime.chain(name)
        except _deps.ChainsError:  # a chain that does not build is not one to suggest
            continue
        if bulk_mode(other) is not None:
            capable[name] = other.strategy.name
    strategies = sorted(set(capable.values()))
    raise _deps.BulkUnsupported(
        f"chain '{chain.name}' uses the {chain.strategy.name} strategy, which needs several dependent model calls "
        f"per request and cannot run as batch jobs; strategies that run in bulk: {', '.join(strategies)} "
        f"(chains: {', '.join(capable)})",
        strategy=chain.strategy.name, bulk_strategies=strategies, chains=list(capable),
    )


def bulk_mode(chain: Any) -> Optional[str]:
    """"pinned", "routed", "compare" or None (``StrategySpec.bulk``)."""
    return getattr(chain.strategy, "bulk", None)


def _plain(value: Any) -> Any:
    """JSON-safe copy: langchain-aws gives attachment bytes; batch JSONL carries them base64-encoded."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _route(chain: Any, request: Any) -> tuple:
    """(alias, route dict, messages, max_tokens, on-demand estimate) as the on-demand strategy decides."""
    settings = chain.settings
    if bulk_mode(chain) == "pinned":
        alias = request.options.model or chain.cfg.model or next(iter(settings.models))
        reason = ("pinned by options.model" if request.options.model
                  else f"the model configured for chain '{chain.name}'")
        messages = request.prompt.format_messages(request.inputs)
        max_tokens = _deps.output_reserve(settings, alias, _deps.requested_max_tokens(request))
        price = settings.model(alias).price
        est = (_deps.estimate_messages(messages) * price.input_per_1k + max_tokens * price.output_per_1k) / 1000.0
        return alias, {"model": alias, "reason": reason, "candidates": [alias]}, messages, max_tokens, est
    messages = _deps.build_messages(chain, request)
    decision = _deps.decide(chain, request, messages)
    messages = _deps.with_domain_preamble(request, messages, decision)
    max_tokens = _deps.output_reserve(settings, decision.model, decision.max_tokens)
    return decision.model, decision.to_dict(), messages, max_tokens, decision.estimated_cost_usd


def plan_records(
    chain: Any, records: Iterable[Record], run_options: Optional[Mapping[str, Any]] = None,
    *, pin: Optional[str] = None,
) -> Plan:
    """Decide every record, group by model, split to jobs (see the module docstring). ``pin`` forces a model
    (bulk compare: one job per model over the same records)."""
    settings = chain.settings
    planned: List[Planned] = []
    groups: Dict[str, List[Planned]] = {}
    for record in records:
        p = Planned(record.index, record.record_id, REJECTED)
        planned.append(p)
        if record.problem is not None:
            p.error = {**record.problem.to_dict(), "status": record.problem.status}
            continue
        payload = record.payload(run_options)
        if pin is not None:
            payload["options"] = {**(payload.get("options") or {}), "model": pin, "fallbacks": False}
        try:
            request = chain.parse(payload)
            alias, route, messages, max_tokens, est = _route(chain, request)
            model = chain.runtime.factory.chat_model(
                alias, max_tokens=max_tokens, temperature=request.options.temperature)
            body = _plain(model_input(model, messages, max_tokens))
        except _deps.ChainsError as exc:
            p.error = {**exc.to_dict(), "status": exc.status}
            continue
        p.alias, p.route, p.estimate_usd = alias, route, est
        p.line = dumps({"recordId": batch_record_id(record.index), "modelInput": body})
        groups.setdefault(alias, []).append(p)

    plan = Plan(records=len(planned), planned=planned)
    plan.rejected = [p.index for p in planned if p.mode == REJECTED and p.alias is None]
    for alias, members in groups.items():
        terms = terms_for(settings, alias)
        why = terms.why_not
        if why is None and len(members) < terms.min_records:
            why = (f"{len(members)} record(s) for {alias}: fewer than the {terms.min_records} a batch job needs; "
                   f"run on demand")
        elif why is not None:
            why += "; run on demand"
        if why is not None:
            plan.reasons[alias] = why
            for p in members:
                p.mode, p.reason, p.line = ON_DEMAND, why, None
                plan.on_demand.append(p.index)
                plan.estimate_usd += p.estimate_usd
                plan.on_demand_estimate_usd += p.estimate_usd
            continue
        for p in members:
            p.mode, p.reason = BATCH, f"batch job for {alias}"
            plan.estimate_usd += p.estimate_usd * terms.ratio
            plan.on_demand_estimate_usd += p.estimate_usd
        plan.jobs.extend(split_jobs(terms, members))
    plan.on_demand.sort()
    return plan


def split_jobs(terms: Terms, members: List[Planned]) -> List[JobPlan]:
    """As few jobs as the record and byte limits allow, of near-equal size."""
    total_bytes = sum(len(p.line.encode("utf-8")) + 1 for p in members)  # type: ignore[union-attr]
    count = max(-(-len(members) // terms.max_records), -(-total_bytes // terms.max_bytes), 1)
    jobs = []
    base, extra = divmod(len(members), count)
    start = 0
    for n in range(count):
        size = base + (1 if n < extra else 0)
        chunk = members[start:start + size]
        start += size
        jobs.append(JobPlan(terms.alias, terms.model_id, [p.index for p in chunk], [p.line for p in chunk]))  # type: ignore[misc]
    return jobs
