"""Bedrock Guardrails as an option: per chain (``chains.<name>.guardrail``) and per request
(``options.guardrail``), sent as Converse ``guardrailConfig``.

An intervention is the answer Bedrock gave (stopReason ``guardrail_intervened``, the guardrail's blocked
message as the output), not a model failure: it is returned with ``ok: true`` and never falls over to
another model (the same guardrail would block the same input there too). With ``trace: true`` the response
carries a summary of Bedrock's ``trace.guardrail`` (which policies matched, on input or output), never the
matched text itself.
Converse guardrailConfig: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_GuardrailConfiguration.html
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field

GUARDRAIL_INTERVENED = "guardrail_intervened"


class Guardrail(BaseModel):
    """``{id, version, trace}``: a guardrail id (or ARN) and version ("DRAFT" or a number)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=2048, pattern=r"^\S+$", description="Guardrail id or ARN.")
    version: str = Field(default="DRAFT", pattern=r"^(DRAFT|[1-9][0-9]{0,7})$",
                         description='Guardrail version: "DRAFT" or a number.')
    trace: bool = Field(default=False, description="Return a summary of the guardrail's assessments.")


def converse_config(g: Optional[Guardrail]) -> Optional[Dict[str, str]]:
    """The Converse ``guardrailConfig`` (langchain-aws ``ChatBedrockConverse(guardrail_config=...)``)."""
    if g is None:
        return None
    return {"guardrailIdentifier": g.id, "guardrailVersion": g.version,
            "trace": "enabled" if g.trace else "disabled"}


def _policies(assessment: Any) -> List[str]:
    """The names of the policies that took an action in one assessment (``wordPolicy``, ...)."""
    found = []
    for name, policy in (assessment or {}).items():
        if isinstance(policy, Mapping) and name.endswith("Policy") and _acted(policy):
            found.append(name)
    return sorted(found)


def _acted(node: Any) -> bool:
    if isinstance(node, Mapping):
        if str(node.get("action", "")).upper() not in ("", "NONE") and node.get("detected", True):
            return True
        return any(_acted(v) for v in node.values())
    if isinstance(node, list):
        return any(_acted(v) for v in node)
    return False


def summary(g: Guardrail, message: Any, stop_reason: Optional[str]) -> Dict[str, Any]:
    """``{id, version, action, assessments?}`` for the response; assessments only when trace is on."""
    out: Dict[str, Any] = {"id": g.id, "version": g.version,
                           "action": "INTERVENED" if (stop_reason or "").lower() == GUARDRAIL_INTERVENED
                           else "NONE"}
    if g.trace:
        trace = ((getattr(message, "response_metadata", None) or {}).get("trace") or {}).get("guardrail") or {}
        inputs = trace.get("inputAssessment") or {}
        outputs = trace.get("outputAssessments") or {}
        out["assessments"] = {
            "input": sorted({p for a in inputs.values() for p in _policies(a)}),
            "output": sorted({p for lst in outputs.values() for a in (lst or []) for p in _policies(a)}),
        }
    return out


def response_fields(request: Any, outcome: Any) -> Dict[str, Any]:
    """``{"guardrail": summary}`` when the request ran with a guardrail, else nothing."""
    g = getattr(request.options, "guardrail", None)
    return {"guardrail": summary(g, outcome.message, outcome.stop_reason)} if g is not None else {}
