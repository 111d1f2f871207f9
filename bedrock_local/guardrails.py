"""Guardrails: blocked words and regex patterns, defined in the emulator's configuration.

Configuration (``Emulator(guardrails=[...])``, ``python -m bedrock_local --guardrails FILE`` or
``BEDROCK_LOCAL_GUARDRAILS``: a JSON/YAML list, or a path to a .json/.yaml file)::

    - id: gr1abc                       # [a-z0-9]+ as Bedrock's identifiers; an ARN ending in
      version: "1"                     #   guardrail/<id> names it too. DRAFT always exists.
      blocked_words: [bitcoin, "insider trading"]
      blocked_patterns:                # regex filters (sensitiveInformationPolicy.regexes)
        - {name: account, regex: "ACC-\\d{6}"}
      blocked_input_messaging: Sorry, I cannot answer that.
      blocked_outputs_messaging: Sorry, the answer was blocked.

camelCase keys (``blockedInputMessaging``, ``blockedOutputsMessaging``, ``blockedWords``,
``blockedPatterns``) are accepted as well.

Behaviour (https://docs.aws.amazon.com/bedrock/latest/userguide/guardrails-use-converse-api.html):
the guardrail checks the input (only the ``guardContent`` blocks when a request has any,
otherwise every message text) and then the model's output.  On intervention the answer is the
blocked message, ``stopReason`` is ``guardrail_intervened``, and with ``guardrailConfig.trace``
``enabled`` (or ``enabled_full``) the response carries ``trace.guardrail`` with
``inputAssessment`` / ``outputAssessments`` keyed by guardrail id.
An identifier or version that does not exist: 400 "The provided guardrail identifier is
invalid." (observed against real Bedrock, openclaw/openclaw PR 58588).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import validation

ENV_VAR = "BEDROCK_LOCAL_GUARDRAILS"
INVALID = "The provided guardrail identifier is invalid."
DEFAULT_INPUT_MESSAGE = "Sorry, the model cannot answer this question."
DEFAULT_OUTPUT_MESSAGE = "Sorry, the model cannot answer this question."


@dataclass(frozen=True)
class Guardrail:
    id: str
    versions: tuple[str, ...] = ("DRAFT", "1")
    blocked_words: tuple[str, ...] = ()
    blocked_patterns: tuple[tuple[str, str], ...] = ()  # (name, regex)
    blocked_input_messaging: str = DEFAULT_INPUT_MESSAGE
    blocked_outputs_messaging: str = DEFAULT_OUTPUT_MESSAGE
    _compiled: tuple = field(default=(), compare=False, repr=False)

    def assess(self, texts: Iterable[str]) -> dict[str, Any] | None:
        """The matched policies as a GuardrailAssessment, or None when nothing matched."""
        words, regexes = [], []
        joined = "\n".join(texts)
        for word in self.blocked_words:
            if re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", joined, re.I):
                words.append({"match": word, "action": "BLOCKED", "detected": True})
        for (name, pattern), rx in zip(self.blocked_patterns, self._compiled):
            m = rx.search(joined)
            if m:
                regexes.append({"name": name, "match": m.group(0), "regex": pattern,
                                "action": "BLOCKED", "detected": True})
        if not words and not regexes:
            return None
        out: dict[str, Any] = {}
        if words:
            out["wordPolicy"] = {"customWords": words, "managedWordLists": []}
        if regexes:
            out["sensitiveInformationPolicy"] = {"piiEntities": [], "regexes": regexes}
        return out


def guardrail_from_dict(raw: Mapping[str, Any]) -> Guardrail:
    def pick(*names: str, default: Any = None) -> Any:
        for n in names:
            if n in raw:
                return raw[n]
        return default

    gid = str(pick("id", "guardrailId", "guardrailIdentifier", default="")).strip()
    if not re.fullmatch(r"[a-z0-9]+", gid):
        raise ValueError(f"guardrail id must match [a-z0-9]+ (as on Bedrock); got {gid[:60]!r}")
    version = pick("version", "versions", default="1")
    versions = [str(v) for v in (version if isinstance(version, (list, tuple)) else [version])]
    patterns = []
    for p in pick("blocked_patterns", "blockedPatterns", default=[]) or []:
        if isinstance(p, str):
            patterns.append((p, p))
        else:
            patterns.append((str(p.get("name") or p.get("regex")), str(p["regex"])))
    compiled = tuple(re.compile(rx) for _, rx in patterns)
    return Guardrail(
        gid, tuple(dict.fromkeys(["DRAFT", *versions])),
        tuple(str(w) for w in pick("blocked_words", "blockedWords", default=[]) or []),
        tuple(patterns),
        str(pick("blocked_input_messaging", "blockedInputMessaging", default=DEFAULT_INPUT_MESSAGE)),
        str(pick("blocked_outputs_messaging", "blockedOutputsMessaging",
                 default=DEFAULT_OUTPUT_MESSAGE)),
        compiled)


def load(source: Any) -> list[Guardrail]:
    """Guardrails from a list of dicts, a JSON/YAML text, or a path to a .json/.yaml file."""
    if source is None or source == "":
        return []
    if isinstance(source, (str, Path)) and not str(source).lstrip().startswith(("[", "{", "-")):
        text = Path(source).read_text(encoding="utf-8")
    elif isinstance(source, (str, Path)):
        text = str(source)
    else:
        text = None
    data = source
    if text is not None:
        try:
            data = json.loads(text)
        except ValueError:
            import yaml  # a dependency of the service; only needed for YAML guardrail files

            data = yaml.safe_load(text)
    if isinstance(data, Mapping):
        if "guardrails" in data:
            data = data["guardrails"]
        elif "id" in data:
            data = [data]
        else:  # {id: definition}, as Emulator(guardrails=...) also takes
            data = [{**(v if isinstance(v, Mapping) else {}), "id": k} for k, v in data.items()]
    return [g if isinstance(g, Guardrail) else guardrail_from_dict(g) for g in data or []]


def from_env() -> list[Guardrail]:
    return load(os.environ.get(ENV_VAR, "").strip() or None)


class GuardrailSet(dict):
    """Guardrail id -> Guardrail.  A plain dict value (``emu.guardrails["abc"] = {...}``) is a
    definition too; request_fields.check_guardrail tests ids with ``in``."""

    def __init__(self, guardrails: Iterable[Guardrail | Mapping[str, Any]] = ()):
        super().__init__()
        for g in guardrails:
            g = g if isinstance(g, Guardrail) else guardrail_from_dict(g)
            self[g.id] = g

    def resolve(self, config: Mapping[str, Any]) -> Guardrail:
        ident = str(config.get("guardrailIdentifier") or "")
        ident = ident.rsplit("guardrail/", 1)[-1] if ident.startswith("arn:") else ident
        g = self.get(ident)
        if g is not None and not isinstance(g, Guardrail):
            g = guardrail_from_dict({**(g if isinstance(g, Mapping) else {}), "id": ident})
        if g is None or str(config.get("guardrailVersion") or "") not in g.versions:
            raise validation(INVALID)
        return g


# --------------------------------------------------------------------------- request side
def input_texts(request: Mapping[str, Any]) -> list[str]:
    """What the guardrail evaluates: guardContent blocks if there are any, else message texts."""
    guarded, plain = [], []
    for block in request.get("system") or []:
        if isinstance(block, Mapping) and "guardContent" in block:
            guarded.append(((block["guardContent"].get("text") or {}).get("text")) or "")
    for msg in request.get("messages") or []:
        for block in msg.get("content") or []:
            if "guardContent" in block:
                guarded.append(((block["guardContent"].get("text") or {}).get("text")) or "")
            elif isinstance(block.get("text"), str):
                plain.append(block["text"])
    return guarded if guarded else plain


def output_texts(blocks: list[Mapping[str, Any]]) -> list[str]:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), str):
            out.append(b["text"])
        for item in (b.get("citationsContent") or {}).get("content") or []:
            out.append(item.get("text") or "")
        if "toolUse" in b:
            out.append(json.dumps(b["toolUse"].get("input"), ensure_ascii=False))
    return out


def _metrics(texts: list[str]) -> dict[str, Any]:
    chars = sum(len(t) for t in texts)
    units = max(1, -(-chars // 1000)) if chars else 0
    return {"guardrailProcessingLatency": 1,
            "usage": {"topicPolicyUnits": 0, "contentPolicyUnits": 0, "wordPolicyUnits": units,
                      "sensitiveInformationPolicyUnits": units,
                      "sensitiveInformationPolicyFreeUnits": 0, "contextualGroundingPolicyUnits": 0},
            "guardrailCoverage": {"textCharacters": {"guarded": chars, "total": chars}}}


@dataclass
class Verdict:
    """The guardrail's findings for one call."""
    guardrail: Guardrail
    trace: bool
    input_assessment: dict[str, Any] | None = None
    output_assessment: dict[str, Any] | None = None
    input_texts: list[str] = field(default_factory=list)
    output_texts: list[str] = field(default_factory=list)
    checked_output: bool = False

    @property
    def intervened(self) -> bool:
        return self.input_assessment is not None or self.output_assessment is not None

    def trace_body(self) -> dict[str, Any] | None:
        """``trace.guardrail`` as Bedrock returns it when trace is enabled."""
        if not self.trace:
            return None
        gid = self.guardrail.id
        body: dict[str, Any] = {"inputAssessment": {
            gid: {**(self.input_assessment or {}), "invocationMetrics": _metrics(self.input_texts)}}}
        if self.checked_output:
            body["outputAssessments"] = {gid: [
                {**(self.output_assessment or {}), "invocationMetrics": _metrics(self.output_texts)}]}
        if self.intervened:
            body["actionReason"] = "Guardrail blocked."
        return body


def check_input(guards: GuardrailSet, request: Mapping[str, Any]) -> Verdict | None:
    cfg = request.get("guardrailConfig")
    if not isinstance(cfg, Mapping) or not cfg:
        return None
    g = guards.resolve(cfg)
    texts = input_texts(request)
    return Verdict(g, str(cfg.get("trace") or "disabled") in ("enabled", "enabled_full"),
                   input_assessment=g.assess(texts), input_texts=texts)


def check_output(verdict: Verdict, blocks: list[Mapping[str, Any]]) -> None:
    texts = output_texts(blocks)
    verdict.output_texts, verdict.checked_output = texts, True
    verdict.output_assessment = verdict.guardrail.assess(texts)
