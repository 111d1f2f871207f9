"""Which chains exist and a valid input for each: shared by the Runnable tests (sync and async).

Read from config.yaml and events/*.json at collection time, so a chain added to config.yaml is tested by every
Runnable test without editing them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from chains.config import DEFAULT_CONFIG_PATH, load_config

EVENTS = Path(__file__).resolve().parents[2] / "events"
SETTINGS = load_config(DEFAULT_CONFIG_PATH, env={})
CHAINS: List[str] = sorted(SETTINGS.chains)
SONNET_ID = SETTINGS.models["claude_sonnet"].model_id if "claude_sonnet" in SETTINGS.models else None
# The keys every chain's result has (strategies add their own).
BASE_KEYS = {"output", "model", "route", "attempts", "usage", "usage_by_model", "cost_usd", "latency_ms"}
CONTEXT = (
    "Amazon Bedrock offers foundation models from several providers. Amazon Nova is Amazon's own family of "
    "foundation models. Claude models come from Anthropic."
)


def _from_events() -> Dict[str, Dict[str, Any]]:
    found: Dict[str, Dict[str, Any]] = {}
    for path in sorted(EVENTS.glob("*.json")):
        if path.name.startswith("bad_"):
            continue
        try:
            event = json.loads(path.read_text())
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("chain"), str) and isinstance(event.get("input"), dict):
            found.setdefault(event["chain"], dict(event["input"]))
    return found


_EVENT_INPUTS = _from_events()


def sample_input(runtime: Any, name: str) -> Dict[str, Any]:
    """The input of the chain's sample event, or its prompt's required variables filled with sample text."""
    if name in _EVENT_INPUTS:
        return dict(_EVENT_INPUTS[name])
    from chains import get_chain

    prompt = get_chain(name, runtime).prompt()
    question = f"{CONTEXT} Which model family does Amazon Nova belong to?"
    return {
        var: [{"role": "user", "content": question}] if var in prompt.placeholders else question
        for var in prompt.required
    }


def input_fields(chain: Any) -> set:
    """The fields a chain's input takes: prompt variables, the strategy's extra inputs, options."""
    extra = getattr(chain.strategy, "extra_inputs", ())
    return set(chain.prompt().spec.input_variables) | set(extra) | {"options"}


def streams(chain: Any) -> bool:
    """Whether the chain's strategy streams (has ``stream``) rather than yielding one chunk."""
    return chain.strategy.stream is not None


def total(chunks: List[Dict[str, Any]]) -> Dict[str, Any]:
    out = chunks[0]
    for chunk in chunks[1:]:
        out = out + chunk
    return dict(out)
