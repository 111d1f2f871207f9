"""Application inference profile ARNs configured as model ids: resolved once per container to their base model.

An application inference profile (``arn:aws:bedrock:<region>:<account>:application-inference-profile/<id>``)
is the account's own copy of a foundation model or a system profile (cost tags, quotas). The static catalogue
cannot know it, so its base model comes from Bedrock: ``GetInferenceProfile`` on the control plane, whose
``models[].modelArn`` are the foundation-model ARNs the profile routes to (one base model, possibly in several
regions). https://docs.aws.amazon.com/bedrock/latest/APIReference/API_GetInferenceProfile.html

``chains.registry.build_runtime`` calls ``resolve_bases`` once per runtime (one per container) and loads the
configuration again with the answers: the base model's catalogue figures then apply (config.yaml still wins),
while calls still go to the ARN as given.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

from chains.errors import ConfigError

APPLICATION_MARK = ":application-inference-profile/"


def is_application_profile(model_id: str) -> bool:
    return APPLICATION_MARK in str(model_id or "")


def base_model_id(model_arn: str) -> str:
    """``arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-...`` -> ``anthropic.claude-...``."""
    return str(model_arn).rsplit("foundation-model/", 1)[-1]


def resolve_bases(arns: Iterable[str], control_client: Any) -> Dict[str, str]:
    """``{profile ARN: base model id}`` through one ``GetInferenceProfile`` per distinct ARN."""
    bases: Dict[str, str] = {}
    for arn in dict.fromkeys(arns):
        try:
            answer = control_client.get_inference_profile(inferenceProfileIdentifier=arn)
        except Exception as exc:  # botocore ClientError / connection: the configuration cannot be used
            code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
            raise ConfigError(f"application inference profile '{arn[:200]}' could not be resolved "
                              f"(GetInferenceProfile: {code}: {str(exc)[:200]})") from None
        models = [m.get("modelArn", "") for m in answer.get("models") or []]
        if not models:
            raise ConfigError(f"application inference profile '{arn[:200]}' names no model")
        bases[arn] = base_model_id(models[0])
    return bases


def invoked_model_id(response_metadata: Any) -> Optional[str]:
    """The model a Bedrock prompt router picked, from the Converse answer's ``trace.promptRouter.invokedModelId``
    (langchain-aws 1.9.1 keeps the whole Converse response but ``output`` / ``usage`` as the message's
    ``response_metadata``; in a stream it comes with the ``metadata`` event). Bedrock gives the ARN of the
    invoked model or its inference profile; we return its last part (``us.anthropic.claude-...``), the id
    the rest of the response uses. None for a call that was not routed.
    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_PromptRouterTrace.html"""
    if not isinstance(response_metadata, dict):
        return None
    trace = response_metadata.get("trace")
    router = trace.get("promptRouter") if isinstance(trace, dict) else None
    invoked = router.get("invokedModelId") if isinstance(router, dict) else None
    return str(invoked).rsplit("/", 1)[-1] if invoked else None


def is_prompt_router(model_id: str) -> bool:
    return ":default-prompt-router/" in str(model_id or "") or ":prompt-router/" in str(model_id or "")
