"""The run manifest: everything a bulk run is, as one JSON object in S3 (``RUN/manifest.json``).

It names the chain and options, the record ids by position, and the run's *parts* in collect order:
``rejected`` (records the chain refused), ``on_demand`` chunks, and one part per batch job (job name, ARN,
model, the record indices it holds, its last known status). A part is marked ``collected`` once its results
object is in S3; a collector that is killed and restarted reads the manifest, skips what is collected, never
submits a job that has an ARN, and rewrites a part's results object whole (same key), so no record is lost or
duplicated. ``retries`` lists parts that re-ran failed records on demand; their results supersede the earlier
ones for those records.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from chains.bulk.store import RunStore

VERSION = 1
MANIFEST = "manifest.json"
# Job states after which nothing changes ("NotCreated": the create call itself was refused).
TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired", "NotCreated")
ON_DEMAND_CHUNK = 500  # on-demand records per results part (the unit a restarted collector redoes at most)


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def load(store: RunStore) -> Dict[str, Any]:
    return store.get_json(MANIFEST)


def save(store: RunStore, manifest: Dict[str, Any]) -> None:
    manifest["updated"] = now()
    store.put_json(MANIFEST, {k: v for k, v in manifest.items() if not k.startswith("_")})


def results_key(part: Dict[str, Any]) -> str:
    return f"results/{part['name']}.jsonl"


def batch_parts(manifest: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [p for p in manifest["parts"] if p["kind"] == "batch"]


def part_done(part: Dict[str, Any]) -> bool:
    return part["kind"] != "batch" or part.get("status") in TERMINAL


@dataclass
class Run:
    """A handle on a run: its S3 URI (what ``status``/``collect`` take) and what submit planned."""

    uri: str
    chain: str
    run_id: str
    plan: Dict[str, Any]
    jobs: List[Dict[str, Any]]
    kind: str = "bulk"
    # The runtime that submitted it (not serialised): status/collect reuse its clients and emulator.
    runtime: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def from_manifest(cls, manifest: Dict[str, Any], runtime: Any = None) -> "Run":
        return cls(manifest["run"], manifest["chain"], manifest["run_id"], manifest.get("plan") or {},
                   [job_view(p) for p in batch_parts(manifest)], manifest.get("kind", "bulk"), runtime)

    def to_dict(self) -> Dict[str, Any]:
        return {"run": self.uri, "chain": self.chain, "run_id": self.run_id, "kind": self.kind,
                **self.plan, "job_list": self.jobs}


def job_view(part: Dict[str, Any]) -> Dict[str, Any]:
    return {k: part.get(k) for k in ("name", "alias", "model_id", "arn", "status", "message", "records")
            if part.get(k) is not None}


def counts(manifest: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    return manifest.get("summary")
