"""``python handler.py --check [--ping]``: where calls would go, and whether each model answers.

Never prints a credential value: only where credentials come from.
"""

from __future__ import annotations

import os
from typing import Any, List, Tuple

from chains.errors import ChainsError, classify, to_model_error

HINTS = {
    "AccessDeniedException": "model access is not granted in this account/region: enable it in the Bedrock "
    "console (Model access), and check the IAM policy allows bedrock:InvokeModel",
    "ResourceNotFoundException": "this model id does not exist in this region: check the id and the region",
    "UnrecognizedClientException": "the credentials are not valid: check the access key",
    "ExpiredTokenException": "the session token has expired: refresh your credentials (e.g. aws sso login)",
    "NoCredentialsError": "no AWS credentials: set them, or use the local emulator (CHAINS_BACKEND=local)",
    "EndpointConnectionError": "the endpoint cannot be reached: check the region and the network",
    "ThrottlingException": "throttled: the model is reachable but at its quota; try again later",
}
_EOL_HINT = "this model id is retired (end of life) or invalid: pick a current model or an inference profile"


def hint_for(exc: BaseException) -> str:
    error_class, code = classify(exc)
    message = str(exc).lower()
    if "provided model identifier is invalid" in message:
        return _EOL_HINT
    if code and code in HINTS:
        return HINTS[code]
    name = type(exc).__name__
    if name in HINTS:
        return HINTS[name]
    if "could not connect" in message or "connect timeout" in message:
        return HINTS["EndpointConnectionError"]
    if "region" in message:
        return "no region or a wrong region: set AWS_REGION or region in config.yaml"
    return f"{error_class}: {code or name}"


def run_check(ping: bool = False, runtime: Any = None) -> Tuple[str, bool]:
    from chains.models import credential_source
    from chains.registry import build_runtime

    lines: List[str] = []
    ok = True
    try:
        runtime = runtime or build_runtime(notice=False)
    except ChainsError as exc:
        return f"configuration: ERROR {exc.message}", False
    settings, factory = runtime.settings, runtime.factory
    lines.append(f"backend:      {factory.backend} ({factory.backend_reason})")
    lines.append(f"region:       {settings.region}")
    lines.append(f"credentials:  {credential_source() or 'none found'}")
    endpoint = os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    if factory.backend == "local":
        endpoint = "in-process bedrock_local emulator (answers are emulated)"
    lines.append(f"endpoint:     {endpoint or f'https://bedrock-runtime.{settings.region}.amazonaws.com'}")
    prompt_errors = {k: v for k, v in runtime.prompts.validate_all().items() if v}
    lines.append(f"prompts:      {len(runtime.prompts.names())} file(s)" + (f", {len(prompt_errors)} invalid" if prompt_errors else ", all valid"))
    for name, err in prompt_errors.items():
        ok = False
        lines.append(f"  {name}: {err}")
    lines.append("models:")
    for alias, cfg in settings.models.items():
        line = f"  {alias:<14} {cfg.model_id}"
        if ping:
            status, detail = _ping(factory, alias)
            ok = ok and status
            line += f"  {'OK' if status else 'FAIL'} {detail}"
        lines.append(line)
    return "\n".join(lines), ok


def _ping(factory: Any, alias: str) -> Tuple[bool, str]:
    import time

    from langchain_core.messages import HumanMessage

    start = time.perf_counter()
    try:
        model = factory.chat_model(alias, max_tokens=1)
        model.invoke([HumanMessage("ping")])
    except Exception as exc:  # every failure becomes a plain-words hint
        err = to_model_error(exc)
        return False, f"({err.code or type(exc).__name__}) hint: {hint_for(exc)}"
    return True, f"{(time.perf_counter() - start) * 1000:.0f} ms"
