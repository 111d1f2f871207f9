"""Shared helpers for the observability tests: read what was printed back as log lines and EMF documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA = "us.amazon.nova-pro-v1:0"


def load_event(name: str) -> Dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def config_with(**sections: Any) -> Dict[str, Any]:
    """config.yaml as a dict, with some top-level sections replaced (e.g. observability=...)."""
    data = yaml.safe_load((ROOT / "config.yaml").read_text())
    data.update(sections)
    return data


def split_output(text: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]], List[str]]:
    """(JSON log lines, EMF documents, other lines) from captured stdout/stderr text."""
    logs, emf, other = [], [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        if isinstance(doc, dict) and "_aws" in doc:
            emf.append(doc)
        elif isinstance(doc, dict) and "level" in doc:
            logs.append(doc)
        else:
            other.append(line)
    return logs, emf, other


def events(logs: List[Dict[str, Any]]) -> List[str]:
    return [line.get("event") for line in logs if line.get("event")]


def metric_values(doc: Dict[str, Any]) -> Dict[str, Any]:
    """{metric name: value} of one EMF document (Powertools writes a list of values per metric)."""
    names = [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return {n: doc[n][0] if isinstance(doc[n], list) and len(doc[n]) == 1 else doc[n] for n in names}


def emf_for(emf: List[Dict[str, Any]], model: str) -> Dict[str, Any]:
    found = [d for d in emf if d.get("model") == model]
    assert len(found) == 1, f"expected one EMF document for {model}, got {len(found)}: {emf}"
    return found[0]
